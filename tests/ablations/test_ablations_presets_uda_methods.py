"""HRDA Table 2 / MIC Table 1 presets: AdvSeg, MinEnt, DACS and DAFormer on DeepLabV2 as id 41 / 81 set them."""

from __future__ import annotations

from ablations.expand import expand
from ablations.presets import list_presets, load_preset
from trainer.config import TrainConfig

R101 = "pretrained/resnet101_v1c-e67eebb6.pth"


def _rows(name: str) -> dict[str, TrainConfig]:
    return {p.variant: TrainConfig.model_validate(p.config) for p in expand(load_preset(name)) if p.seed == 0}


def _hashes(name: str) -> dict[str, str]:
    return {p.variant: p.config_hash for p in expand(load_preset(name)) if p.seed == 0}


def test_sizes_and_only_the_cited_figures() -> None:
    sizes = {i.name: i.n_trials for i in list_presets()}
    assert sizes["hrda_uda_methods_gta"] == 8 * 3 and sizes["mic_uda_methods_gta"] == 12 * 3
    assert load_preset("hrda_uda_methods_gta").published == {"dacs+hrda": 59.4}  # the author, HRDA issue #11
    assert load_preset("mic_uda_methods_gta").published == {"daformer_mitb5": 68.3, "daformer_mitb5+mic": 70.6}


def test_hrda_table2_rows() -> None:
    rows = _rows("hrda_uda_methods_gta")
    for name, row in rows.items():
        assert (row.model.encoder, row.model.decoder, row.model.pretrained) == ("r101v1c", "dlv2red", R101)
        assert row.model.hrda.enabled == name.endswith("+hrda")
        assert row.data.crop_size == ((1024, 1024) if row.model.hrda.enabled else (512, 512))
        assert row.run.eval_mode == "whole" and row.optim.schedule == "poly10warm"  # id 41: no sliding test
    advseg = rows["advseg"]
    assert advseg.uda.method == "advseg" and rows["minent"].uda.method == "minent"
    sgd = advseg.optim
    assert (sgd.kind, sgd.lr, sgd.momentum, sgd.weight_decay, sgd.norm_weight_decay, sgd.head_lr_mult) == (
        "sgd", 0.0025, 0.9, 5e-4, 5e-4, 1.0)
    assert advseg.data.photometric_distortion is True  # 'gtaCAug': PhotoMetricDistortion on the source
    assert not advseg.uda.rcs.enabled and not advseg.uda.fd.enabled
    assert advseg.uda.advseg.lr == 1e-4 and advseg.uda.advseg.lambda_adv == 0.001
    assert rows["minent"].uda.minent.lambda_ent == 0.001
    hr = rows["minent+hrda"]
    assert hr.data.source.resize == (2560, 1440) and hr.data.target.resize == hr.data.val_resize == (2048, 1024)
    assert hr.model.hrda.hr_crop_size == (512, 512) and hr.model.hrda.hr_loss_weight == 0.1
    assert hr.uda.method == "minent" and hr.optim.kind == "sgd"
    dacs = rows["dacs"]
    assert dacs.uda.method == "dacs" and dacs.optim.kind == "adamw" and dacs.optim.head_lr_mult == 10.0
    assert dacs.uda.ema.alpha == 0.99 and not dacs.uda.rcs.enabled and rows["dacs+hrda"].uda.ema.alpha == 0.99
    daformer = rows["daformer"]  # v2 margins of the 2048x1024 frame, halved for the 1024x512 image
    assert daformer.uda.pseudo_label.crop_pseudo_margins == (15, 120, 15, 15)
    assert (daformer.uda.pseudo_label.crop_top, daformer.uda.pseudo_label.crop_bottom) == (0, 0)
    assert daformer.uda.fd.enabled and daformer.uda.rcs.temperature == 0.01 and daformer.uda.rcs.min_crop_ratio == 0.5
    hrda = rows["daformer+hrda"]
    assert hrda.uda.pseudo_label.crop_pseudo_margins == (30, 240, 30, 30) and hrda.uda.rcs.min_crop_ratio == 2.0
    # the DACS row is Table 1's DeepLabV2 UDA trial: the service reuses it
    assert _hashes("hrda_uda_methods_gta")["dacs"] == _hashes("table1_architectures")["dlv2red+r101v1c_uda"]


def test_mic_table1_rows() -> None:
    rows = _rows("mic_uda_methods_gta")
    for name, row in rows.items():
        assert row.uda.mic.enabled == name.endswith("+mic")
        if row.uda.mic.enabled:
            assert row.uda.mic.mask_mode == "separatetrgaug" and row.uda.mic.mask_ratio == 0.7
            assert row.uda.mic.mask_block_size == (64 if row.model.hrda.enabled else 32)
        assert row.model.encoder == ("mit_b5" if name.startswith("daformer_mitb5") else "r101v1c")
    advseg = rows["advseg+mic"]
    assert advseg.uda.method == "advseg" and advseg.optim.kind == "sgd" and advseg.optim.lr == 0.0025
    assert advseg.data.photometric_distortion is None  # id 81: source 'gta', no CAug (off in UDA mode)
    # MIC's own teacher on AdvSeg/MinEnt: alpha 0.999 and threshold 0.968 of the host config, no PL crop
    assert advseg.uda.ema.alpha == 0.999 and advseg.uda.pseudo_label.threshold == 0.968
    assert (advseg.uda.pseudo_label.crop_top, advseg.uda.pseudo_label.crop_bottom) == (0, 0)
    assert rows["minent+mic"].uda.method == "minent"
    assert rows["dacs+mic"].uda.ema.alpha == 0.99 and rows["daformer+mic"].uda.pseudo_label.crop_bottom == 120
    hrda = rows["hrda+mic"]
    assert hrda.model.hrda.enabled and hrda.model.decoder == "dlv2red" and hrda.data.crop_size == (1024, 1024)
    assert (hrda.run.eval_mode, hrda.run.slide_crop, hrda.run.slide_stride) == ("slide", (1024, 1024), (512, 512))
    assert hrda.uda.rcs.min_crop_ratio == 2.0 and hrda.uda.pseudo_label.crop_pseudo_margins == (30, 240, 30, 30)
    for name in [n for n in rows if n.endswith("+mic")]:  # without MIC: the same config with MIC off
        plain = rows[name.removesuffix("+mic")]
        no_mic = rows[name].uda.model_copy(update={"mic": plain.uda.mic})
        assert rows[name].model_copy(update={"uda": no_mic}) == plain
    mic, lineage = _hashes("mic_uda_methods_gta"), _hashes("lineage_gta")
    assert mic["daformer_mitb5"] == lineage["daformer"] and mic["daformer_mitb5+mic"] == lineage["mic_daformer"]
    assert mic["dacs"] == _hashes("hrda_uda_methods_gta")["dacs"]
