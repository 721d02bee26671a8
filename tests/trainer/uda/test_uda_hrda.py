"""HRDA inside the UDA step: loss weighting, FD on the context pass, slide pseudo-labels, MIC(HRDA)."""

from __future__ import annotations

import math

import pytest
import torch
from uda_tiny import batches, tiny_config, tiny_segmentor

from trainer.models import HRDAOutput, wrap_hrda
from trainer.models.hrda import resize_by
from trainer.uda import UDAStep
from trainer.uda.feature_distance import feature_distance_loss
from trainer.uda.hrda_losses import crop_box, hrda_loss


def test_loss_is_nine_tenths_fused_plus_one_tenth_detail_on_the_cropped_label() -> None:
    # fused logits (0, 0): CE ln 2 on every labelled pixel; detail logits (0, ln 3): p(1) = 3/4
    label = torch.ones(1, 8, 8, dtype=torch.long)
    label[0, 0, :] = 255  # 8 ignored pixels: zero loss, still in the mean
    fused = torch.zeros(1, 2, 8, 8)
    detail = torch.stack([torch.zeros(4, 4), torch.full((4, 4), math.log(3.0))]).unsqueeze(0)
    box = (0, 4, 4, 8)  # rows 0-3, cols 4-7 of the label: 4 of its 16 pixels are ignored
    out = HRDAOutput(fused, fused, detail, box, [])
    loss = hrda_loss(out, label, None, hr_loss_weight=0.1)
    assert loss.fused.item() == pytest.approx(0.9 * math.log(2) * 56 / 64)
    assert loss.detail.item() == pytest.approx(0.1 * -math.log(0.75) * 12 / 16)
    assert loss.context.item() == 0.0 and loss.total().item() == pytest.approx((loss.fused + loss.detail).item())
    weight = torch.full((1, 8, 8), 0.5)
    weight[..., 4:] = 0.0  # the detail box sees only the zero half of the weight
    assert hrda_loss(out, label, weight, 0.1).detail.item() == 0.0
    assert crop_box(weight, box).shape == (1, 4, 4)
    assert hrda_loss(out, label, None, 0.1).total(fused_lambda=2.0).item() == pytest.approx(
        (2 * loss.fused + loss.detail).item()
    )


def _hrda_step(**uda: object) -> UDAStep:
    cfg = tiny_config(model={"hrda": {"enabled": True, "hr_crop_size": [32, 32]}}, uda=uda)
    student = wrap_hrda(tiny_segmentor(), hr_crop_size=(32, 32), attention_channels=16)
    return UDAStep(cfg, student, torch.device("cpu"))


def test_hrda_step_pseudo_labels_come_from_the_sliding_teacher() -> None:
    step = _hrda_step()
    assert step.hrda is not None and step.teacher is not None
    _, tgt = batches(64)
    pseudo, _ = step.pseudo_label(tgt["img"])
    with torch.no_grad():
        logits = step.teacher(tgt["img"])  # (2, K, 16, 16): context fused with 3x3 detail windows
    assert logits.shape == (2, 4, 16, 16) and len(step.teacher.slide_windows((64, 64))) == 9
    up = torch.nn.functional.interpolate(logits, size=(64, 64), mode="bilinear", align_corners=False)
    assert torch.equal(pseudo, up.argmax(1))
    head_group = next(g for g in step.optimizer.param_groups if g["name"] == "head")
    attention = {id(p) for p in step.hrda.scale_attention.parameters()}  # type: ignore[union-attr]
    assert attention <= {id(p) for p in head_group["params"]}  # lr x 10 like every head parameter


def test_hrda_and_mic_hrda_iterations_draw_one_box_per_pass() -> None:
    src, tgt = batches(64)
    for mic, passes in ((False, 2), (True, 3)):  # source + mixed (+ MIC's masked pass)
        step = _hrda_step(mic={"enabled": mic, "mask_block_size": 16})
        boxes: list[tuple[int, ...]] = []
        original = step.hrda.forward_train  # type: ignore[union-attr]

        def record(img: torch.Tensor, box: tuple[int, int, int, int], _orig=original, _seen=boxes) -> HRDAOutput:  # noqa: ANN001
            _seen.append(box)
            return _orig(img, box)

        step.hrda.forward_train = record  # type: ignore[union-attr,method-assign]
        losses = step(0, src, tgt)
        assert len(boxes) == passes
        assert all(b[0] % 8 == 0 and b[2] % 8 == 0 and b[1] - b[0] == b[3] - b[2] == 32 for b in boxes)
        assert torch.isfinite(losses["total"]) and ("mic_ce" in losses) == mic


def test_hrda_fd_compares_the_context_features_with_the_frozen_encoder_on_the_resized_crop() -> None:
    step = _hrda_step()
    assert step.hrda is not None and step.frozen_encoder is not None
    src, _ = batches(64)
    src["label"][0] = 2  # image 0: one 64x64 cell of thing class 2 (kept); image 1: mixed (ignored)
    with torch.no_grad():  # move the student away from the frozen copy of its initial encoder
        for param in step.student.encoder.parameters():
            param.add_(0.01)
    state = step.generator.get_state()
    _, fd = step.source_losses(src["img"], src["label"])
    step.generator.set_state(state)
    out = step.hrda.forward_train(src["img"], step.hrda.draw_box((64, 64), step.generator))
    with torch.no_grad():
        frozen = step.frozen_encoder(resize_by(src["img"], 0.5))[-1]
    assert out.context_features[-1].shape[-2:] == (1, 1)  # 32 context / 32; the 64 label / 1 = factor 64
    expected = feature_distance_loss(out.context_features[-1], frozen, src["label"], 4, (2, 3), 0.75)
    assert fd.item() > 0 and torch.allclose(fd, 0.005 * expected)
