"""The output-space UDA methods' part of the step: MinEnt and AdvSeg (``uda.method``).

HRDA Table 2 and MIC Table 1 put HRDA / MIC on top of AdvSeg (Tsai et al. 2018) and MinEnt (Vu
et al. 2019) as the reference's ``uda/advseg.py`` and ``uda/minent.py`` run them. Their iteration
replaces DACS's self-training (``UDAStep.self_training_terms``): the student's source CE, then one
term on its target output (minent.py: normalised entropy; advseg.py: the generator's adversarial
loss, then one step of the discriminator with its own optimizer). There is no EMA teacher, no
pseudo-label, no ClassMix and no FD; MIC on these hosts builds its own EMA teacher, as the
reference's ``MaskingConsistencyModule(require_teacher=True)`` does. The segmentor's single
optimizer step (and MIC's term before it) stay in ``UDAStep.__call__``.

A mixin of ``UDAStep`` (step.py), kept apart so each piece stays one readable file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch

from trainer.config import TrainConfig
from trainer.models import HRDASegmentor
from trainer.models.head_outputs import main_logits
from trainer.optim.precision import autocast
from trainer.uda.advseg import OutputSpaceAdversary
from trainer.uda.losses import decode_cross_entropy, upsample_logits
from trainer.uda.minent import entropy_minimisation_loss

if TYPE_CHECKING:
    from trainer.models.hrda import HRDAOutput
    from trainer.uda.hrda_losses import HRDALoss
    from trainer.uda.step import TargetBatch

Batch = Mapping[str, torch.Tensor]


class OutputSpaceTerms:
    """``output_space_terms`` and ``aligned_output``; the attributes and helpers (``_backward``,
    ``_hrda_forward``, ``_hrda_loss``, ``_target_images``, ``_run``) are ``UDAStep``'s."""

    cfg: TrainConfig
    device: torch.device
    amp_dtype: torch.dtype | None
    hrda: HRDASegmentor | None
    adversary: OutputSpaceAdversary | None
    _run: Any

    if TYPE_CHECKING:  # defined by UDAStep (step.py)

        def _target_images(self, batch: Batch | None) -> torch.Tensor: ...
        def _backward(self, loss: torch.Tensor) -> None: ...
        def _hrda_forward(self, img: torch.Tensor) -> HRDAOutput: ...
        def _hrda_loss(self, out: HRDAOutput, label: torch.Tensor, weight: torch.Tensor | None) -> HRDALoss: ...

    def output_space_terms(
        self, iteration: int, src_img: torch.Tensor, src_lbl: torch.Tensor, unlabelled: Batch | None
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor, TargetBatch]:
        """MinEnt / AdvSeg (``uda.method``, minent.py / advseg.py): source CE, then the target term on
        the student's output (lambda * entropy, or lambda * the generator's adversarial loss); AdvSeg
        then trains its discriminator on both detached outputs and steps its own optimizer. No EMA
        teacher, pseudo-labels, ClassMix or FD, as in the reference; MIC brings its own teacher."""
        tgt_img = self._target_images(unlabelled)
        assert unlabelled is not None  # _target_images refuses None
        src_ce, src_out = self.aligned_output(src_img, src_lbl)
        assert src_ce is not None
        self._backward(src_ce)
        _, tgt_out = self.aligned_output(tgt_img, None)
        if self.adversary is None:
            name, term = "ent", entropy_minimisation_loss(tgt_out, self.cfg.uda.minent.lambda_ent)
        else:
            name, term = "adv", self.adversary.generator_loss(tgt_out)
        self._backward(term)
        losses = {"src_ce": src_ce.detach(), name: term.detach()}
        if self.adversary is not None:
            losses.update(self.adversary.discriminator_step(iteration, src_out, tgt_out))
        return losses, src_ce.detach() + term.detach(), (tgt_img, None, None, unlabelled)

    def aligned_output(self, img: torch.Tensor, label: torch.Tensor | None) -> tuple[torch.Tensor | None, torch.Tensor]:
        """The student's supervised loss (None without a label) and the float logits MinEnt/AdvSeg see:
        the main output upsampled to the input (the reference's ``forward_with_aux``), or on HRDA the
        fused output resized to the context scale (the reference's ``feature_scale`` 0.5)."""
        if self.hrda is not None:
            out = self._hrda_forward(img)
            loss = None if label is None else self._hrda_loss(out, label, None).total()
            size = (int(img.shape[-2] * self.hrda.context_scale), int(img.shape[-1] * self.hrda.context_scale))
            return loss, upsample_logits(out.fused, size)
        with autocast(self.device, self.amp_dtype):
            output = self._run.student_decoder(self._run.student_encoder(img))
        loss = None if label is None else decode_cross_entropy(output, label)
        return loss, upsample_logits(main_logits(output), (img.shape[-2], img.shape[-1]))
