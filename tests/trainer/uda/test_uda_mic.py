"""MIC: block masks, the masked batch, and the MIC term inside the UDA step (spec: mic.md checks)."""

from __future__ import annotations

import pytest
import torch
from uda_tiny import batches, tiny_config, tiny_segmentor

from trainer.config import MICConfig
from trainer.uda import UDAStep
from trainer.uda.augment import strong_augment
from trainer.uda.masking import block_mask, mask_images
from trainer.uda.mic import MaskedImageConsistency


def test_block_mask_of_a_1024_batch_with_block_64() -> None:
    gen = torch.Generator().manual_seed(0)
    images = torch.randn(2, 3, 1024, 1024)
    masked = mask_images(images, 64, 0.7, gen)
    keep = masked != 0
    assert torch.equal(keep[:, 0], keep[:, 1]) and torch.equal(keep[:, 0], keep[:, 2])  # one mask for RGB
    blocks = keep[:, 0].reshape(2, 16, 64, 16, 64).permute(0, 1, 3, 2, 4).reshape(2, 16, 16, 64 * 64)
    assert torch.all(blocks.all(-1) | ~blocks.any(-1))  # constant on every aligned 64x64 block
    assert not torch.equal(keep[0], keep[1])  # a different mask per image
    assert torch.equal(masked[keep], images[keep])  # kept pixels unchanged, dropped ones exactly 0


def test_block_mask_drops_the_ratio_in_expectation() -> None:
    gen = torch.Generator().manual_seed(1)
    mask = block_mask((400, 64, 64), 4, 0.7, gen)  # 400 images x 16 x 16 cells
    assert set(mask.unique().tolist()) <= {0.0, 1.0}
    assert 1.0 - mask.mean().item() == pytest.approx(0.7, abs=0.01)
    assert block_mask((2, 64, 64), 4, 0.0, gen).min() == 1.0
    assert block_mask((2, 64, 64), 4, 1.0, gen).max() == 0.0
    assert block_mask((1, 100, 60), 32, 0.5, gen).shape == (1, 1, 100, 60)  # round(100/32)=3 x round(60/32)=2


def _mic(**fields: object) -> MaskedImageConsistency:
    return MaskedImageConsistency(MICConfig(enabled=True, **fields), 0.999, 0.968, tiny_segmentor())


def test_masking_comes_after_colour_augmentation() -> None:
    mic = _mic(mask_block_size=8, color_jitter_prob=1.0, blur_prob=1.0)
    src, tgt = batches(32)
    weight = torch.full((2, 32, 32), 0.5)
    gen = torch.Generator().manual_seed(3)
    img, label, w = mic.masked_batch(src["img"], src["label"], tgt["img"], tgt["label"], weight, gen)
    assert label is tgt["label"] and w is weight  # separatetrgaug: the target and its unmixed weight only
    replay = torch.Generator().manual_seed(3)
    expected = mask_images(strong_augment(tgt["img"], mic.augmentation, replay), 8, 0.7, replay)
    assert torch.equal(img, expected)
    assert (img == 0).float().mean() > 0.3  # masked blocks stay exactly 0 despite blur and jitter


def test_mask_mode_layouts() -> None:
    src, tgt = batches(16)
    weight = torch.full((2, 16, 16), 0.25)
    gen = torch.Generator().manual_seed(0)
    img, label, w = _mic(mask_mode="separatesrc", mask_ratio=0.0).masked_batch(
        src["img"], src["label"], None, None, None, gen
    )
    assert torch.equal(img, src["img"]) and label is src["label"] and w is None
    img, label, w = _mic(mask_mode="separate", mask_ratio=0.0).masked_batch(
        src["img"], src["label"], tgt["img"], tgt["label"], weight, gen
    )
    assert torch.equal(img, torch.stack([src["img"][0], tgt["img"][0]]))
    assert torch.equal(label, torch.stack([src["label"][0], tgt["label"][0]]))
    assert w is not None and w[0].eq(1.0).all() and w[1].eq(0.25).all()


def test_same_alpha_allocates_no_teacher_and_alpha_zero_copies_the_student() -> None:
    assert _mic().teacher is None
    student = tiny_segmentor(seed=5)
    mic = MaskedImageConsistency(MICConfig(enabled=True, mask_alpha=0.0), 0.999, 0.968, tiny_segmentor(seed=6))
    assert mic.teacher is not None and mic.threshold == 0.968 and mic.alpha == 0.0
    for iteration in (0, 1, 7):
        with torch.no_grad():
            next(student.parameters()).add_(1.0)
        mic.update_teacher(student, iteration)
        assert all(torch.equal(t, s) for t, s in zip(mic.teacher.parameters(), student.parameters(), strict=True))
    none = _mic(mask_pseudo_threshold=None)
    label, weight = none.pseudo_labels(torch.randn(1, 4, 3, 3))
    assert weight.item() == 1.0 and label.shape == (1, 3, 3)


def _step(**mic: object) -> UDAStep:
    cfg = tiny_config(uda={"mic": {"enabled": True, "mask_block_size": 8, **mic}})
    return UDAStep(cfg, tiny_segmentor(), torch.device("cpu"))


def test_mic_uses_the_unmixed_pseudo_labels_and_weight_with_margins() -> None:
    step = _step(mask_mode="separatetrg", mask_ratio=0.0)
    src, tgt = batches(32)
    pseudo, confidence = step.pseudo_label(tgt["img"])
    with torch.no_grad():
        direct = step.teacher(tgt["img"])  # the teacher's argmax on the unmasked target
    assert torch.equal(pseudo, torch.nn.functional.interpolate(direct, size=(32, 32), mode="bilinear").argmax(1))
    weight = step.target_weight(confidence, pseudo.shape, tgt)
    _, _, mixed_w = step.class_mix(src["img"], src["label"], tgt["img"], pseudo, weight)
    assert not torch.equal(mixed_w, weight)  # ClassMix pasted weight-1 source pixels into its copy
    assert weight[:, :2].eq(0).all() and weight[:, -4:].eq(0).all()  # PL-crop rows 2 / 4
    assert weight[:, 2:-4].eq(confidence).all()
    img, label, w = step.mic.masked_batch(src["img"], src["label"], tgt["img"], pseudo, weight, step.generator)
    assert label is pseudo and w is weight
    valid = torch.ones(2, 32, 32)
    valid[:, :, :3] = 0.0  # HRDA's v2 margins arrive with the target batch and multiply the weight
    with_margins = step.target_weight(confidence, pseudo.shape, {**tgt, "valid": valid})
    assert with_margins[:, :, :3].eq(0).all() and torch.equal(with_margins[:, :, 3:], weight[:, :, 3:])


def test_mic_with_no_mask_and_no_augmentation_is_a_second_target_ce() -> None:
    step = _step(mask_mode="separatetrg", mask_ratio=0.0)
    src, tgt = batches(32)
    pseudo, confidence = step.pseudo_label(tgt["img"])
    weight = step.target_weight(confidence, pseudo.shape, tgt)
    torch.manual_seed(0)
    mic = step.mic_loss(src["img"], src["label"], (tgt["img"], pseudo, weight, tgt))
    torch.manual_seed(0)
    assert torch.equal(mic, step.mixed_loss(tgt["img"], pseudo, weight))


def test_total_is_the_sum_of_four_terms() -> None:
    step = _step()
    src, tgt = batches(32)
    losses = step(0, src, tgt)
    terms = losses["src_ce"] + losses["fd"] + losses["mix_ce"] + losses["mic_ce"]
    assert losses["total"].item() == pytest.approx(terms.item(), rel=1e-6)
    plain = UDAStep(tiny_config(), tiny_segmentor(), torch.device("cpu"))
    keys = {"src_ce", "fd", "fd_mask_share", "fd_mask_empty", "mix_ce", "pseudo_confidence", "total", "lr"}
    assert plain.mic is None and set(plain(0, src, tgt)) == keys
