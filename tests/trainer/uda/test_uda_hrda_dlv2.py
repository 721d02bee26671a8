"""HRDA on a DeepLabV2 head inside the UDA step: losses on stride-8 logits, FD on the context features."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from uda_tiny import batches, tiny_config

from trainer.models import Segmentor, SegmentorSpec, wrap_hrda
from trainer.models.dlv2_head import DLV2Head
from trainer.models.hrda import resize_by
from trainer.models.resnet import Bottleneck, DilatedResNet
from trainer.uda import UDAStep
from trainer.uda.feature_distance import feature_distance_loss
from trainer.uda.hrda_losses import hrda_loss


def _step() -> UDAStep:
    torch.manual_seed(0)
    encoder = DilatedResNet(Bottleneck, (1, 1, 1, 1), stem_width=8, channels=(8, 8, 8, 8))
    base = Segmentor(encoder, DLV2Head(32, 4), SegmentorSpec("tiny_resnet", "dlv2red", 4, 256))
    cfg = tiny_config(model={"hrda": {"enabled": True, "hr_crop_size": [32, 32]}}, data={"crop_size": [64, 64]})
    step = UDAStep(cfg, wrap_hrda(base, hr_crop_size=(32, 32)), torch.device("cpu"))
    with torch.no_grad():  # move the student away from the frozen copy of its initial encoder
        for param in step.student.encoder.parameters():
            param.add_(0.01)
    return step


def test_losses_upsample_the_stride_8_logits_to_the_label_and_the_box() -> None:
    step = _step()
    assert step.hrda is not None
    src, _ = batches(64)
    box = (8, 40, 24, 56)
    out = step.hrda.forward_train(src["img"], box)
    assert out.fused.shape[-2:] == (8, 8) and out.detail.shape[-2:] == (4, 4)  # 64 / 8 and 32 / 8
    loss = hrda_loss(out, src["label"], None, hr_loss_weight=0.1)

    def ce(logits: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        up = F.interpolate(logits, size=label.shape[-2:], mode="bilinear", align_corners=False)
        return F.cross_entropy(up, label, ignore_index=255)

    assert torch.allclose(loss.fused, 0.9 * ce(out.fused, src["label"]), rtol=1e-5)
    assert torch.allclose(loss.detail, 0.1 * ce(out.detail, src["label"][:, 8:40, 24:56]), rtol=1e-5)


def test_fd_reads_the_last_resnet_stage_of_the_context_pass() -> None:
    step = _step()
    assert step.hrda is not None and step.frozen_encoder is not None
    src, _ = batches(64)
    src["label"][:] = 2  # thing class everywhere: every cell counts
    state = step.generator.get_state()
    _, fd = step.source_losses(src["img"], src["label"])
    step.generator.set_state(state)
    out = step.hrda.forward_train(src["img"], step.hrda.draw_box((64, 64), step.generator))
    with torch.no_grad():
        frozen = step.frozen_encoder(resize_by(src["img"], 0.5))[-1]
    assert out.context_features[-1].shape[-3:] == (32, 4, 4)  # 32 context / stride 8: label factor 64 / 4 = 16
    distance = torch.linalg.vector_norm(out.context_features[-1] - frozen, dim=1).mean()
    assert fd.item() > 0 and torch.allclose(fd, 0.005 * distance, rtol=1e-5)
    assert torch.allclose(
        fd, 0.005 * feature_distance_loss(out.context_features[-1], frozen, src["label"], 4, (2, 3), 0.75), rtol=1e-6
    )
