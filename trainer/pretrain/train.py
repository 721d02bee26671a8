"""Pretrain a MiT on the ImageNet stand-in and write it as SegFormer's ``mit_b*.pth`` would be.

Recipe (a small DeiT/SegFormer-style ImageNet recipe): AdamW (betas 0.9/0.999, weight decay 0.05,
none on norms and biases), linear warmup over the first 10% of steps then cosine decay to 0,
cross-entropy with label smoothing 0.1, no drop path (see ``drop_path_rate``); augmentation: random
horizontal flip and a random 4-pixel translation (pad and crop). Images are normalised with ImageNet's mean and std,
as the segmentation pipeline does, so that the encoder sees the same input statistics later.
The training set is a fixed pool of ``pool`` stand-in samples generated once (the generator costs
about as much per image as a training step on it); the held-out split is generated separately.
Everything is seeded: the same arguments give the same file.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from trainer.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from trainer.models.mix_transformer import create_mit
from trainer.pretrain import standin
from trainer.pretrain.classifier import MiTClassifier, to_reference_state


@dataclass(frozen=True)
class PretrainConfig:
    encoder: str = "mit_b0"
    steps: int = 1200
    batch_size: int = 32
    pool: int = 4096
    """Training samples generated once and cycled through (with flips and shifts)."""
    heldout: int = 480
    lr: float = 1e-3
    weight_decay: float = 0.05
    drop_path_rate: float = 0.0
    """SegFormer's ImageNet runs use 0.1 over 300 epochs; a few epochs of a fresh set need no such regulariser."""
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "pool", "heldout"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 RGB -> (N, 3, H, W) float normalised with ImageNet's mean and std."""
    normalised = (images.astype(np.float32) - IMAGENET_MEAN) / IMAGENET_STD
    return torch.from_numpy(normalised).permute(0, 3, 1, 2).contiguous()


def _augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Per-image horizontal flip (p=0.5) and a random translation of up to 4 pixels (reflect padding)."""
    flip = torch.rand(x.shape[0], generator=generator) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    padded = F.pad(x, (4, 4, 4, 4), mode="reflect")
    dx, dy = (int(v) for v in torch.randint(0, 9, (2,), generator=generator))
    return padded[..., dy : dy + x.shape[-2], dx : dx + x.shape[-1]]


def _lr_factor(step: int, steps: int) -> float:
    warm = max(1, steps // 10)
    if step < warm:
        return (step + 1) / warm
    return 0.5 * (1.0 + math.cos(math.pi * (step - warm) / max(1, steps - warm)))


def _optimizer(model: MiTClassifier, cfg: PretrainConfig) -> torch.optim.AdamW:
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]  # norms and biases
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.999))


@torch.no_grad()
def accuracy(model: MiTClassifier, images: torch.Tensor, labels: torch.Tensor, chunk: int = 128) -> float:
    """Top-1 accuracy of ``model`` (put in eval mode) on normalised ``images``."""
    model.eval()
    correct = 0
    for i in range(0, len(images), chunk):
        correct += int((model(images[i : i + chunk]).argmax(1) == labels[i : i + chunk]).sum())
    return correct / len(images)


def pretrain(cfg: PretrainConfig, progress: bool = True) -> tuple[MiTClassifier, dict[str, float]]:
    """Train a classifier on the stand-in; returns it and its held-out top-1 accuracy."""
    torch.manual_seed(cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)
    model = MiTClassifier(create_mit(cfg.encoder, drop_path_rate=cfg.drop_path_rate), len(standin.CLASSES))
    images, labels = standin.batch(range(cfg.pool), "train", cfg.seed)
    pool, pool_labels = to_tensor(images), torch.from_numpy(labels)
    optimizer = _optimizer(model, cfg)
    model.train()
    order = torch.randperm(cfg.pool, generator=generator)
    cursor, loss_avg = 0, float("nan")
    bar = tqdm(range(cfg.steps), desc=f"pretrain {cfg.encoder}", unit="step", disable=not progress)
    for step in bar:
        if cursor + cfg.batch_size > cfg.pool:
            order, cursor = torch.randperm(cfg.pool, generator=generator), 0
        idx = order[cursor : cursor + cfg.batch_size]
        cursor += cfg.batch_size
        for group in optimizer.param_groups:
            group["lr"] = cfg.lr * _lr_factor(step, cfg.steps)
        loss = F.cross_entropy(model(_augment(pool[idx], generator)), pool_labels[idx], label_smoothing=0.1)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        value = float(loss.detach())
        loss_avg = value if math.isnan(loss_avg) else 0.95 * loss_avg + 0.05 * value
        bar.set_postfix(loss=f"{loss_avg:.3f}")
    held_images, held_labels = standin.batch(range(cfg.heldout), "heldout", cfg.seed)
    metrics = {
        "heldout_top1": accuracy(model, to_tensor(held_images), torch.from_numpy(held_labels)),
        "train_loss": loss_avg,
    }
    return model, metrics


def save_reference_checkpoint(model: MiTClassifier, path: Path, info: dict[str, object]) -> None:
    """Write ``path`` (flat ``mit_b*.pth`` layout, tensors only) and ``path.json`` (how it was made).

    Both are written to temporary files and renamed, so an interrupted run leaves no half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(to_reference_state(model), tmp)
    os.replace(tmp, path)
    sidecar = path.with_name(path.name + ".json")
    tmp_json = sidecar.with_name(sidecar.name + ".tmp")
    tmp_json.write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    os.replace(tmp_json, sidecar)


def run(cfg: PretrainConfig, out: Path, progress: bool = True) -> dict[str, float]:
    """Pretrain and write ``out``; returns the metrics also stored in ``out.json``."""
    model, metrics = pretrain(cfg, progress)
    info: dict[str, object] = {
        "config": asdict(cfg),
        "classes": list(standin.CLASSES),
        **metrics,
        "format": "SegFormer mit_b*.pth (flat MiT keys + head.weight/head.bias)",
    }
    save_reference_checkpoint(model, out, info)
    return metrics
