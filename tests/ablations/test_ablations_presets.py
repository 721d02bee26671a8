"""The paper's presets: every one loads, expands and validates; their rows match the paper; overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from ablations.expand import expand
from ablations.presets import PresetOverrides, list_presets, load_preset
from ablations.spec import SpecError
from trainer.config import TrainConfig

PAPER_TABLES = {
    "table1_architectures": "Table 1",
    "table2_encoder_decoder": "Table 2",
    "table3_encoders": "Table 3",
    "table4_warmup": "Table 4",
    "table5_strategies": "Table 5",
    "table6_daformer_gta": "Table 6",
    "table6_daformer_synthia": "Table 6",
    "table7_decoders": "Table 7",
}
SYNTHETIC_PRESETS = ["quickstart", "synthetic_gap", "synthetic_strategies"]
EXTENSIONS = [f"{t}_{b}" for t in ("strategies", "rcs_temperature", "feature_distance") for b in ("gta", "synthia")]
ALL_PRESETS = sorted(
    [*PAPER_TABLES, *EXTENSIONS, "further_datasets_acdc", "further_datasets_darkzurich", *SYNTHETIC_PRESETS]
)
# HRDA's and MIC's tables and the method lineage (test_ablations_presets_hrda_mic.py)
ALL_PRESETS = sorted(ALL_PRESETS + [
    "hrda_components_gta", "hrda_context_gta", "hrda_context_resolution_gta", "hrda_crop_size_gta", "hrda_detail_gta",
    "hrda_detail_variants_gta", "hrda_lambda_d_gta",
    "hrda_naive_gta", "lineage_gta", "lineage_synthetic", "lineage_synthia", "mic_components_gta",
    "mic_mask_params_gta", "mic_supervised", "mic_where_gta",
])
# HRDA Table 2 and MIC Table 1: the UDA methods on DeepLabV2 (test_ablations_presets_uda_methods.py)
ALL_PRESETS = sorted(ALL_PRESETS + ["hrda_uda_methods_gta", "mic_uda_methods_gta"])
# Cityscapes -> ACDC / Dark Zurich with HRDA and MIC(HRDA) (MIC Tables 2 and 6, HRDA experiment 49)
ALL_PRESETS = sorted([*ALL_PRESETS, "mic_benchmarks_acdc", "mic_benchmarks_darkzurich", "mic_where_acdc"])


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
        assert info.table and info.table == PAPER_TABLES.get(info.name, info.table)
        assert len({p.name for p in plans}) == len({p.config_hash for p in plans}) == len(plans)
        for plan in plans:
            TrainConfig.model_validate(plan.config)


def test_grid_sizes() -> None:
    """Rows x seeds as the reference's experiments.py ran them (ids 1-8)."""
    sizes = {i.name: i.n_trials for i in list_presets()}
    assert sizes["table1_architectures"] == 5 * 3 * 3  # 5 pairs x (source-only, DACS, oracle) x 3 seeds
    assert sizes["table2_encoder_decoder"] == 4 * 2 * 3  # 2 new + 2 Table-1 pairs x (DACS, oracle) x 3
    assert sizes["table3_encoders"] == 8 * 3 * 1  # 8 pairs x 3 modes x seed 0
    assert sizes["table4_warmup"] == 2 * 2 * 2 * 1  # 2 pairs x 2 modes x (poly10, poly10warm) x seed 0
    assert sizes["table5_strategies"] == 8 * 3
    assert sizes["table6_daformer_gta"] == sizes["table6_daformer_synthia"] == 3
    assert sizes["table7_decoders"] == 8 * 2 * 3
    assert sizes["further_datasets_acdc"] == sizes["further_datasets_darkzurich"] == 3
    assert sizes["strategies_gta"] == 10 * 3
    assert sizes["rcs_temperature_gta"] == 4 * 3
    assert sizes["feature_distance_gta"] == 2 * 3 * 3
    assert sizes["quickstart"] == 3
    assert sizes["synthetic_gap"] == 9  # source-only, UDA, oracle x 3 seeds
    assert sizes["synthetic_strategies"] == 18  # 6 rows x 3 seeds


def _hashes(name: str) -> dict[str, str]:
    return {p.variant: p.config_hash for p in expand(load_preset(name)) if p.seed == 0}


def test_table1_rows_follow_the_reference() -> None:
    dlv2 = _row("table1_architectures", "dlv2red+r101v1c_uda")
    assert (dlv2.model.encoder, dlv2.model.decoder, dlv2.model.pretrained) == (
        "r101v1c", "dlv2red", "pretrained/resnet101_v1c-e67eebb6.pth")
    assert dlv2.uda.ema.alpha == 0.99 and not dlv2.uda.rcs.enabled and not dlv2.uda.fd.enabled
    assert (dlv2.uda.pseudo_label.crop_top, dlv2.uda.pseudo_label.crop_bottom) == (0, 0)
    assert dlv2.optim.schedule == "poly10warm" and dlv2.optim.warmup and dlv2.optim.min_lr == 0.0
    assert _row("table1_architectures", "da_nodbn+r101v1c_oracle").uda.mode == "target_only"
    segformer = _row("table1_architectures", "segformer+mitb5_source_only")
    assert (segformer.model.decoder, segformer.model.decoder_channels, segformer.uda.mode) == (
        "segformer", 768, "source_only")
    assert load_preset("table1_architectures").published == {
        "segformer+mitb5_source_only": 45.6, "segformer+mitb5_uda": 58.2, "segformer+mitb5_oracle": 76.4}


def test_table4_no_warmup_rows_use_poly10() -> None:
    cold = _row("table4_warmup", "segformer+mitb5_nowarmup_uda")
    assert (cold.optim.schedule, cold.optim.warmup, cold.optim.min_lr, cold.optim.poly_power) == (
        "poly10", False, 1e-4, 1.0)
    warm = _row("table4_warmup", "segformer+mitb5_warmup_uda")
    assert (warm.optim.warmup, warm.optim.min_lr) == (True, 0.0)
    assert _row("strategies_gta", "dacs").optim.min_lr == 1e-4  # the extension grid's no-warmup rows too
    assert _row("strategies_gta", "warmup").optim.min_lr == 0.0


def test_table5_rows_follow_experiment_5() -> None:
    inf = _row("table5_strategies", "rcs_T_inf")
    assert inf.uda.rcs.enabled and inf.uda.rcs.temperature == float("inf") and inf.optim.warmup
    fd_all = _row("table5_strategies", "fd_all")
    assert fd_all.uda.fd.enabled and fd_all.uda.fd.classes == "all" and fd_all.uda.fd.fd_lambda == 0.005
    final = _row("table5_strategies", "rcs+fd_things+a999+plcrop")
    assert final.uda.ema.alpha == 0.999 and final.uda.rcs.temperature == 0.01 and final.uda.fd.classes == "things"
    assert (final.uda.pseudo_label.crop_top, final.uda.pseudo_label.crop_bottom) == (15, 120)
    dlv2 = _row("table5_strategies", "dlv2red+r101v1c_rcs+fd_things+a999+plcrop")
    assert dlv2.optim.norm_weight_decay == 0.01  # BatchNorms decayed, as the reference's CNN rows
    assert dlv2.model_copy(update={"model": final.model, "optim": final.optim}) == final


def test_table7_and_table6_are_the_full_strategies() -> None:
    daformer = _row("table7_decoders", "daformer+mitb5_uda")
    expected = TrainConfig.model_validate(
        {"model": {"pretrained": "pretrained/mit_b5.pth"}, "optim": {"schedule": "poly10warm"}})
    assert daformer == expected == _row("table6_daformer_gta", "daformer")
    assert _row("strategies_gta", "daformer") == expected
    upernet = _row("table7_decoders", "upernet_ch256+mitb5_oracle")
    assert (upernet.model.decoder, upernet.model.decoder_channels, upernet.uda.mode) == ("upernet", 256, "target_only")
    assert load_preset("table6_daformer_gta").published == {"daformer": 68.3}
    assert load_preset("table6_daformer_synthia").published == {"daformer": 60.9}
    assert len(_row("table6_daformer_synthia", "daformer").eval_classes) == 16


def test_shared_cells_have_the_same_hash_across_presets() -> None:
    """A row that is another table's run has the same config, so the service reuses its trials."""
    t1, t2, t3, t4 = (_hashes(n) for n in ("table1_architectures", "table2_encoder_decoder", "table3_encoders",
                                            "table4_warmup"))
    t5, t7, strategies = _hashes("table5_strategies"), _hashes("table7_decoders"), _hashes("strategies_gta")
    segformer_dacs = t1["segformer+mitb5_uda"]
    assert segformer_dacs == t2["segformer+mitb5_uda"] == t3["segformer+mitb5_uda"] == t5["dacs"]
    assert segformer_dacs == t4["segformer+mitb5_warmup_uda"] == strategies["warmup"]
    assert t1["dlv3p_nodbn+r101v1c_oracle"] == t2["dlv3p_nodbn+r101v1c_oracle"]
    assert t1["dlv2red+r101v1c_source_only"] == t3["dlv2red+r101v1c_source_only"]
    assert t1["segformer+mitb5_oracle"] == t7["segformer+mitb5_oracle"]
    assert t5["rcs+fd_things+a999+plcrop"] == t7["segformer+mitb5_uda"]
    assert t5["dlv2red+r101v1c_rcs+fd_things+a999+plcrop"] != t1["dlv2red+r101v1c_uda"]


def test_strategies_extension_rows() -> None:
    dacs = _row("strategies_gta", "dacs")
    assert (dacs.model.encoder, dacs.model.decoder, dacs.model.decoder_channels) == ("mit_b5", "segformer", 768)
    assert dacs.uda.ema.alpha == 0.99 and dacs.optim.warmup is False and dacs.optim.schedule == "poly10"
    assert (dacs.uda.pseudo_label.crop_top, dacs.uda.pseudo_label.crop_bottom) == (0, 0)
    assert not dacs.uda.rcs.enabled and not dacs.uda.fd.enabled
    mixed = _row("strategies_gta", "warmup+rcs+fd+a999+plcrop")
    assert mixed.optim.warmup and mixed.uda.rcs.enabled and mixed.uda.fd.enabled and mixed.uda.ema.alpha == 0.999
    assert (mixed.uda.pseudo_label.crop_top, mixed.uda.pseudo_label.crop_bottom) == (15, 120)
    assert load_preset("strategies_gta").published == {"warmup": 58.2, "daformer": 68.3}
    assert load_preset("strategies_synthia").published == {"daformer": 60.9}


def test_synthia_benchmark_changes_only_the_source() -> None:
    gta, synthia = _row("strategies_gta", "daformer"), _row("strategies_synthia", "daformer")
    assert (synthia.data.source.kind, synthia.data.source.root, synthia.data.source.resize) == (
        "synthia", "data/synthia", (1280, 760))
    assert synthia.model_copy(update={"data": gta.data}) == gta
    assert len(synthia.eval_classes) == 16


def test_further_datasets_adapt_from_cityscapes() -> None:
    acdc = _row("further_datasets_acdc", "daformer")
    assert (acdc.data.source.kind, acdc.data.source.resize) == ("cityscapes", (1024, 512))
    assert (acdc.data.target.kind, acdc.data.target.root, acdc.data.target.resize) == ("acdc", "data/acdc", (960, 540))
    assert acdc.data.val_resize == (960, 540) and len(acdc.eval_classes) == 19
    assert (acdc.uda.pseudo_label.crop_top, acdc.uda.pseudo_label.crop_bottom) == (15, 120)  # id 8: plcrop
    dz = _row("further_datasets_darkzurich", "daformer")
    assert dz.model_copy(update={"data": acdc.data}) == acdc and dz.data.target.kind == "dark_zurich"
    assert load_preset("further_datasets_acdc").published is None  # the README's figures are test-split


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
    assert "unknown preset 'strategies'; known presets: feature_distance_gta" in info.value.message
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


def test_demo_presets_keep_the_pipeline_of_their_measured_figures() -> None:
    assert _row("quickstart", "source_only").data.photometric_distortion is False
    assert _row("synthetic_gap", "oracle").data.photometric_distortion is False
    assert _row("table1_architectures", "segformer+mitb5_oracle").data.photometric_distortion is None  # auto: on


def test_cnn_encoders_decay_their_batchnorms_as_the_reference() -> None:
    """experiments.py sets decay_mult 0 on 'norm' parameters only for MiT backbones."""
    for name in ("table1_architectures", "table2_encoder_decoder", "table3_encoders", "table4_warmup",
                 "table5_strategies", "table7_decoders"):
        for plan in expand(load_preset(name)):
            cfg = TrainConfig.model_validate(plan.config)
            expected = 0.0 if cfg.model.encoder.startswith("mit_") else 0.01
            assert cfg.optim.norm_weight_decay == expected, (name, plan.name)



SPEC_PAIR_TOTALS = {  # architectures.md, "Parameter counts (19 classes)"
    ("r50v1c", "dlv2red", 256): 24_227_718,
    ("r101v1c", "dlv2red", 256): 43_219_846,
    ("s50", "dlv2red", 256): 26_134_694,
    ("s101", "dlv2red", 256): 46_926_470,
    ("s200", "dlv2red", 256): 68_852_998,
    ("r101v1c", "da_nodbn", 512): 66_471_963,
    ("r101v1c", "isa_nodbn", 512): 54_330_739,
    ("r101v1c", "dlv3p_nodbn", 512): 60_205_955,
    ("r101v1c", "segformer", 768): 47_849_478,
    ("mit_b3", "segformer", 768): 47_239_526,
    ("mit_b4", "segformer", 768): 64_010_086,
    ("mit_b5", "segformer", 768): 84_610_406,
    ("mit_b5", "sfa_dlv3p_nodbn", 512): 95_142_115,
    ("mit_b5", "daformer_conv1", 256): 81_973_715,
    ("mit_b5", "upernet", 512): 111_087_315,
    ("mit_b5", "upernet", 256): 89_777_107,
    ("mit_b5", "daformer_isa", 256): 82_501_587,
    ("mit_b5", "daformer_sepaspp_bottleneck", 256): 84_606_163,
    ("mit_b5", "daformer_aspp", 256): 91_412_947,
    ("mit_b5", "daformer", 256): 85_155_283,
}


@pytest.mark.slow  # a meta-device MiT-B5 still builds 52 blocks: about 2 s per network
def test_every_paper_preset_row_builds_the_reference_network() -> None:
    """Each network a paper-table preset names is one of the spec's pairs, with the reference's decoder
    width (never the config's default 256 where the reference used 512 or 768) and its parameter count."""
    import torch

    from trainer.models import build_segmentor_from_config

    networks = set()
    for info in list_presets():
        if info.name.startswith(("synthetic", "quickstart")) or info.name.endswith("_synthetic"):
            continue  # the embedded benchmark's tiny networks are not the paper's
        for plan in expand(load_preset(info.name)):
            model = TrainConfig.model_validate(plan.config).model
            assert model.num_classes == 19, info.name
            networks.add((model.encoder, model.decoder, model.decoder_channels))
    assert len(networks) >= 15
    for encoder, decoder, channels in sorted(networks):
        assert (encoder, decoder, channels) in SPEC_PAIR_TOTALS, (encoder, decoder, channels)
        cfg = TrainConfig().model.model_copy(
            update={"encoder": encoder, "decoder": decoder, "decoder_channels": channels, "pretrained": None}
        )
        with torch.device("meta"):
            segmentor = build_segmentor_from_config(cfg)
        assert sum(p.numel() for p in segmentor.parameters()) == SPEC_PAIR_TOTALS[encoder, decoder, channels]
