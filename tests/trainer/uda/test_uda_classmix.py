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
