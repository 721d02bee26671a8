"""The paper's presets: every one loads, expands and validates; their rows match the paper; overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from ablations.expand import expand
from ablations.presets import PresetOverrides, list_presets, load_preset
from ablations.spec import SpecError
from trainer.config import TrainConfig

PAPER_TABLES = ("strategies", "rcs_temperature", "feature_distance", "architecture", "encoder", "decoder")
SYNTHETIC_PRESETS = ["quickstart", "synthetic_gap", "synthetic_strategies"]
ALL_PRESETS = sorted([f"{t}_{b}" for t in PAPER_TABLES for b in ("gta", "synthia")] + SYNTHETIC_PRESETS)


def _row(name: str, variant: str, **sweep: object) -> TrainConfig:
    for plan in expand(load_preset(name)):
        if plan.variant == variant and plan.seed == 0 and all(plan.sweep[k] == v for k, v in sweep.items()):
            return TrainConfig.model_validate(plan.config)
    raise AssertionError(f"{name}: no row {variant} {sweep}")


def test_every_preset_is_listed_and_expands_to_valid_configs() -> None:
    infos = list_presets()
    assert sorted(i.name for i in infos) == ALL_PRESETS
    for info in infos:
        spec = load_preset(info.name)
        plans = expand(spec)
        assert info.n_trials == spec.n_trials == len(plans) > 0 and info.title and info.description
        assert len({p.name for p in plans}) == len({p.config_hash for p in plans}) == len(plans)
        for plan in plans:
            TrainConfig.model_validate(plan.config)


def test_grid_sizes() -> None:
    sizes = {i.name: i.n_trials for i in list_presets()}
    assert sizes["strategies_gta"] == 10 * 3
    assert sizes["rcs_temperature_gta"] == 4 * 3
    assert sizes["feature_distance_gta"] == 2 * 3 * 3
    assert sizes["architecture_synthia"] == 3 * 3
    assert sizes["encoder_gta"] == 3 * 3 * 1
    assert sizes["decoder_gta"] == 3 * 2 * 3
    assert sizes["quickstart"] == 3
    assert sizes["synthetic_gap"] == 9  # source-only, UDA, oracle x 3 seeds
    assert sizes["synthetic_strategies"] == 18  # 6 rows x 3 seeds


def test_strategies_rows_follow_the_paper() -> None:
    dacs = _row("strategies_gta", "dacs")
    assert (dacs.model.encoder, dacs.model.decoder, dacs.model.decoder_channels) == (
        "mit_b5",
        "segformer",
        768,
    )
    assert dacs.uda.ema.alpha == 0.99 and dacs.optim.warmup is False
    assert (dacs.uda.pseudo_label.crop_top, dacs.uda.pseudo_label.crop_bottom) == (0, 0)
    assert not dacs.uda.rcs.enabled and not dacs.uda.fd.enabled
    mixed = _row("strategies_gta", "warmup+rcs+fd+a999+plcrop")
    assert (
        mixed.optim.warmup and mixed.uda.rcs.enabled and mixed.uda.fd.enabled and mixed.uda.ema.alpha == 0.999
    )
    assert (mixed.uda.pseudo_label.crop_top, mixed.uda.pseudo_label.crop_bottom) == (15, 120)
    # The final row is the trainer's default config: the full DAFormer (with ImageNet weights).
    assert _row("strategies_gta", "daformer") == TrainConfig.model_validate(
        {"model": {"pretrained": "pretrained/mit_b5.pth"}}
    )
    assert load_preset("strategies_gta").published == {"warmup": 58.2, "daformer": 68.3}
    assert load_preset("strategies_synthia").published == {"daformer": 60.9}


def test_synthia_benchmark_changes_only_the_source() -> None:
    gta, synthia = _row("strategies_gta", "daformer"), _row("strategies_synthia", "daformer")
    assert (synthia.data.source.kind, synthia.data.source.root, synthia.data.source.resize) == (
        "synthia",
        "data/synthia",
        (1280, 760),
    )
    assert synthia.model_copy(update={"data": gta.data}) == gta
    assert len(synthia.eval_classes) == 16


def test_shared_cells_have_the_same_hash_across_presets() -> None:
    strategies = {p.variant: p.config_hash for p in expand(load_preset("strategies_gta")) if p.seed == 0}
    architecture = {p.variant: p.config_hash for p in expand(load_preset("architecture_gta")) if p.seed == 0}
    assert strategies["warmup"] == architecture["uda"]  # the same run: Table 1's SegFormer DACS
    assert load_preset("architecture_gta").published == {"source_only": 45.6, "uda": 58.2, "oracle": 76.4}


def test_sweep_presets() -> None:
    spec = load_preset("rcs_temperature_gta")
    assert [p.name for p in expand(spec) if p.seed == 1] == [
        "rcs_T=0.01/seed=1",
        "rcs_T=0.1/seed=1",
        "rcs_T=1/seed=1",
        "rcs_T=inf/seed=1",
    ]
    cold = _row("rcs_temperature_gta", "rcs", **{"uda.rcs.temperature": "Infinity"})
    assert cold.optim.warmup and cold.uda.rcs.enabled and not cold.uda.fd.enabled
    fd_all = _row("feature_distance_gta", "fd_all", **{"uda.fd.fd_lambda": 0.05})
    assert fd_all.uda.fd.classes == "all" and fd_all.uda.fd.enabled and not fd_all.uda.rcs.enabled
    b3 = _row("encoder_gta", "mit_b3", **{"uda.mode": "target_only"})
    assert (b3.model.encoder, b3.model.pretrained, b3.model.decoder_channels) == (
        "mit_b3",
        "pretrained/mit_b3.pth",
        768,
    )
    head = _row("decoder_gta", "segformer_256", **{"uda.mode": "uda"})
    assert (head.model.decoder, head.model.decoder_channels, head.uda.ema.alpha) == ("segformer", 256, 0.999)


def test_quickstart_is_small() -> None:
    spec = load_preset("quickstart")
    assert spec.seeds == [0] and spec.baseline == "source_only" and spec.resources.gpus == 0
    cfg = _row("quickstart", "daformer")
    assert (cfg.model.encoder, cfg.model.pretrained, cfg.run.iterations, cfg.run.precision) == (
        "mit_b0",
        "data/pretrained/mit_b0_standin.pth",
        300,
        "fp32",
    )
    assert cfg.data.source.root == "data/synthetic/gta" and cfg.data.crop_size == (128, 128)
    assert cfg.uda.rcs.min_pixels == round(3000 * 128 * 256 / (1914 * 1052))
    assert _row("quickstart", "source_only").uda.mode == "source_only"


def test_overrides_of_seeds_iterations_paths_and_resources() -> None:
    overrides = PresetOverrides(
        seeds=[3, 4],
        iterations=2000,
        source_root="/d/gta",
        target_root="/d/cs",
        resources={"cpus": 2, "gpus": 0.5},
    )
    spec = load_preset("strategies_gta", overrides)
    assert spec.seeds == [3, 4] and spec.resources.gpus == 0.5 and spec.n_trials == 20
    cfg = TrainConfig.model_validate(expand(spec)[-1].config)
    assert (cfg.run.iterations, cfg.run.eval_interval, cfg.run.checkpoint_interval) == (2000, 2000, 2000)
    assert (cfg.data.source.root, cfg.data.target.root, cfg.run.seed) == ("/d/gta", "/d/cs", 4)
    long = load_preset("quickstart", PresetOverrides(iterations=1000))
    assert TrainConfig.model_validate(expand(long)[0].config).run.eval_interval == 100  # kept when shorter
    assert load_preset("quickstart", PresetOverrides()) == load_preset("quickstart")


def test_bad_overrides_are_refused() -> None:
    with pytest.raises(ValueError):
        PresetOverrides(seeds=[])
    with pytest.raises(ValueError):
        PresetOverrides(iterations=0)
    with pytest.raises(SpecError) as info:
        load_preset("quickstart", PresetOverrides(seeds=[1, 1]))
    assert info.value.loc == ("overrides", "seeds") and "unique" in info.value.message


def test_unknown_preset_lists_the_known_ones() -> None:
    with pytest.raises(SpecError) as info:
        load_preset("strategies")
    assert info.value.loc == ("preset",)
    assert "unknown preset 'strategies'; known presets: architecture_gta" in info.value.message
    assert "quickstart" in info.value.message


def test_bad_preset_file_names_the_file(tmp_path: Path) -> None:
    text = (
        "title: t\ndescription: d\nspec:\n  seeds: [0]\n  variants: [{name: a, overrides: {uda.rcs.tmp: 1}}]"
    )
    (tmp_path / "broken.yaml").write_text(text)
    with pytest.raises(SpecError) as info:
        list_presets(tmp_path)
    assert "broken.yaml" in str(info.value) and "uda.rcs.tmp: unknown field" in str(info.value)
    (tmp_path / "broken.yaml").write_text("title: t\n")
    with pytest.raises(SpecError, match="not a preset file"):
        load_preset("broken", directory=tmp_path)
