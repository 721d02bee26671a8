"""HRDA's and MIC's presets: rows as the papers lay them out, published figures only where cited."""

from __future__ import annotations

from ablations.expand import expand
from ablations.presets import list_presets, load_preset
from trainer.config import TrainConfig


def _row(name: str, variant: str, **sweep: object) -> TrainConfig:
    for plan in expand(load_preset(name)):
        if plan.variant == variant and plan.seed == 0 and all(plan.sweep[k] == v for k, v in sweep.items()):
            return TrainConfig.model_validate(plan.config)
    raise AssertionError(f"{name}: no row {variant} {sweep}")


def test_grid_sizes_and_published_figures() -> None:
    sizes = {i.name: i.n_trials for i in list_presets()}
    assert sizes["hrda_components_gta"] == 6 * 3 and sizes["hrda_context_gta"] == 5 * 3
    assert sizes["hrda_detail_gta"] == 5 * 3 and sizes["hrda_naive_gta"] == 3 * 3
    assert sizes["hrda_detail_variants_gta"] == 4 * 3 and sizes["hrda_lambda_d_gta"] == 8 * 3
    assert sizes["mic_components_gta"] == 5 * 3 and sizes["mic_mask_params_gta"] == 16 * 3
    assert sizes["mic_where_gta"] == 3 * 3 and sizes["mic_supervised"] == 2 * 3
    assert sizes["lineage_gta"] == sizes["lineage_synthia"] == 4 * 3
    lineage = {"daformer": 68.3, "hrda": 73.8, "mic_daformer": 70.6, "mic_hrda": 75.9}
    assert load_preset("lineage_gta").published == lineage
    assert load_preset("lineage_synthia").published == {"daformer": 60.9, "hrda": 65.8}
    assert load_preset("hrda_components_gta").published == {"hrda": 73.8}
    assert load_preset("mic_components_gta").published == {"complete": 70.6}
    for name in ("hrda_lambda_d_gta", "mic_where_gta", "mic_mask_params_gta", "mic_supervised"):
        assert load_preset(name).published is None  # values not found: none invented


def test_the_final_hrda_row_is_the_reference_config() -> None:
    hrda = _row("hrda_components_gta", "hrda")
    assert hrda.model.hrda.enabled and hrda.model.hrda.scales == (0.5, 1.0)
    assert hrda.model.hrda.hr_crop_size == (512, 512)
    assert hrda.model.hrda.hr_loss_weight == 0.1 and hrda.model.hrda.hr_slide_overlapping
    assert hrda.data.crop_size == (1024, 1024) and hrda.data.source.resize == (2560, 1440)
    assert hrda.data.target.resize == hrda.data.val_resize == (2048, 1024)
    assert hrda.uda.pseudo_label.crop_pseudo_margins == (30, 240, 30, 30)
    assert (hrda.uda.pseudo_label.crop_top, hrda.uda.pseudo_label.crop_bottom) == (0, 0)
    assert hrda.uda.rcs.min_crop_ratio == 2.0
    assert (hrda.run.eval_mode, hrda.run.slide_crop, hrda.run.slide_stride) == ("slide", (1024, 1024), (512, 512))
    assert _row("hrda_detail_gta", "lr1.0+hr0.5") == hrda  # the same trial in every table
    # LR1.0 (row 2) is the reference's experiment 42 run: DAFormer's training with v2 margins (the
    # 2048x1024 mask resized to 1024x512) and sliding 512 windows at stride 256, not DAFormer's own
    # whole-image evaluation and 15/120 crop rows
    plain = _row("hrda_components_gta", "lr1.0")
    assert plain == TrainConfig.model_validate({
        "model": {"pretrained": "pretrained/mit_b5.pth"},
        "uda": {"pseudo_label": {"crop_top": 0, "crop_bottom": 0, "crop_pseudo_margins": [15, 120, 15, 15]}},
        "run": {"eval_mode": "slide", "slide_crop": [512, 512], "slide_stride": [256, 256]},
    })
    for table, row, window in (("hrda_components_gta", "hr0.5", 512), ("hrda_context_gta", "lr0.5", 256),
                               ("hrda_context_gta", "lr0.5+hr0.5", 512), ("hrda_context_gta", "lr0.75+hr0.5", 768),
                               ("hrda_detail_gta", "hr0.25", 256), ("hrda_naive_gta", "lr0.75+hr0.375", 768)):
        run = _row(table, row).run  # every row slides windows of its outer crop at half that stride
        assert (run.eval_mode, run.slide_crop, run.slide_stride) == ("slide", (window,) * 2, (window // 2,) * 2)
    fixed = _row("hrda_components_gta", "fixed_att").model.hrda
    assert fixed.fixed_attention == 0.5 and not fixed.hr_slide_overlapping and fixed.hr_loss_weight == 0.0
    context = _row("hrda_context_gta", "lr0.5+hr0.5")
    assert context.data.sync_crop_size == (512, 512) and context.model.hrda.lr_loss_weight == 0.1


def test_mic_rows() -> None:
    mic_hrda, mic_daformer = _row("lineage_gta", "mic_hrda"), _row("lineage_gta", "mic_daformer")
    assert mic_hrda.model.hrda.enabled and mic_hrda.uda.mic.enabled and mic_hrda.uda.mic.mask_block_size == 64
    assert not mic_daformer.model.hrda.enabled and mic_daformer.uda.mic.mask_block_size == 32
    assert mic_daformer.uda.mic.mask_ratio == 0.7 and mic_daformer.uda.mic.mask_mode == "separatetrgaug"
    assert _row("mic_components_gta", "complete") == mic_daformer
    assert _row("mic_components_gta", "no_ema_teacher").uda.mic.mask_alpha == 0.0
    assert _row("mic_components_gta", "no_confidence").uda.mic.mask_pseudo_threshold is None
    assert _row("mic_where_gta", "both").uda.mic.mask_mode == "separateaug"
    assert _row("mic_mask_params_gta", "mic", **{"uda.mic.mask_block_size": 128}).uda.mic.mask_block_size == 128
    supervised = _row("mic_supervised", "supervised+mic")
    assert supervised.uda.mode == "target_only" and supervised.uda.mic.mask_mode == "separatesrc"
    synthia = _row("lineage_synthia", "mic_hrda")
    assert synthia.data.source.kind == "synthia" and synthia.data.source.resize == (2560, 1520)


def test_every_hrda_row_follows_the_reference_rule_for_an_outer_crop_equal_to_the_detail_crop() -> None:
    """experiments.py: when the outer crop (sync crop, else crop) equals the detail crop, the context CE
    gets lambda_d too and, with FD on, FD runs on both scales ('all'); otherwise neither."""
    seen_equal = 0
    for info in list_presets():
        for plan in expand(load_preset(info.name)):
            cfg = TrainConfig.model_validate(plan.config)
            hrda = cfg.model.hrda
            if not hrda.enabled:
                continue
            equal = (cfg.data.sync_crop_size or cfg.data.crop_size) == hrda.hr_crop_size
            seen_equal += equal
            assert hrda.lr_loss_weight == (hrda.hr_loss_weight if equal else 0.0), plan.name
            both = equal and cfg.uda.mode == "uda" and cfg.uda.fd.enabled
            assert hrda.fd_scales == ("all" if both else "context"), plan.name
    assert seen_equal == 3 * 4  # hrda_context_gta's LR0.5+HR0.5 and Table S1's three HRDA rows, seeds 0, 1, 2


def test_table_s1_varies_only_the_context_scale() -> None:
    """HRDA Table S1 (id 44): a 512 outer crop = detail crop; context scale 0.25 / 0.5 / 0.75, or none."""
    assert {i.name: i.n_trials for i in list_presets()}["hrda_context_resolution_gta"] == 4 * 3
    sc05 = _row("hrda_context_resolution_gta", "sc0.5")
    assert sc05 == _row("hrda_context_gta", "lr0.5+hr0.5")  # the same trial as Table 3's row
    assert _row("hrda_context_resolution_gta", "hr0.5") == _row("hrda_context_gta", "hr0.5")
    for name, scale in (("sc0.25", 0.25), ("sc0.75", 0.75)):
        row = _row("hrda_context_resolution_gta", name)
        assert row.model.hrda.scales == (scale, 1.0)
        assert row.model_copy(update={"model": sc05.model}) == sc05


def test_cityscapes_to_acdc_and_dark_zurich_rows() -> None:
    """MIC Table 2's adverse-condition columns (id 80), HRDA's id 49 and MIC Table 6's ACDC half (id 82):
    Cityscapes 2048x1024 source, native 1920x1080 target, 1024 crops, no PL margins, val by sliding."""
    sizes = {i.name: i.n_trials for i in list_presets()}
    assert sizes["mic_benchmarks_acdc"] == sizes["mic_benchmarks_darkzurich"] == 2 * 3
    assert sizes["mic_where_acdc"] == 3 * 3
    for name in ("mic_benchmarks_acdc", "mic_benchmarks_darkzurich", "mic_where_acdc"):
        assert load_preset(name).published is None  # HRDA's 68.0 / 55.9 are test-split figures
    hrda = _row("mic_benchmarks_acdc", "hrda")
    assert hrda.model.hrda.enabled and not hrda.uda.mic.enabled and len(hrda.eval_classes) == 19
    assert (hrda.data.source.kind, hrda.data.source.resize) == ("cityscapes", (2048, 1024))
    assert (hrda.data.target.kind, hrda.data.target.resize) == ("acdc", (1920, 1080))
    assert hrda.data.val_resize == (1920, 1080) and hrda.data.crop_size == (1024, 1024)
    pl = hrda.uda.pseudo_label
    assert (pl.crop_top, pl.crop_bottom, pl.crop_pseudo_margins) == (0, 0, None)
    assert hrda.uda.rcs.min_crop_ratio == 2.0
    assert (hrda.run.eval_mode, hrda.run.slide_crop, hrda.run.slide_stride) == ("slide", (1024, 1024), (512, 512))
    mic = _row("mic_benchmarks_acdc", "mic_hrda")
    assert mic.uda.mic.enabled and mic.uda.mic.mask_mode == "separate" and mic.uda.mic.mask_block_size == 64
    assert mic.model_copy(update={"uda": hrda.uda}) == hrda  # MIC is the only difference
    night = _row("mic_benchmarks_darkzurich", "mic_hrda")
    assert night.data.target.kind == "dark_zurich" and night.model_copy(update={"data": mic.data}) == mic
    assert _row("mic_where_acdc", "both") == mic  # the same trial as Table 2's ACDC MIC(HRDA)
    assert _row("mic_where_acdc", "source").uda.mic.mask_mode == "separatesrc"
    assert _row("mic_where_acdc", "target").uda.mic.mask_mode == "separatetrg"


def test_figure_4_cells_are_the_tables_trials() -> None:
    """HRDA Figure 4 (ids 42/43): 7 UDA and 7 oracle crop settings; the UDA cells that Tables 3-7 also
    report are the very same trials (the reference runs them once, in id 42)."""
    assert {i.name: i.n_trials for i in list_presets()}["hrda_crop_size_gta"] == 14 * 3
    same = {"uda_lr512": ("hrda_components_gta", "lr1.0"), "uda_hr512": ("hrda_components_gta", "hr0.5"),
            "uda_lr256": ("hrda_context_gta", "lr0.5"), "uda_hr256": ("hrda_detail_gta", "hr0.25"),
            "uda_hr768": ("hrda_naive_gta", "hr0.75")}
    for cell, (table, row) in same.items():
        assert _row("hrda_crop_size_gta", cell) == _row(table, row), cell
    oracle = _row("hrda_crop_size_gta", "oracle_hr768")
    assert oracle.uda.mode == "target_only" and oracle.data.crop_size == (768, 768)
    assert oracle.data.target.resize == oracle.data.val_resize == (2048, 1024)
    assert (oracle.run.eval_mode, oracle.run.slide_crop, oracle.run.slide_stride) == ("slide", (768, 768), (384, 384))
