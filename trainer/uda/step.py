"""One DAFormer training iteration (spec: Self-training, FD, Optimisation), Lightning-style.

``UDAStep`` owns the student, the EMA teacher, the frozen ImageNet encoder for FD, the optimizer,
the lr schedule and the generator of ClassMix/augmentation draws; ``__call__`` is the iteration,
its order readable in one place. The loop (trainer.engine) owns data, cadence and checkpoints.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Literal, TypeVar

import torch
from torch import nn

from trainer.config import TrainConfig
from trainer.models import HRDAOutput, HRDASegmentor, Segmentor, build_encoder, load_pretrained_encoder
from trainer.models.head_outputs import main_logits
from trainer.models.hrda import resize_by
from trainer.models.segformer_adapter import last_stage_after_neck
from trainer.optim import PolyWarmupSchedule, build_optimizer
from trainer.optim.precision import apply_numerics, autocast, autocast_dtype
from trainer.uda.advseg import OutputSpaceAdversary
from trainer.uda.augment import strong_augment
from trainer.uda.classmix import class_masks, mix
from trainer.uda.ema import set_teacher_mode, update_teacher
from trainer.uda.feature_distance import fd_mask_stats, feature_distance_loss
from trainer.uda.hrda_losses import HRDALoss, crop_box, hrda_loss
from trainer.uda.losses import decode_cross_entropy, upsample_logits
from trainer.uda.mic import MaskedImageConsistency
from trainer.uda.output_space import OutputSpaceTerms
from trainer.uda.pseudo_label import pixel_weight, pseudo_labels
from trainer.uda.sync_crop import sync_crop

Batch = Mapping[str, torch.Tensor]
TargetBatch = tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None, Batch]
"""(target images, pseudo-labels, their UNMIXED pixel weight, the loader's batch) for MIC; the
output-space methods have no pseudo-labels (None): MIC's own teacher makes them."""
M = TypeVar("M", bound=nn.Module)
GENERATOR_SEED_OFFSET = 0x5EED
"""Offsets the run seed for the step's own generator, so its draws differ from the data's."""


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the run stops and its last good checkpoint stays."""


class UDAStep(OutputSpaceTerms):
    """Student + EMA teacher + frozen ImageNet encoder, and one optimizer step per call.

    Modes (``cfg.uda.mode``): "uda" runs the whole self-training iteration; "source_only" and
    "target_only" train the student with plain cross-entropy on the labelled stream.
    An ``HRDASegmentor`` student routes every student pass through HRDA's two-scale forward and
    losses (a new detail box per pass), FD through its context features, and pseudo-labels through
    its sliding-window inference; MIC (``uda.mic``) adds one more term before the optimizer step.
    ``uda.method`` 'minent' / 'advseg' replace the self-training terms by ``output_space_terms``
    (output_space.py): no teacher; AdvSeg's discriminator trains with its own optimizer.
    """

    def __init__(self, cfg: TrainConfig, student: Segmentor | HRDASegmentor, device: torch.device) -> None:
        self.cfg, self.device = cfg, device
        self.uda = cfg.uda.mode == "uda"
        self.output_space = self.uda and cfg.uda.method != "dacs"  # MinEnt / AdvSeg: no teacher, no mixing
        self.use_fd = self.uda and cfg.uda.fd.enabled
        apply_numerics(cfg.run.numerics)
        self.amp_dtype = autocast_dtype(cfg.run.precision, device, cfg.run.numerics)
        self.channels_last = cfg.run.channels_last and device.type == "cuda"
        self.student = self._place(student).train()
        self.hrda = self.student if isinstance(self.student, HRDASegmentor) else None
        self.teacher = self._frozen_copy(self.student) if self.uda and not self.output_space else None
        self.frozen_encoder = self._build_frozen_encoder() if self.use_fd else None
        heads = self.hrda.heads() if self.hrda is not None else self.student.decoder
        self.optimizer = build_optimizer(self.student.encoder, heads, cfg.optim, device)
        self.schedule = PolyWarmupSchedule(self.optimizer, cfg.optim, cfg.run.iterations)
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.amp_dtype == torch.float16)
        self.generator = torch.Generator().manual_seed(cfg.run.seed + GENERATOR_SEED_OFFSET)
        self.mic = self._build_mic() if cfg.uda.mic.enabled else None
        self.adversary = (
            OutputSpaceAdversary(cfg.uda.advseg, cfg.model.num_classes, cfg.run.iterations, device)
            if self.uda and cfg.uda.method == "advseg"
            else None
        )
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
        if self.cfg.data.sync_crop_size is not None:  # HRDA's crop-size ablations only
            labelled, unlabelled = sync_crop(labelled, unlabelled, self.cfg.data.sync_crop_size, self.generator)
        if self.teacher is not None:
            update_teacher(self.teacher, self.student, iteration, self.cfg.uda.ema.alpha)
        if self.mic is not None:
            self.mic.update_teacher(self.student, iteration)
        src_img, src_lbl = self._images(labelled), self._labels(labelled)
        target: TargetBatch | None
        if self.output_space:
            losses, total, target = self.output_space_terms(iteration, src_img, src_lbl, unlabelled)
        else:
            losses, total, target = self.self_training_terms(src_img, src_lbl, unlabelled)
        if self.mic is not None:
            mic_ce = self.mic_loss(src_img, src_lbl, target)
            self._backward(mic_ce)
            losses["mic_ce"] = mic_ce.detach()
            total = total + mic_ce.detach()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        losses["total"] = total
        losses["lr"] = torch.tensor(lr)
        return losses

    # ---- its pieces ----------------------------------------------------------------------------
    def self_training_terms(
        self, src_img: torch.Tensor, src_lbl: torch.Tensor, unlabelled: Batch | None
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor, TargetBatch | None]:
        """Source CE (+ FD), then in uda mode DACS's pseudo-labelled ClassMix term; each backpropagated."""
        src_ce, fd = self.source_losses(src_img, src_lbl)
        self._backward(src_ce + fd)
        losses = {"src_ce": src_ce.detach()}
        total = src_ce.detach() + fd.detach()
        if self.use_fd:
            losses["fd"] = fd.detach()
            losses.update(self.fd_stats)
        target: TargetBatch | None = None
        if self.uda:
            tgt_img = self._target_images(unlabelled)
            assert unlabelled is not None  # _target_images refuses None
            pseudo_lbl, confidence = self.pseudo_label(tgt_img)
            tgt_weight = self.target_weight(confidence, pseudo_lbl.shape, unlabelled)
            mixed_img, mixed_lbl, mixed_w = self.class_mix(src_img, src_lbl, tgt_img, pseudo_lbl, tgt_weight)
            mix_ce = self.mixed_loss(mixed_img, mixed_lbl, mixed_w)
            self._backward(mix_ce)
            losses.update(mix_ce=mix_ce.detach(), pseudo_confidence=confidence)
            total = total + mix_ce.detach()
            target = (tgt_img, pseudo_lbl, tgt_weight, unlabelled)
        return losses, total, target

    def source_losses(self, img: torch.Tensor, label: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Source (or oracle) CE (plus a head's auxiliary CEs) and lambda * L_FD on the last stage (0 when off).

        The last stage (or the neck's output, which the reference's FD reads) is at stride 32 for MiT and 8
        for the dilated ResNets; FD reads the factor from the feature map's actual size. HRDA: its own
        passes and FD on the context features."""
        if self.hrda is not None:
            return self._hrda_source_losses(img, label)
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
            if self.hrda is not None:  # sliding detail windows over the whole crop, no box
                logits = self.teacher(tgt_img)
            else:
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
        tgt_weight: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """ClassMix of source into target (unless ``mix.enabled`` is off), then the strong augmentation.

        The mixed weight is a new tensor: ``tgt_weight`` itself stays the unmixed weight MIC uses.
        """
        if self.cfg.uda.mix.enabled:
            pool: Literal["image", "batch"] = "batch" if self.cfg.run.numerics == "reference" else "image"
            masks = class_masks(src_lbl, self.generator, pool=pool).to(self.device)
            mixed_img = mix(masks, src_img.float(), tgt_img.float())
            mixed_lbl = mix(masks, src_lbl, pseudo_lbl)
            mixed_w = mix(masks, torch.ones_like(tgt_weight), tgt_weight)
        else:  # self-training on the target alone: pseudo-labels and their weight, still augmented
            mixed_img, mixed_lbl, mixed_w = tgt_img.float(), pseudo_lbl, tgt_weight
        mixed_img = strong_augment(mixed_img, self.cfg.uda.mix, self.generator)
        if self.channels_last:
            mixed_img = mixed_img.contiguous(memory_format=torch.channels_last)
        return mixed_img, mixed_lbl, mixed_w

    def target_weight(self, confidence: torch.Tensor, shape: torch.Size, batch: Batch) -> torch.Tensor:
        """The unmixed pseudo-label weight (B, H, W): the scalar share above the threshold, zero on
        the PL-crop rows, times the loader's v2 validity mask (``valid``) when the pipeline made one."""
        pl = self.cfg.uda.pseudo_label
        batch_size, height, width = shape
        weight = pixel_weight(confidence, (batch_size, height, width), pl.crop_top, pl.crop_bottom)
        if "valid" in batch:
            weight = weight * batch["valid"].to(self.device, non_blocking=True).float()
        return weight

    def mic_loss(self, src_img: torch.Tensor, src_lbl: torch.Tensor, target: TargetBatch | None) -> torch.Tensor:
        """lambda * the student's loss on MIC's masked batch (mic.md step 5), host forward and loss."""
        assert self.mic is not None
        tgt_img = pseudo_lbl = tgt_weight = None
        if target is not None and self.mic.uses_target:
            tgt_img, pseudo_lbl, tgt_weight, loaded = target
            if self.mic.teacher is not None:  # ablations: MIC's own EMA teacher and threshold
                with torch.no_grad(), autocast(self.device, self.amp_dtype):
                    logits = upsample_logits(self.mic.teacher(tgt_img), (tgt_img.shape[-2], tgt_img.shape[-1]))
                pseudo_lbl, confidence = self.mic.pseudo_labels(logits)
                tgt_weight = self.target_weight(confidence, pseudo_lbl.shape, loaded)
        img, label, weight = self.mic.masked_batch(src_img, src_lbl, tgt_img, pseudo_lbl, tgt_weight, self.generator)
        if self.channels_last:
            img = img.contiguous(memory_format=torch.channels_last)
        return self.student_loss(img, label, weight, fused_lambda=self.cfg.uda.mic.mask_lambda)

    def student_loss(
        self, img: torch.Tensor, label: torch.Tensor, weight: torch.Tensor | None, fused_lambda: float = 1.0
    ) -> torch.Tensor:
        """The host's supervised loss of the student on one batch, times ``fused_lambda`` (for HRDA
        only its fused term, as the reference scales ``decode.loss_seg`` alone)."""
        if self.hrda is not None:
            return self._hrda_loss(self._hrda_forward(img), label, weight).total(fused_lambda)
        with autocast(self.device, self.amp_dtype):
            output = self._run.student_decoder(self._run.student_encoder(img))
        return fused_lambda * decode_cross_entropy(output, label, weight)

    def mixed_loss(self, img: torch.Tensor, label: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of the student on the mixed images, weighted per pixel, mean over pixels."""
        if self.hrda is not None:
            return self.student_loss(img, label, weight)
        with autocast(self.device, self.amp_dtype):
            output = self._run.student_decoder(self._run.student_encoder(img))
        return decode_cross_entropy(output, label, weight)

    # ---- HRDA's passes -------------------------------------------------------------------------
    def _hrda_forward(self, img: torch.Tensor) -> HRDAOutput:
        """One HRDA training forward with a new detail box drawn from the step's generator."""
        assert self.hrda is not None
        box = self.hrda.draw_box((img.shape[-2], img.shape[-1]), self.generator)
        with autocast(self.device, self.amp_dtype):
            return self.hrda.forward_train(img, box)

    def _hrda_loss(self, out: HRDAOutput, label: torch.Tensor, weight: torch.Tensor | None) -> HRDALoss:
        hrda = self.cfg.model.hrda
        return hrda_loss(out, label, weight, hrda.hr_loss_weight, hrda.lr_loss_weight)

    def _hrda_source_losses(self, img: torch.Tensor, label: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """HRDA source loss, and FD on the context features vs the frozen encoder on the resized crop
        (``fd_scales='all'``: plus FD on the detail features vs the frozen encoder on the same box,
        against the label cut by that box; the two distances are summed, as the reference does)."""
        assert self.hrda is not None
        out = self._hrda_forward(img)
        src_ce = self._hrda_loss(out, label, None).total()
        if not self.use_fd:
            return src_ce, torch.zeros((), device=self.device)
        context_last = out.context_features[-1]
        fd = self._hrda_fd(context_last, resize_by(img, self.hrda.context_scale), label)
        # The diagnostics of the context FD (the one every HRDA row has), as the plain path logs them.
        self.fd_stats = self.fd_diagnostics(label, (context_last.shape[-2], context_last.shape[-1]))
        if self.cfg.model.hrda.fd_scales == "all":
            y1, y2, x1, x2 = out.box
            detail_img = self.hrda.detail_image(img)[:, :, y1:y2, x1:x2]
            fd = fd + self._hrda_fd(out.detail_features[-1], detail_img, crop_box(label, out.box))
        return src_ce, self.cfg.uda.fd.fd_lambda * fd

    def _hrda_fd(self, student_last: torch.Tensor, frozen_input: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """L_FD of one HRDA scale; the label factor is read from the grids (context 1024 / 16 = 64)."""
        assert self.frozen_encoder is not None
        with torch.no_grad(), autocast(self.device, self.amp_dtype):
            frozen_last = self._run.frozen_encoder(frozen_input)[-1]
        fd_cfg = self.cfg.uda.fd
        classes = fd_cfg.thing_classes if fd_cfg.classes == "things" else None
        return feature_distance_loss(
            student_last, frozen_last, label, self.cfg.model.num_classes, classes, fd_cfg.scale_min_ratio
        )

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
            **self._mic_state(),
            **({} if self.adversary is None else self.adversary.state_dict()),
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
        if self.mic is not None and self.mic.teacher is not None:
            if state.get("mic_teacher") is None:
                raise ValueError("checkpoint has no MIC teacher but uda.mic asks for a separate one")
            self.mic.teacher.load_state_dict(state["mic_teacher"])
        if self.adversary is not None:
            self.adversary.load_state_dict(dict(state))

    def _mic_state(self) -> dict[str, Any]:
        """MIC's own teacher, only when it exists (the DAFormer checkpoint keeps its keys)."""
        if self.mic is None or self.mic.teacher is None:
            return {}
        return {"mic_teacher": _cpu_state(self.mic.teacher)}

    # ---- helpers -------------------------------------------------------------------------------
    def _place(self, module: M) -> M:
        module = module.to(self.device)
        return module.to(memory_format=torch.channels_last) if self.channels_last else module

    def _build_mic(self) -> MaskedImageConsistency:
        uda = self.cfg.uda
        return MaskedImageConsistency(
            uda.mic, uda.ema.alpha, uda.pseudo_label.threshold, self.student, require_teacher=self.output_space
        )

    def _frozen_copy(self, module: M) -> M:
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

    def _target_images(self, batch: Batch | None) -> torch.Tensor:
        if batch is None:
            raise ValueError("uda mode needs a batch of unlabelled target crops")
        return self._images(batch)

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
