"""One DAFormer training iteration (spec: Self-training, FD, Optimisation), Lightning-style.

``UDAStep`` owns the student, the EMA teacher, the frozen ImageNet encoder for FD, the optimizer,
the lr schedule and the generator of ClassMix/augmentation draws; ``__call__`` is the iteration,
its order readable in one place. The loop (trainer.engine) owns data, cadence and checkpoints.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, TypeVar

import torch
from torch import nn

from trainer.config import TrainConfig
from trainer.models import Segmentor, build_encoder, load_pretrained_encoder
from trainer.models.head_outputs import main_logits
from trainer.models.segformer_adapter import last_stage_after_neck
from trainer.optim import PolyWarmupSchedule, build_optimizer
from trainer.optim.precision import autocast, autocast_dtype
from trainer.uda.augment import strong_augment
from trainer.uda.classmix import class_masks, mix
from trainer.uda.ema import set_teacher_mode, update_teacher
from trainer.uda.feature_distance import fd_mask_stats, feature_distance_loss
from trainer.uda.losses import decode_cross_entropy, upsample_logits
from trainer.uda.pseudo_label import pixel_weight, pseudo_labels

Batch = Mapping[str, torch.Tensor]
M = TypeVar("M", bound=nn.Module)
GENERATOR_SEED_OFFSET = 0x5EED
"""Offsets the run seed for the step's own generator, so its draws differ from the data's."""


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the run stops and its last good checkpoint stays."""


class UDAStep:
    """Student + EMA teacher + frozen ImageNet encoder, and one optimizer step per call.

    Modes (``cfg.uda.mode``): "uda" runs the whole self-training iteration; "source_only" and
    "target_only" train the student with plain cross-entropy on the labelled stream.
    """

    def __init__(self, cfg: TrainConfig, student: Segmentor, device: torch.device) -> None:
        self.cfg, self.device = cfg, device
        self.uda = cfg.uda.mode == "uda"
        self.use_fd = self.uda and cfg.uda.fd.enabled
        self.amp_dtype = autocast_dtype(cfg.run.precision, device)
        self.channels_last = cfg.run.channels_last and device.type == "cuda"
        self.student = self._place(student).train()
        self.teacher = self._frozen_copy(self.student) if self.uda else None
        self.frozen_encoder = self._build_frozen_encoder() if self.use_fd else None
        self.optimizer = build_optimizer(self.student.encoder, self.student.decoder, cfg.optim, device)
        self.schedule = PolyWarmupSchedule(self.optimizer, cfg.optim, cfg.run.iterations)
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.amp_dtype == torch.float16)
        self.generator = torch.Generator().manual_seed(cfg.run.seed + GENERATOR_SEED_OFFSET)
        self._run = _compiled_calls(self, cfg.run.compile)
        self.fd_stats: dict[str, torch.Tensor] = {}
        """The latest step's FD mask diagnostics (``fd_diagnostics``), logged with the losses."""

    # ---- the iteration -------------------------------------------------------------------------
    def __call__(
        self, iteration: int, labelled: Batch, unlabelled: Batch | None = None
    ) -> dict[str, torch.Tensor]:
        """Train iteration ``iteration`` (0-based); returns detached device scalars (no host sync)."""
        lr = self.schedule.set_step(iteration)
        self.optimizer.zero_grad(set_to_none=True)
        if self.teacher is not None:
            update_teacher(self.teacher, self.student, iteration, self.cfg.uda.ema.alpha)
        src_img, src_lbl = self._images(labelled), self._labels(labelled)
        src_ce, fd = self.source_losses(src_img, src_lbl)
        self._backward(src_ce + fd)
        losses = {"src_ce": src_ce.detach()}
        total = src_ce.detach() + fd.detach()
        if self.use_fd:
            losses["fd"] = fd.detach()
            losses.update(self.fd_stats)
        if self.uda:
            if unlabelled is None:
                raise ValueError("uda mode needs a batch of unlabelled target crops")
            tgt_img = self._images(unlabelled)
            pseudo_lbl, confidence = self.pseudo_label(tgt_img)
            mixed_img, mixed_lbl, mixed_w = self.class_mix(src_img, src_lbl, tgt_img, pseudo_lbl, confidence)
            mix_ce = self.mixed_loss(mixed_img, mixed_lbl, mixed_w)
            self._backward(mix_ce)
            losses.update(mix_ce=mix_ce.detach(), pseudo_confidence=confidence)
            total = total + mix_ce.detach()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        losses["total"] = total
        losses["lr"] = torch.tensor(lr)
        return losses

    # ---- its pieces ----------------------------------------------------------------------------
    def source_losses(self, img: torch.Tensor, label: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Source (or oracle) CE (plus a head's auxiliary CEs) and lambda * L_FD on the last stage (0 when off).

        The last stage (or the neck's output, which the reference's FD reads) is at stride 32 for MiT and 8
        for the dilated ResNets; FD reads the factor from the feature map's actual size."""
        with autocast(self.device, self.amp_dtype):
            features = self._run.student_encoder(img)
            output = self._run.student_decoder(features)  # logits, or LogitsWithAux (DANet)
        src_ce = decode_cross_entropy(output, label)
        if not self.use_fd:
            return src_ce, torch.zeros((), device=self.device)
        assert self.frozen_encoder is not None
        with torch.no_grad(), autocast(self.device, self.amp_dtype):
            frozen_last = last_stage_after_neck(self.student.decoder, self._run.frozen_encoder(img))
        fd_cfg = self.cfg.uda.fd
        classes = fd_cfg.thing_classes if fd_cfg.classes == "things" else None
        student_last = last_stage_after_neck(self.student.decoder, features)  # stage 4, or its neck output
        fd = feature_distance_loss(
            student_last, frozen_last, label, self.cfg.model.num_classes, classes, fd_cfg.scale_min_ratio
        )
        self.fd_stats = self.fd_diagnostics(label, (student_last.shape[-2], student_last.shape[-1]))
        return src_ce, fd_cfg.fd_lambda * fd

    @torch.no_grad()
    def fd_diagnostics(self, label: torch.Tensor, grid: tuple[int, int]) -> dict[str, torch.Tensor]:
        """``fd_mask_share`` (cells FD's thing mask keeps) and ``fd_mask_empty`` (1: L_FD is 0 this step).

        Logged only; nothing trains on them. "All classes" FD has no mask, hence nothing to log."""
        fd_cfg = self.cfg.uda.fd
        if fd_cfg.classes != "things":
            return {}
        share, empty = fd_mask_stats(
            label, grid, self.cfg.model.num_classes, fd_cfg.thing_classes, fd_cfg.scale_min_ratio
        )
        return {"fd_mask_share": share, "fd_mask_empty": empty}

    @torch.no_grad()
    def pseudo_label(self, tgt_img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher labels (B, H, W) at the crop's size and the batch's confidence share (0-dim)."""
        assert self.teacher is not None
        with autocast(self.device, self.amp_dtype):
            logits = main_logits(self._run.teacher_decoder(self._run.teacher_encoder(tgt_img)))
        logits = upsample_logits(logits, (tgt_img.shape[-2], tgt_img.shape[-1]))
        return pseudo_labels(logits, self.cfg.uda.pseudo_label.threshold)

    @torch.no_grad()
    def class_mix(
        self,
        src_img: torch.Tensor,
        src_lbl: torch.Tensor,
        tgt_img: torch.Tensor,
        pseudo_lbl: torch.Tensor,
        confidence: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """ClassMix of source into target (unless ``mix.enabled`` is off), then the strong augmentation."""
        pl = self.cfg.uda.pseudo_label
        batch, height, width = pseudo_lbl.shape
        tgt_weight = pixel_weight(confidence, (batch, height, width), pl.crop_top, pl.crop_bottom)
        if self.cfg.uda.mix.enabled:
            masks = class_masks(src_lbl, self.generator).to(self.device)
            mixed_img = mix(masks, src_img.float(), tgt_img.float())
            mixed_lbl = mix(masks, src_lbl, pseudo_lbl)
            mixed_w = mix(masks, torch.ones_like(tgt_weight), tgt_weight)
        else:  # self-training on the target alone: pseudo-labels and their weight, still augmented
            mixed_img, mixed_lbl, mixed_w = tgt_img.float(), pseudo_lbl, tgt_weight
        mixed_img = strong_augment(mixed_img, self.cfg.uda.mix, self.generator)
        if self.channels_last:
            mixed_img = mixed_img.contiguous(memory_format=torch.channels_last)
        return mixed_img, mixed_lbl, mixed_w

    def mixed_loss(self, img: torch.Tensor, label: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of the student on the mixed images, weighted per pixel, mean over pixels."""
        with autocast(self.device, self.amp_dtype):
            output = self._run.student_decoder(self._run.student_encoder(img))
        return decode_cross_entropy(output, label, weight)

    # ---- state ---------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything the step owns; the frozen encoder only when it is not the pretrained file."""
        return {
            "student": _cpu_state(self.student),
            "teacher": None if self.teacher is None else _cpu_state(self.teacher),
            "frozen_encoder": (
                None
                if self.frozen_encoder is None or self.cfg.model.pretrained
                else _cpu_state(self.frozen_encoder)
            ),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore ``state_dict()``'s output (strict: every key of every module)."""
        self.student.load_state_dict(state["student"])
        if self.teacher is not None:
            if state.get("teacher") is None:
                raise ValueError("checkpoint has no teacher but the run is in uda mode")
            self.teacher.load_state_dict(state["teacher"])
        if self.frozen_encoder is not None and state.get("frozen_encoder") is not None:
            self.frozen_encoder.load_state_dict(state["frozen_encoder"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        self.generator.set_state(state["generator"])

    # ---- helpers -------------------------------------------------------------------------------
    def _place(self, module: M) -> M:
        module = module.to(self.device)
        return module.to(memory_format=torch.channels_last) if self.channels_last else module

    def _frozen_copy(self, module: Segmentor) -> Segmentor:
        teacher = copy.deepcopy(module)
        teacher.requires_grad_(False)
        set_teacher_mode(teacher)
        return teacher

    def _build_frozen_encoder(self) -> nn.Module:
        """The configured encoder (any family) with its ImageNet file, else a copy of the initial student's."""
        model_cfg = self.cfg.model
        encoder: nn.Module
        if model_cfg.pretrained:
            encoder = build_encoder(model_cfg.encoder, drop_path_rate=0.0)
            load_pretrained_encoder(encoder, model_cfg.pretrained, strict=True)
            encoder = self._place(encoder)
        else:
            encoder = copy.deepcopy(self.student.encoder)
        return encoder.requires_grad_(False).eval()

    def _images(self, batch: Batch) -> torch.Tensor:
        img = batch["img"].to(self.device, non_blocking=True)
        return img.contiguous(memory_format=torch.channels_last) if self.channels_last else img

    def _labels(self, batch: Batch) -> torch.Tensor:
        return batch["label"].to(self.device, non_blocking=True).long()

    def _backward(self, loss: torch.Tensor) -> None:
        self.scaler.scale(loss).backward()


class _Calls:
    """The forward callables the step uses: the modules themselves, or their compiled versions."""

    def __init__(self, **calls: Any) -> None:
        self.__dict__.update(calls)


def _compiled_calls(step: UDAStep, compile_modules: bool) -> Any:
    def wrap(module: nn.Module) -> Any:
        return torch.compile(module) if compile_modules else module

    calls: dict[str, Any] = {
        "student_encoder": wrap(step.student.encoder),
        "student_decoder": wrap(step.student.decoder),
    }
    if step.teacher is not None:
        calls.update(teacher_encoder=wrap(step.teacher.encoder), teacher_decoder=wrap(step.teacher.decoder))
    if step.frozen_encoder is not None:
        calls["frozen_encoder"] = wrap(step.frozen_encoder)
    return _Calls(**calls)


def _cpu_state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {key: value.detach().cpu().clone() for key, value in module.state_dict().items()}
