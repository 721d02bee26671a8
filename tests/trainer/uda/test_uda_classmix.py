"""ClassMix class pools: the paper's per-image rule vs the reference's batch-level pool (255 included)."""

from __future__ import annotations

import torch

from trainer.uda.classmix import class_masks


def _chosen(label: torch.Tensor, mask: torch.Tensor) -> frozenset[int]:
    return frozenset(int(v) for v in torch.unique(label[mask.bool()]))


def test_per_image_pool_never_takes_ignore_and_takes_half_of_its_own_classes() -> None:
    # one image with classes {0} and ignore: n = 1 -> ceil(1/2) = 1 class, always class 0
    labels = torch.tensor([[[0, 0, 255, 255]]])
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        assert class_masks(labels, gen).tolist() == [[[1.0, 1.0, 0.0, 0.0]]]


def test_batch_pool_includes_ignore() -> None:
    # batch pool {0, 255}: n = 2 -> one class per draw; ignore pixels are chosen about half the time
    labels = torch.tensor([[[0, 0, 255, 255]]])
    gen = torch.Generator().manual_seed(0)
    seen = {tuple(class_masks(labels, gen, pool="batch")[0, 0].tolist()) for _ in range(40)}
    assert seen == {(1.0, 1.0, 0.0, 0.0), (0.0, 0.0, 1.0, 1.0)}


def test_batch_pool_draws_from_all_images_labels_per_image() -> None:
    # image 0 holds {0, 1}, image 1 holds {2, 255}: batch pool {0, 1, 2, 255}, n = 4 -> 2 classes each
    labels = torch.tensor([[[0, 1, 1, 1]], [[2, 2, 255, 255]]])
    gen = torch.Generator().manual_seed(1)
    sizes0, chosen1 = set(), set()
    for _ in range(60):
        masks = class_masks(labels, gen, pool="batch")
        sizes0.add(len(_chosen(labels[0], masks[0])))
        chosen1.add(_chosen(labels[1], masks[1]))
    # image 0 gets none, one or both of its classes (2 of 4 drawn from the batch's pool) ...
    assert sizes0 == {0, 1, 2}
    # ... and image 1's ignore pixels are mixed in when 255 is drawn
    assert chosen1 == {frozenset(), frozenset({2}), frozenset({255}), frozenset({2, 255})}
    # the per-image rule gives image 0 exactly one of its two classes, never 255 for image 1
    for _ in range(20):
        masks = class_masks(labels, gen)
        assert len(_chosen(labels[0], masks[0])) == 1 and _chosen(labels[1], masks[1]) == {2}


def test_batch_pool_replays_with_the_same_generator_seed() -> None:
    labels = torch.randint(0, 19, (2, 8, 8))
    a = class_masks(labels, torch.Generator().manual_seed(3), pool="batch")
    b = class_masks(labels, torch.Generator().manual_seed(3), pool="batch")
    assert torch.equal(a, b)


def _step_mixes(numerics: str, calls: int = 12) -> list[torch.Tensor]:
    from trainer.config import TrainConfig
    from trainer.models import build_segmentor
    from trainer.uda.step import UDAStep

    cfg = TrainConfig.model_validate({
        "model": {"encoder": "mit_b0", "decoder_channels": 16},
        "uda": {"fd": {"enabled": False}},
        "run": {"numerics": numerics, "device": "cpu"},
    })
    step = UDAStep(cfg, build_segmentor("mit_b0", "daformer", 19, 0.0, 16), torch.device("cpu"))
    src_lbl = torch.stack([torch.zeros(8, 8, dtype=torch.long), torch.full((8, 8), 255)])  # {0} and {255}
    pseudo = torch.full((2, 8, 8), 7)
    img = torch.zeros(2, 3, 8, 8)
    confidence = torch.ones(2, 8, 8)
    return [step.class_mix(img, src_lbl, img, pseudo, confidence)[1] for _ in range(calls)]


def test_uda_step_uses_the_batch_pool_under_reference_numerics() -> None:
    # Per image: image 1 has no class, so it is all target (pseudo-label 7) every time.
    assert all(bool((mixed[1] == 7).all()) for mixed in _step_mixes("default"))
    # Batch pool {0, 255}, one class per image: image 1 is all source (255) whenever 255 is drawn.
    reference = _step_mixes("reference")
    assert any(bool((mixed[1] == 255).all()) for mixed in reference)
    assert any(bool((mixed[0] == 7).all()) for mixed in reference)  # and image 0 may get none of its own
