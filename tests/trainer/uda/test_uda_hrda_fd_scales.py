"""FD on both HRDA scales (``model.hrda.fd_scales='all'``), the reference's ``feature_scale='all'``.

lhoyer/HRDA ``experiments.py`` sets it when the outer crop equals the detail crop and FD is on (Table 3,
LR0.5+HR0.5); ``dacs.py`` then takes the last-stage features of the context AND the detail pass, the
frozen ImageNet encoder on the crop resized by the context scale and on the same detail box, the label
cut by that box for the detail scale, and SUMS the two distances before lambda_FD.
"""

from __future__ import annotations

import torch
from uda_tiny import batches, tiny_config, tiny_segmentor

from trainer.models import wrap_hrda
from trainer.models.hrda import resize_by
from trainer.uda import UDAStep
from trainer.uda.feature_distance import feature_distance_loss
from trainer.uda.hrda_losses import crop_box


def _step(fd_scales: str, hr_crop: int) -> UDAStep:
    hrda = {"enabled": True, "hr_crop_size": [hr_crop, hr_crop], "fd_scales": fd_scales}
    cfg = tiny_config(model={"hrda": hrda}, data={"crop_size": [64, 64]})
    student = wrap_hrda(tiny_segmentor(), hr_crop_size=(hr_crop, hr_crop), attention_channels=16)
    step = UDAStep(cfg, student, torch.device("cpu"))
    with torch.no_grad():  # move the student away from the frozen copy of its initial encoder
        for param in step.student.encoder.parameters():
            param.add_(0.01)
    return step


def _quadrant_label() -> dict[str, torch.Tensor]:
    """Thing class 2 on the top-left 32x32 quadrant, stuff class 0 elsewhere (both images)."""
    src, _ = batches(64)
    src["label"][:] = 0
    src["label"][:, :32, :32] = 2
    return src


def test_fd_on_both_scales_adds_the_detail_distance_on_the_detail_grid() -> None:
    src = _quadrant_label()
    # context: 64 crop -> 32 input -> a 1x1 grid (label factor 64): class 0 holds 3/4 >= 0.75, no thing
    # cell, so L_FD(context) = 0 exactly; detail (outer crop = detail crop = 64): a 2x2 grid (factor 32)
    # whose top-left cell is class 2, one thing cell per image.
    context_only = _step("context", 64)
    _, fd = context_only.source_losses(src["img"], src["label"])
    assert fd.item() == 0.0

    step = _step("all", 64)
    assert step.hrda is not None and step.frozen_encoder is not None
    state = step.generator.get_state()
    _, fd = step.source_losses(src["img"], src["label"])
    step.generator.set_state(state)
    box = step.hrda.draw_box((64, 64), step.generator)
    assert box == (0, 64, 0, 64)  # the detail crop is the whole crop: no draw
    out = step.hrda.forward_train(src["img"], box)
    with torch.no_grad():
        frozen_context = step.frozen_encoder(resize_by(src["img"], 0.5))[-1]
        frozen_detail = step.frozen_encoder(src["img"])[-1]
    assert out.context_features[-1].shape[-2:] == (1, 1) and out.detail_features[-1].shape[-2:] == (2, 2)
    context = feature_distance_loss(out.context_features[-1], frozen_context, src["label"], 4, (2, 3), 0.75)
    assert context.item() == 0.0
    distance = torch.linalg.vector_norm(out.detail_features[-1] - frozen_detail, dim=1)  # (2, 2, 2)
    by_hand = distance[:, 0, 0].mean()  # the two top-left cells, one per image
    assert fd.item() > 0 and torch.allclose(fd, 0.005 * by_hand, rtol=1e-5)


def test_fd_on_both_scales_cuts_the_label_with_the_detail_box() -> None:
    src = _quadrant_label()
    step = _step("all", 32)  # a 32 detail box in the 64 crop: the detail grid is 1x1, label factor 32
    assert step.hrda is not None and step.frozen_encoder is not None
    state = step.generator.get_state()
    _, fd = step.source_losses(src["img"], src["label"])
    step.generator.set_state(state)
    box = step.hrda.draw_box((64, 64), step.generator)
    out = step.hrda.forward_train(src["img"], box)
    with torch.no_grad():
        frozen_context = step.frozen_encoder(resize_by(src["img"], 0.5))[-1]
        frozen_detail = step.frozen_encoder(crop_box(src["img"], box))[-1]
    context = feature_distance_loss(out.context_features[-1], frozen_context, src["label"], 4, (2, 3), 0.75)
    detail = feature_distance_loss(
        out.detail_features[-1], frozen_detail, crop_box(src["label"], box), 4, (2, 3), 0.75
    )
    assert torch.allclose(fd, 0.005 * (context + detail), rtol=1e-6)
