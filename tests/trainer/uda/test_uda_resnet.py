"""The UDA step on a dilated ResNet: FD at stride 8, the frozen ImageNet encoder of any family,
BatchNorm weight decay as the reference's paramwise_cfg gives it, and a few real training steps."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from trainer.config import TrainConfig, load_config
from trainer.data import build_train_streams
from trainer.data.prepare import prepare
from trainer.data.synthetic.writer import write_dataset
from trainer.models import (
    DilatedResNet,
    SegFormerHead,
    Segmentor,
    SegmentorSpec,
    build_encoder,
    build_segmentor_from_config,
)
from trainer.models.resnest import create_resnest
from trainer.uda.feature_distance import feature_distance_loss
from trainer.uda.step import UDAStep

CPU = torch.device("cpu")


def test_fd_downscales_the_label_by_the_stride_8_feature_grid() -> None:
    """16x16 label on a 2x2 grid (factor 8): car in the top-left cell, road elsewhere."""
    label = torch.zeros(1, 16, 16, dtype=torch.long)
    label[:, :8, :8] = 13  # car, a thing class
    student = torch.zeros(1, 2, 2, 2)
    frozen = torch.zeros(1, 2, 2, 2)
    frozen[0, :, 0, 0] = torch.tensor([3.0, 4.0])  # distance 5 on the car cell
    frozen[0, :, 0, 1] = torch.tensor([6.0, 8.0])  # distance 10 on a road cell
    things = feature_distance_loss(student, frozen, label, 19, (11, 13), scale_min_ratio=0.75)
    assert things.item() == pytest.approx(5.0)
    every = feature_distance_loss(student, frozen, label, 19, None, scale_min_ratio=0.75)
    assert every.item() == pytest.approx((5.0 + 10.0) / 4)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("synthetic")
    write_dataset(root, (6, 4, 2), (64, 96), seed=0)
    prepare("gta", root / "gta", 1)
    prepare("cityscapes", root / "cityscapes", 1)
    return root


def _cfg(data: Path, out: Path, *extra: str) -> TrainConfig:
    return load_config(
        None,
        [
            "model.encoder=s50",
            "model.decoder=segformer",
            "model.decoder_channels=16",
            f"data.source={{kind: gta, root: {data / 'gta'}, resize: [96, 64]}}",
            f"data.target={{kind: cityscapes, root: {data / 'cityscapes'}, resize: [96, 64]}}",
            "data.val_resize=[96,64]",
            "data.crop_size=[64,64]",
            "data.num_workers=0",
            "uda.pseudo_label.threshold=0.06",
            "uda.rcs.min_pixels=10",
            "uda.fd.classes=all",
            "optim.warmup_iters=2",
            "run.iterations=3",
            f"run.output_dir={out}",
            "run.device=cpu",
            *extra,
        ],
    )


def _tiny_student() -> Segmentor:
    """A ResNeSt with 1 block per stage and 8..64-channel stages: the config cannot pick such widths."""
    encoder = create_resnest((1, 1, 1, 1), stem_width=8, channels=(8, 16, 32, 64))
    head = SegFormerHead(encoder.out_channels, 19, 16)
    return Segmentor(encoder, head, SegmentorSpec("s50", "segformer", 19, 16))


def test_uda_steps_with_fd_train_a_tiny_resnest(synthetic: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    cfg = _cfg(synthetic, tmp_path)
    step = UDAStep(cfg, _tiny_student(), CPU)
    assert isinstance(step.frozen_encoder, DilatedResNet) and not step.frozen_encoder.training
    before = {k: v.clone() for k, v in step.student.encoder.state_dict().items() if "running" not in k}
    streams = build_train_streams(cfg)
    assert streams.unlabelled is not None
    history = [step(i, next(streams.labelled), next(streams.unlabelled)) for i in range(3)]
    for losses in history:
        assert set(losses) >= {"src_ce", "fd", "mix_ce", "total"}
        assert all(math.isfinite(float(v)) for v in losses.values())
        assert float(losses["fd"]) > 0.0  # stride-8 features on a 64x64 crop: an 8x8 grid
    after = step.student.encoder.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    frozen = step.frozen_encoder.state_dict()
    assert all(torch.equal(frozen[k], v) for k, v in before.items())  # the ImageNet copy never moves


def test_encoder_batchnorms_keep_weight_decay_as_in_the_reference(synthetic: Path, tmp_path: Path) -> None:
    step = UDAStep(_cfg(synthetic, tmp_path, "uda.mode=source_only"), _tiny_student(), CPU)
    groups = {group["name"]: group for group in step.optimizer.param_groups}
    assert "encoder_norm" not in groups  # mmcv names ResNet BNs bn*/stem.N/downsample.N: "norm" matches none
    encoder_params = {id(p) for p in groups["encoder"]["params"]}
    assert all(id(p) in encoder_params for p in step.student.encoder.parameters())
    assert groups["encoder"]["weight_decay"] == pytest.approx(0.01)


def _openmmlab_state(encoder: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Our timm-layout keys written back in the open-mmlab layout (``conv1.N`` -> ``stem.N``, ``bn1`` -> ``stem.7``)."""
    state = {}
    for key, value in encoder.state_dict().items():
        if key.startswith("conv1."):
            key = "stem." + key.removeprefix("conv1.")
        elif key.startswith("bn1."):
            key = "stem.7." + key.removeprefix("bn1.")
        state[key] = value.clone()
    return state


def test_frozen_fd_encoder_is_the_configured_cnn_with_its_imagenet_file(synthetic: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    imagenet = build_encoder("r50v1c")
    state = _openmmlab_state(imagenet)
    state["fc.weight"], state["fc.bias"] = torch.zeros(1000, 2048), torch.zeros(1000)
    torch.save(state, path := tmp_path / "resnet50_v1c.pth")
    cfg = _cfg(synthetic, tmp_path, "model.encoder=r50v1c", f"model.pretrained={path}")
    step = UDAStep(cfg, _tiny_student(), CPU)  # the student's size does not matter to the frozen encoder
    frozen = step.frozen_encoder
    assert isinstance(frozen, DilatedResNet) and frozen.depths == (3, 4, 6, 3) and not frozen.training
    assert not any(p.requires_grad for p in frozen.parameters())
    for key, value in imagenet.state_dict().items():
        assert torch.equal(frozen.state_dict()[key], value), key
    student = build_segmentor_from_config(cfg.model)  # model.pretrained initialises the student's encoder too
    assert all(torch.equal(student.encoder.state_dict()[k], v) for k, v in imagenet.state_dict().items())
