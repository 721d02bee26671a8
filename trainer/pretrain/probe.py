"""A nearest-class-mean probe: how well an encoder's features separate the stand-in's categories.

Used to compare a pretrained encoder with a random one on equal terms (neither needs a trained
head): class means of the L2-normalised, mean-pooled last-stage features of ``fit`` training
samples, then top-1 accuracy of the nearest mean on ``evaluate`` held-out samples.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from trainer.pretrain import standin
from trainer.pretrain.train import to_tensor


@torch.no_grad()
def _features(encoder: nn.Module, images: torch.Tensor, chunk: int = 128) -> torch.Tensor:
    encoder.eval()
    parts = [encoder(images[i : i + chunk])[-1].mean(dim=(2, 3)) for i in range(0, len(images), chunk)]
    return F.normalize(torch.cat(parts), dim=1)  # (N, C)


def nearest_mean_accuracy(encoder: nn.Module, fit: int = 480, evaluate: int = 480, seed: int = 0) -> float:
    """Top-1 accuracy on ``evaluate`` held-out samples of the nearest class mean over ``fit`` train samples."""
    train_images, train_labels = standin.batch(range(fit), "train", seed)
    held_images, held_labels = standin.batch(range(evaluate), "heldout", seed)
    feats, labels = _features(encoder, to_tensor(train_images)), torch.from_numpy(train_labels)
    num_classes = len(standin.CLASSES)
    means = torch.stack([feats[labels == c].mean(0) for c in range(num_classes)])  # (K, C)
    predicted = (_features(encoder, to_tensor(held_images)) @ F.normalize(means, dim=1).T).argmax(1)
    return float((predicted == torch.from_numpy(held_labels)).float().mean())
