"""EMA, pseudo-label weight, FD, ClassMix and loss maths against hand-computed numbers."""

import math

import pytest
import torch
from timm.layers import DropPath
from torch import nn

from trainer.uda.classmix import class_mask, mix
from trainer.uda.ema import ema_factor, set_teacher_mode, update_teacher
from trainer.uda.feature_distance import downscale_label_ratio, feature_distance_loss, masked_feature_distance
from trainer.uda.losses import pixel_cross_entropy
from trainer.uda.pseudo_label import pixel_weight, pseudo_labels


def test_ema_factor() -> None:
    assert ema_factor(0, 0.999) == 0.0
    assert ema_factor(1, 0.999) == 0.5
    assert ema_factor(9, 0.999) == pytest.approx(0.9)
    assert ema_factor(10_000, 0.999) == 0.999
    assert ema_factor(99, 0.99) == pytest.approx(0.99)


def _bn_net(value: float) -> nn.Sequential:
    net = nn.Sequential(nn.Linear(1, 1, bias=False), nn.BatchNorm1d(1), nn.Dropout(0.5), DropPath(0.5))
    with torch.no_grad():
        net[0].weight.fill_(value)
        net[1].running_mean.fill_(value)
    return net


def test_update_teacher_averages_parameters_not_buffers() -> None:
    teacher, student = _bn_net(1.0), _bn_net(3.0)
    update_teacher(teacher, student, iteration=1, alpha=0.999)  # a = 0.5
    assert teacher[0].weight.item() == pytest.approx(2.0)
    assert teacher[1].running_mean.item() == 1.0
    update_teacher(teacher, student, iteration=0, alpha=0.999)  # iteration 0 copies
    assert teacher[0].weight.item() == 3.0


def test_teacher_mode_disables_dropout_and_drop_path_only() -> None:
    teacher = _bn_net(1.0)
    set_teacher_mode(teacher)
    assert teacher[1].training and not teacher[2].training and not teacher[3].training


def test_pseudo_weight_is_the_confident_share_of_the_batch() -> None:
    # two classes, logits (0, x): confidence sigmoid(|x|); 4 -> 0.982, 1 -> 0.731
    x = torch.tensor([[[4.0, -4.0]], [[4.0, 1.0]]])  # (B=2, H=1, W=2)
    logits = torch.stack((torch.zeros_like(x), x), dim=1)
    label, weight = pseudo_labels(logits, threshold=0.968)
    assert label.tolist() == [[[1, 0]], [[1, 1]]]
    assert weight.dim() == 0 and weight.item() == pytest.approx(0.75)


def test_pl_crop_zeroes_top_and_bottom_rows() -> None:
    w = pixel_weight(torch.tensor(0.5), (1, 5, 2), crop_top=1, crop_bottom=2)
    assert w[0, :, 0].tolist() == [0.0, 0.5, 0.5, 0.0, 0.0]
    assert torch.all(pixel_weight(torch.tensor(0.5), (2, 5, 2), 0, 0) == 0.5)


def test_downscale_label_ratio_majority_and_ignore() -> None:
    label = torch.tensor([[[0, 0, 1, 1], [0, 1, 2, 2], [255, 255, 2, 2], [255, 0, 2, 2]]])
    small = downscale_label_ratio(label, scale_factor=2, min_ratio=0.75, num_classes=3)
    # blocks: {0,0,0,1} -> 0 (0.75); {1,1,2,2} -> tie 0.5 -> 255; {255x3, 0} -> ignore; {2x4} -> 2
    assert small.tolist() == [[[0, 255], [255, 2]]]


def test_feature_distance_masked_mean() -> None:
    student = torch.tensor([[[[3.0, 0.0], [6.0, 0.0]], [[4.0, 1.0], [8.0, 0.0]]]])  # (1, 2, 2, 2)
    frozen = torch.zeros_like(student)  # distances per cell: [[5, 1], [10, 0]]
    label = torch.tensor(
        [[[0, 0, 1, 1], [0, 1, 2, 2], [255, 255, 2, 2], [255, 0, 2, 2]]]
    )  # -> [[0,255],[255,2]]
    assert feature_distance_loss(student, frozen, label, 3, [0, 2], 0.75).item() == pytest.approx(2.5)
    assert feature_distance_loss(student, frozen, label, 3, [1], 0.75).item() == 0.0
    assert feature_distance_loss(student, frozen, label, 3, None, 0.75).item() == pytest.approx(4.0)
    assert masked_feature_distance(student, frozen, torch.zeros(1, 2, 2, dtype=torch.bool)).item() == 0.0


def test_class_mask_takes_half_the_classes_rounded_up_never_ignore() -> None:
    label = torch.tensor([[0, 0, 3], [5, 255, 3]])
    gen = torch.Generator().manual_seed(0)
    for _ in range(10):
        mask = class_mask(label, gen)
        chosen = set(label[mask.bool()].tolist())
        assert len(chosen) == 2 and 255 not in chosen  # ceil(3 / 2)
        assert torch.equal(mask.bool(), torch.isin(label, torch.tensor(sorted(chosen))))
    again = class_mask(label, torch.Generator().manual_seed(0))
    assert torch.equal(again, class_mask(label, torch.Generator().manual_seed(0)))
    assert class_mask(torch.full((2, 2), 255), gen).sum() == 0


def test_mix_images_labels_and_weights() -> None:
    mask = torch.tensor([[[1.0, 0.0]]])
    img = mix(mask, torch.full((1, 3, 1, 2), 2.0), torch.full((1, 3, 1, 2), -1.0))
    assert img[0, :, 0].tolist() == [[2.0, -1.0]] * 3
    assert mix(mask, torch.tensor([[[7, 7]]]), torch.tensor([[[1, 1]]])).tolist() == [[[7, 1]]]
    assert mix(mask, torch.ones(1, 1, 2), torch.full((1, 1, 2), 0.3)).flatten().tolist() == pytest.approx(
        [1.0, 0.3]
    )


def test_cross_entropy_averages_over_all_pixels_including_ignored() -> None:
    logits = torch.zeros(1, 2, 1, 1)  # upsampled to the label: CE = ln 2 everywhere
    label = torch.tensor([[[0, 255], [1, 1]]])
    assert pixel_cross_entropy(logits, label).item() == pytest.approx(3 * math.log(2) / 4)
    weight = torch.tensor([[[0.5, 1.0], [0.0, 1.0]]])
    assert pixel_cross_entropy(logits, label, weight).item() == pytest.approx(1.5 * math.log(2) / 4)
