"""Every decoder of Tables 1, 2 and 7 trains in the UDA step and runs through the engine.

The UDA iteration (source CE with any auxiliary CE, FD, pseudo-labels, ClassMix, mixed CE, one
AdamW step) runs on the synthetic benchmark with a tiny MiT (widths 8..32) under each head; two
heads with their own plumbing (DANet's aux logits, the F4-context head's neck for FD) also run a
whole ``train()`` with evaluation and checkpoints on MiT-B0.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from trainer.config import TrainConfig, load_config
from trainer.data.prepare import prepare
from trainer.data.streams import build_train_streams
from trainer.data.synthetic.writer import write_dataset
from trainer.engine import train
from trainer.models import MixVisionTransformer, Segmentor, SegmentorSpec
from trainer.models.builder import DECODERS, build_decoder
from trainer.models.head_outputs import LogitsWithAux
from trainer.uda.losses import pixel_cross_entropy
from trainer.uda.step import UDAStep

TINY = (8, 16, 24, 32)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("synthetic")
    write_dataset(root, (8, 6, 3), (64, 96), seed=0)
    prepare("gta", root / "gta", 1)
    prepare("cityscapes", root / "cityscapes", 1)
    return root


def _cfg(data: Path, out: Path, *extra: str) -> TrainConfig:
    return load_config(
        None,
        [
            "model.encoder=mit_b0",
            "model.decoder_channels=16",
            f"data.source={{kind: gta, root: {data / 'gta'}, resize: [96, 64]}}",
            f"data.target={{kind: cityscapes, root: {data / 'cityscapes'}, resize: [96, 64]}}",
            "data.val_resize=[96,64]",
            "data.crop_size=[64,64]",
            "data.num_workers=0",
            "uda.pseudo_label.threshold=0.06",
            "uda.pseudo_label.crop_top=2",
            "uda.pseudo_label.crop_bottom=8",
            "uda.rcs.min_pixels=10",
            "optim.warmup_iters=1",
            "run.iterations=2",
            "run.eval_interval=2",
            "run.checkpoint_interval=2",
            "run.log_interval=1",
            f"run.output_dir={out}",
            "run.device=cpu",
            *extra,
        ],
    )


def _tiny_student(decoder: str) -> Segmentor:
    torch.manual_seed(0)
    encoder = MixVisionTransformer(embed_dims=TINY, num_heads=(1, 2, 3, 4), depths=(1, 1, 1, 1))
    head = build_decoder(decoder, TINY, num_classes=19, channels=16)
    return Segmentor(encoder, head, SegmentorSpec("custom", decoder, 19, 16))


@pytest.mark.slow
@pytest.mark.parametrize("decoder", list(DECODERS))
def test_uda_step_trains_every_head(decoder: str, synthetic: Path, tmp_path: Path) -> None:
    cfg = _cfg(synthetic, tmp_path, "uda.fd.classes=things")
    step = UDAStep(cfg, _tiny_student(decoder), torch.device("cpu"))
    before = copy.deepcopy(step.student.decoder.state_dict())
    streams = build_train_streams(cfg)
    assert streams.unlabelled is not None
    for iteration in range(2):
        losses = step(iteration, next(streams.labelled), next(streams.unlabelled))
        assert set(losses) >= {"src_ce", "fd", "mix_ce", "total"}
        assert all(torch.isfinite(value).all() for value in losses.values()), losses
    after = step.student.decoder.state_dict()
    changed = [k for k in before if before[k].is_floating_point() and not torch.equal(before[k], after[k])]
    assert changed, "the head did not learn"
    if decoder == "segformer":  # the inherited conv_seg is never used, so it never moves
        assert not any(k.startswith("conv_seg.") for k in changed)
    with torch.no_grad():
        logits = step.student.eval().inference(torch.randn(1, 3, 64, 96))
    assert logits.shape == (1, 19, 64, 96)


def test_danet_source_loss_adds_both_aux_losses(synthetic: Path, tmp_path: Path) -> None:
    """src_ce of DANet = CE(main) + CE(pam) + CE(cam), read from the same forward."""
    cfg = _cfg(synthetic, tmp_path, "uda.mode=source_only")
    step = UDAStep(cfg, _tiny_student("da_nodbn"), torch.device("cpu"))
    batch = next(build_train_streams(cfg).labelled)
    torch.manual_seed(3)  # the same drop-path and dropout draws in both forwards
    src_ce, _ = step.source_losses(batch["img"], batch["label"].long())
    torch.manual_seed(3)
    output = step.student.decoder(step.student.encoder(batch["img"]))
    assert isinstance(output, LogitsWithAux)
    parts = [pixel_cross_entropy(t, batch["label"].long()) for t in (output.logits, *output.aux_logits)]
    assert src_ce.item() == pytest.approx(sum(p.item() for p in parts), rel=1e-5)
    assert parts[1].item() != pytest.approx(parts[0].item())  # the aux terms are distinct losses


@pytest.mark.slow
@pytest.mark.parametrize("decoder", ["da_nodbn", "daformer_sepaspp_bottleneck"])
def test_engine_runs_heads_with_aux_logits_and_a_neck(decoder: str, synthetic: Path, tmp_path: Path) -> None:
    cfg = _cfg(synthetic, tmp_path / decoder, f"model.decoder={decoder}", "uda.fd.classes=things")
    summary = train(cfg)
    assert summary["final_step"] == 2
    assert 0.0 <= summary["final_miou"] <= 100.0 and Path(summary["checkpoint"]).is_file()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (runs on a GPU machine)")
@pytest.mark.parametrize("decoder", list(DECODERS))
def test_uda_step_on_cuda_with_bf16_and_channels_last(decoder: str, synthetic: Path, tmp_path: Path) -> None:
    """The GPU path of every head: bf16 autocast, channels_last, fused AdamW; finite losses and logits."""
    cfg = _cfg(synthetic, tmp_path, "run.device=cuda", "run.precision=auto", "run.channels_last=true")
    step = UDAStep(cfg, _tiny_student(decoder), torch.device("cuda"))
    streams = build_train_streams(cfg)
    assert streams.unlabelled is not None
    for iteration in range(2):
        losses = step(iteration, next(streams.labelled), next(streams.unlabelled))
        assert all(torch.isfinite(value).all() for value in losses.values()), losses
    with torch.no_grad():
        logits = step.student.eval().inference(torch.randn(1, 3, 64, 96, device="cuda"))
    assert logits.shape == (1, 19, 64, 96) and torch.isfinite(logits).all()
