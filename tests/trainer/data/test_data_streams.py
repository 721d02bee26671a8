"""Training streams and the val loader: modes, shapes, determinism across workers, exact resume."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from trainer.config import TrainConfig, config_from_dict
from trainer.data import DataError, build_train_streams, build_val_loader
from trainer.data.prepare import prepare
from trainer.data.synthetic.writer import write_dataset


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synthetic")
    write_dataset(out, (10, 6, 3), (64, 128), seed=1)
    prepare("gta", out / "gta", workers=1)
    return out


def _cfg(bench: Path, workers: int = 0, mode: str = "uda", rcs: bool = True, seed: int = 3) -> TrainConfig:
    return config_from_dict({
        "data": {"source": {"kind": "gta", "root": str(bench / "gta"), "resize": [128, 64]},
                 "target": {"kind": "cityscapes", "root": str(bench / "cityscapes"), "resize": [96, 48]},
                 "val_resize": [96, 48], "crop_size": [32, 40], "batch_size": 2, "num_workers": workers},
        "uda": {"mode": mode, "rcs": {"enabled": rcs, "min_pixels": 5}},
        "run": {"seed": seed},
    })


def _take(stream, n: int) -> list[dict[str, torch.Tensor]]:  # noqa: ANN001
    return [next(stream) for _ in range(n)]


def _same(a: list[dict[str, torch.Tensor]], b: list[dict[str, torch.Tensor]]) -> bool:
    return all(torch.equal(x[k], y[k]) for x, y in zip(a, b, strict=True) for k in ("img", "label"))


def test_uda_batches_have_the_contract_shapes(bench: Path) -> None:
    streams = build_train_streams(_cfg(bench))
    assert streams.unlabelled is not None
    src, tgt = next(streams.labelled), next(streams.unlabelled)
    assert src["img"].shape == (2, 3, 32, 40) and src["img"].dtype == torch.float32
    assert src["label"].shape == (2, 32, 40) and src["label"].dtype == torch.long
    assert tgt["img"].shape == (2, 3, 32, 40)
    assert set(src["label"].unique().tolist()) <= set(range(19)) | {255}
    assert -2.2 < float(src["img"].min()) and float(src["img"].max()) < 2.7  # ImageNet-normalised


def test_modes(bench: Path) -> None:
    assert build_train_streams(_cfg(bench, mode="source_only")).unlabelled is None
    oracle = build_train_streams(_cfg(bench, mode="target_only"))
    assert oracle.unlabelled is None
    assert (next(oracle.labelled)["label"] != 255).any()


def test_same_batches_with_and_without_workers(bench: Path) -> None:
    serial = build_train_streams(_cfg(bench, workers=0))
    parallel = build_train_streams(_cfg(bench, workers=2))
    assert _same(_take(serial.labelled, 3), _take(parallel.labelled, 3))
    assert serial.unlabelled is not None and parallel.unlabelled is not None
    assert _same(_take(serial.unlabelled, 2), _take(parallel.unlabelled, 2))


def test_resume_from_state_and_from_start_iteration(bench: Path) -> None:
    cfg = _cfg(bench)
    full = _take(build_train_streams(cfg).labelled, 5)
    streams = build_train_streams(cfg)
    _take(streams.labelled, 2)
    state = streams.state_dict()
    assert state["labelled"] == 2
    fresh = build_train_streams(cfg)
    fresh.load_state_dict(state)
    assert _same(_take(fresh.labelled, 3), full[2:])
    assert _same(_take(build_train_streams(cfg, start_iteration=4).labelled, 1), full[4:])
    other_seed = _take(build_train_streams(_cfg(bench, seed=4)).labelled, 1)
    assert not _same(other_seed, full[:1])


def test_without_rcs_and_missing_stats(bench: Path, tmp_path: Path) -> None:
    assert next(build_train_streams(_cfg(bench, rcs=False)).labelled)["img"].shape[0] == 2
    stats = bench / "gta" / "sample_class_stats.json"
    moved = tmp_path / "stats.json"
    stats.rename(moved)
    try:
        with pytest.raises(DataError, match="run `python -m trainer.data.prepare"):
            build_train_streams(_cfg(bench))
    finally:
        moved.rename(stats)


def test_val_loader_whole_images(bench: Path) -> None:
    """Images are resized for the network; labels stay at full resolution, where IoU is scored."""
    batches = list(build_val_loader(_cfg(bench)))
    assert len(batches) == 3
    assert batches[0]["img"].shape == (1, 3, 48, 96) and batches[0]["label"].shape == (1, 64, 128)
    assert (batches[0]["label"][0, -1] == 255).all()  # the ego-vehicle hood is ignored


def test_photometric_distortion_and_oracle_crop_follow_the_reference(bench: Path) -> None:
    """Source-only and oracle: PhotoMetricDistortion; oracle crop cat_max_ratio 0.75; UDA: neither."""
    uda = build_train_streams(_cfg(bench))
    assert uda.unlabelled is not None
    assert not uda.labelled.dataset.settings.photometric and not uda.unlabelled.dataset.settings.photometric
    assert uda.unlabelled.dataset.settings.cat_max_ratio == 1.0
    source_only = build_train_streams(_cfg(bench, mode="source_only"))
    assert source_only.labelled.dataset.settings.photometric
    oracle = build_train_streams(_cfg(bench, mode="target_only"))
    assert oracle.labelled.dataset.settings.photometric
    assert oracle.labelled.dataset.settings.cat_max_ratio == 0.75
    cfg = _cfg(bench, mode="source_only")
    off = cfg.model_copy(update={"data": cfg.data.model_copy(update={"photometric_distortion": False})})
    assert not build_train_streams(off).labelled.dataset.settings.photometric
