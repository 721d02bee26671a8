"""Masked Image Consistency: the batch MIC trains on, and its optional own teacher (spec: mic.md).

MIC is one more term of the UDA step: the student sees images with random blocks blanked out and
must reproduce labels computed on the complete images (the EMA teacher's pseudo-labels for the
target, the ground truth for the source). ``MaskedImageConsistency`` builds that batch in the
mask mode's layout, colour-augments it with its OWN draws (mode ``*aug``), masks it, and hands
it back; the step computes the loss with the host's forward (plain CE, or HRDA's fused + detail).

Pseudo-labels and weight: with ``mask_alpha`` and ``mask_pseudo_threshold`` both 'same' they are
the host's (the UNMIXED weight: scalar confidence share times the host's margins). Otherwise a
separate EMA teacher (``teacher_module.py`` of the reference) makes them with its own alpha and
threshold; a threshold of None gives weight 1 (margins still apply). Alpha 0 makes that teacher
a copy of the current student.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from trainer.config import MICConfig, MixConfig
from trainer.uda.augment import strong_augment
from trainer.uda.ema import set_teacher_mode, update_teacher
from trainer.uda.masking import mask_images
from trainer.uda.pseudo_label import pseudo_labels

MaskedBatch = tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]
"""(images (B, 3, H, W), labels (B, H, W) long, pixel weights (B, H, W) or None for weight 1)."""


class MaskedImageConsistency:
    """MIC's configuration, its colour augmentation, and (ablations only) its own EMA teacher."""

    def __init__(
        self,
        cfg: MICConfig,
        host_alpha: float,
        host_threshold: float,
        student: nn.Module,
        require_teacher: bool = False,
    ) -> None:
        self.cfg = cfg
        self.alpha = host_alpha if cfg.mask_alpha == "same" else float(cfg.mask_alpha)
        threshold = cfg.mask_pseudo_threshold
        self.threshold: float | None = host_threshold if threshold == "same" else threshold
        # MIC's augmentation draws blur whatever the host's blur flag says (the reference draws it always)
        self.augmentation = MixConfig(
            color_jitter_prob=cfg.color_jitter_prob,
            color_jitter_strength=cfg.color_jitter_strength,
            blur=True,
            blur_prob=cfg.blur_prob,
        )
        self.teacher: nn.Module | None = None
        if cfg.separate_teacher or require_teacher:  # the output-space hosts (MinEnt, AdvSeg) have none
            self.teacher = copy.deepcopy(student).requires_grad_(False)
            set_teacher_mode(self.teacher)

    @property
    def uses_target(self) -> bool:
        return self.cfg.mask_mode not in ("separatesrc", "separatesrcaug")

    def update_teacher(self, student: nn.Module, iteration: int) -> None:
        """The separate teacher's EMA step (before the iteration's forward passes); no-op without one."""
        if self.teacher is not None:
            update_teacher(self.teacher, student, iteration, self.alpha)

    def pseudo_labels(self, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The separate teacher's labels and scalar weight; threshold None: weight 1 everywhere."""
        if self.threshold is None:
            label = logits.detach().argmax(dim=1)
            return label, torch.ones((), device=logits.device)
        return pseudo_labels(logits, self.threshold)

    @torch.no_grad()
    def masked_batch(
        self,
        src_img: torch.Tensor,
        src_lbl: torch.Tensor,
        tgt_img: torch.Tensor | None,
        pseudo_lbl: torch.Tensor | None,
        tgt_weight: torch.Tensor | None,
        generator: torch.Generator,
    ) -> MaskedBatch:
        """The mode's batch, colour-augmented (``*aug``) with fresh draws, then block-masked."""
        img, label, weight = self._layout(src_img, src_lbl, tgt_img, pseudo_lbl, tgt_weight)
        if self.cfg.mask_mode.endswith("aug"):
            img = strong_augment(img.float(), self.augmentation, generator)
        img = mask_images(img.float(), self.cfg.mask_block_size, self.cfg.mask_ratio, generator)
        return img, label, weight

    def _layout(
        self,
        src_img: torch.Tensor,
        src_lbl: torch.Tensor,
        tgt_img: torch.Tensor | None,
        pseudo_lbl: torch.Tensor | None,
        tgt_weight: torch.Tensor | None,
    ) -> MaskedBatch:
        mode = self.cfg.mask_mode
        if mode in ("separatesrc", "separatesrcaug"):
            return src_img, src_lbl, None
        if tgt_img is None or pseudo_lbl is None or tgt_weight is None:
            raise ValueError(f"uda.mic.mask_mode {mode!r} needs the target batch and its pseudo-labels")
        if mode in ("separatetrg", "separatetrgaug"):
            return tgt_img, pseudo_lbl, tgt_weight
        # 'separate' / 'separateaug': source image 0 (ground truth, weight 1) and target image 0
        img = torch.stack([src_img[0], tgt_img[0]])
        label = torch.stack([src_lbl[0], pseudo_lbl[0]])
        weight = torch.stack([torch.ones_like(tgt_weight[0]), tgt_weight[0]])
        return img, label, weight
