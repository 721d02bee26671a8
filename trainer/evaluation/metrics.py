"""Per-class IoU and mIoU from a confusion matrix, as mmseg's ``mean_iou`` (spec: Task).

The confusion matrix is accumulated on the device with one ``bincount`` per image (pixels labelled
255 are left out). IoU_c = TP / (TP + FP + FN); a class absent from both ground truth and
prediction has 0/0 = NaN and is left out of the mean (mmseg's ``nanmean``). The mean runs over the
evaluation classes only (16 for SYNTHIA -> Cityscapes).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

IGNORE = 255


def confusion_matrix(pred: torch.Tensor, label: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(K, K) int64 counts, rows = ground truth, columns = prediction, ignoring label 255."""
    valid = label != IGNORE
    index = label[valid].long() * num_classes + pred[valid].long()
    return torch.bincount(index, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def iou_per_class(confusion: torch.Tensor) -> torch.Tensor:
    """IoU of every class (float64), NaN where ground truth and prediction both lack the class."""
    confusion = confusion.double()
    intersection = confusion.diag()
    union = confusion.sum(dim=0) + confusion.sum(dim=1) - intersection
    return intersection / union  # 0/0 -> NaN


def mean_iou(iou: Sequence[float] | torch.Tensor, classes: Sequence[int]) -> float:
    """Mean of ``iou`` over ``classes``, NaN entries skipped; NaN when every entry is NaN."""
    values = [float(iou[c]) for c in classes]
    present = [v for v in values if not math.isnan(v)]
    return sum(present) / len(present) if present else math.nan
