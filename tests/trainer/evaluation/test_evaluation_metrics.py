"""Confusion matrix, per-class IoU and mIoU against hand counts (mmseg semantics)."""

import math

import pytest
import torch

from trainer.evaluation import confusion_matrix, iou_per_class, mean_iou, summarise


def test_confusion_ignores_255_and_counts_rows_as_ground_truth() -> None:
    label = torch.tensor([[0, 0, 1, 255]])
    pred = torch.tensor([[0, 1, 1, 2]])
    conf = confusion_matrix(pred, label, 3)
    assert conf.tolist() == [[1, 1, 0], [0, 1, 0], [0, 0, 0]]


def test_iou_and_nan_mean() -> None:
    conf = torch.tensor([[1, 1, 0], [0, 1, 0], [0, 0, 0]])
    iou = iou_per_class(conf)
    # class 0: 1 / (2 + 1 - 1) = 0.5; class 1: 1 / (2 + 1 - 1) = 0.5; class 2: 0/0
    assert iou[0].item() == pytest.approx(0.5) and iou[1].item() == pytest.approx(0.5)
    assert math.isnan(iou[2].item())
    assert mean_iou(iou, [0, 1, 2]) == pytest.approx(0.5)
    assert mean_iou(iou, [1]) == pytest.approx(0.5)
    assert math.isnan(mean_iou(iou, [2]))


def test_predicted_but_absent_class_counts_as_zero() -> None:
    conf = confusion_matrix(torch.tensor([2, 0]), torch.tensor([0, 0]), 3)
    iou = iou_per_class(conf)
    assert iou[2].item() == 0.0
    assert mean_iou(iou, [0, 1, 2]) == pytest.approx(0.25)  # (0.5 + 0) / 2, class 1 NaN


def test_summarise_reports_percent_by_name_over_eval_classes() -> None:
    conf = torch.zeros(19, 19, dtype=torch.int64)
    conf[0, 0], conf[0, 1], conf[13, 13] = 3, 1, 4
    result = summarise(conf, eval_classes=[0, 1, 13])
    assert result.per_class_iou == pytest.approx({"road": 75.0, "sidewalk": 0.0, "car": 100.0})
    assert result.miou == pytest.approx(175.0 / 3)
