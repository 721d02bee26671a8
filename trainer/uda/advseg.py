"""AdvSeg (Tsai et al. 2018, AdaptSegNet's output-space adversarial training), as the reference's
``uda/advseg.py`` and ``uda/fcdiscriminator.py`` run it (``uda.method='advseg'``).

A fully convolutional discriminator (four 4x4 stride-2 convolutions 64-128-256-512 with
LeakyReLU 0.2, then a 4x4 stride-2 convolution to one channel) sees the student's softmax. Per
iteration, after the source cross-entropy:
1. generator: ``lambda_adv * loss(D(softmax(target output)), 0)``, backpropagated into the
   student only (the discriminator's parameters take no gradient);
2. discriminator: ``loss(D(softmax(source output)), 0) / 2 + loss(D(softmax(target output)), 1) / 2``
   on the detached outputs (source label 0, target label 1);
3. its own Adam (lr 1e-4, betas (0.9, 0.99)) steps with ``(lr - min_lr) * (1 - i/T)^0.9 + min_lr``.
``loss`` is the mean squared error ('ls', the reference's default) or BCE with logits ('vanilla').
Outputs are the main output at the input's resolution, or on an HRDA student the fused output
resized to the context scale (the reference's choice). No teacher, pseudo-labels, mixing or FD.

The discriminator always computes in float32 (the reference's precision), outside autocast, so its
optimizer needs no loss scaling; the generator term's gradient reaches the student through it.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from trainer.config import AdvSegConfig

SOURCE_LABEL, TARGET_LABEL = 0.0, 1.0


class FCDiscriminator(nn.Module):
    """AdaptSegNet's output-space discriminator: (B, K, H, W) probabilities -> (B, 1, H/32, W/32) logits.

    Parameter names as the reference's (``conv1``..``conv4``, ``classifier``)."""

    def __init__(self, num_classes: int, ndf: int = 64) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(num_classes, ndf, kernel_size=4, stride=2, padding=1)
        self.conv2 = nn.Conv2d(ndf, ndf * 2, kernel_size=4, stride=2, padding=1)
        self.conv3 = nn.Conv2d(ndf * 2, ndf * 4, kernel_size=4, stride=2, padding=1)
        self.conv4 = nn.Conv2d(ndf * 4, ndf * 8, kernel_size=4, stride=2, padding=1)
        self.classifier = nn.Conv2d(ndf * 8, 1, kernel_size=4, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            x = F.leaky_relu(conv(x), negative_slope=0.2)
        return self.classifier(x)


def discriminator_lr(iteration: int, total_iters: int, cfg: AdvSegConfig) -> float:
    """The reference's ``adjust_learning_rate_D``: ``(lr - min_lr) * (1 - i/T)^power + min_lr``."""
    return (cfg.lr - cfg.min_lr) * (1.0 - iteration / total_iters) ** cfg.lr_power + cfg.min_lr


def adversarial_loss(d_out: torch.Tensor, label: float, kind: str) -> torch.Tensor:
    """Mean squared error to ``label`` ('ls') or BCE with logits against it ('vanilla')."""
    target = torch.full_like(d_out, label)
    if kind == "ls":
        return F.mse_loss(d_out, target)
    return F.binary_cross_entropy_with_logits(d_out, target)


class OutputSpaceAdversary:
    """The discriminator, its Adam optimizer and lr schedule, and AdvSeg's two losses."""

    def __init__(self, cfg: AdvSegConfig, num_classes: int, total_iters: int, device: torch.device) -> None:
        self.cfg, self.total_iters = cfg, total_iters
        self.discriminator = FCDiscriminator(num_classes, cfg.ndf).to(device).train()
        self.optimizer = torch.optim.Adam(self.discriminator.parameters(), lr=cfg.lr, betas=cfg.betas)

    def generator_loss(self, target_logits: torch.Tensor) -> torch.Tensor:
        """``lambda_adv * loss(D(softmax(target)), source label)``; gradients reach the student only."""
        self.discriminator.requires_grad_(False)
        d_out = self.discriminator(F.softmax(target_logits.float(), dim=1))
        return self.cfg.lambda_adv * adversarial_loss(d_out, SOURCE_LABEL, self.cfg.discriminator_loss)

    def discriminator_step(
        self, iteration: int, source_logits: torch.Tensor, target_logits: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Train the discriminator one step on the detached outputs; returns its two half-losses."""
        self.discriminator.requires_grad_(True)
        for group in self.optimizer.param_groups:
            group["lr"] = discriminator_lr(iteration, self.total_iters, self.cfg)
        self.optimizer.zero_grad(set_to_none=True)
        kind = self.cfg.discriminator_loss
        d_src = adversarial_loss(self._d(source_logits), SOURCE_LABEL, kind) / 2
        d_src.backward()
        d_trg = adversarial_loss(self._d(target_logits), TARGET_LABEL, kind) / 2
        d_trg.backward()
        self.optimizer.step()
        return {"d_src": d_src.detach(), "d_trg": d_trg.detach()}

    def _d(self, logits: torch.Tensor) -> torch.Tensor:
        return self.discriminator(F.softmax(logits.detach().float(), dim=1))

    def state_dict(self) -> dict[str, Any]:
        return {
            "discriminator": {k: v.detach().cpu().clone() for k, v in self.discriminator.state_dict().items()},
            "discriminator_optimizer": self.optimizer.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("discriminator") is None or state.get("discriminator_optimizer") is None:
            raise ValueError("checkpoint has no AdvSeg discriminator but uda.method is 'advseg'")
        self.discriminator.load_state_dict(state["discriminator"])
        self.optimizer.load_state_dict(state["discriminator_optimizer"])
