"""The parameter-count table the API estimates disk use from, checked against the real builder."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ablations.disk import TABLE_MODELS, _build_counts, _table, counts, model_key, peak_bytes


@pytest.mark.slow
@pytest.mark.parametrize("model", TABLE_MODELS, ids=model_key)
def test_table_matches_the_builder(model: dict) -> None:
    assert list(_build_counts(json.dumps(model, sort_keys=True))) == _table()[model_key(model)]


def test_the_api_side_estimate_needs_no_torch() -> None:
    code = (
        "import json, sys; from ablations.disk import peak_bytes; from trainer.config import TrainConfig; "
        "c = json.loads(TrainConfig().model_dump_json()); print(peak_bytes([c], build=False)); "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    # MiT-B5 + DAFormer head (85,163,995 values, 85,155,283 trainable, encoder 81,443,008), FD from a random
    # encoder: 4 x (2 x 85,163,995 + 81,443,008 + 2 x 85,155,283) + 1 MiB = 1,689,374,832 bytes, x (K=1 + 1).
    assert out == [str(2 * 1_689_374_832), "False"]


def test_unknown_networks_are_left_to_the_dispatcher() -> None:
    model = {"encoder": "mit_b1", "decoder": "daformer", "decoder_channels": 32, "num_classes": 19}
    with pytest.raises(LookupError):
        counts(model, build=False)
    config = {"model": {**model, "pretrained": None}, "uda": {"mode": "source_only", "fd": {"enabled": False}},
              "run": {"keep_checkpoints": 1}}
    assert peak_bytes([config], build=False) is None


def test_every_preset_network_is_in_the_table() -> None:
    """The API estimates every preset's disk use without torch: each network a preset names is counted."""
    from ablations.expand import expand
    from ablations.presets import list_presets, load_preset

    for info in list_presets():
        for plan in expand(load_preset(info.name)):
            assert model_key(plan.config["model"]) in _table(), (info.name, plan.name)


def _trial(**overrides: object) -> dict:
    """A resolved trial config (as ``TrialPlan.config``) of the defaults with dotted ``overrides``."""
    from trainer.config import TrainConfig

    config = json.loads(TrainConfig().model_dump_json())
    for dotted, value in overrides.items():
        *parents, leaf = dotted.split("__")
        node = config
        for key in parents:
            node = node[key]
        node[leaf] = value
    return config


def test_checkpoint_terms_follow_the_method() -> None:
    """Hand sums: what each method keeps per checkpoint, in fp32 values, + 1 MiB of the rest."""
    from ablations.disk import CHECKPOINT_OVERHEAD_BYTES, checkpoint_bytes, discriminator_parameters

    # FCDiscriminator, 19 classes, ndf 64: 19*64*16+64 + 64*128*16+128 + 128*256*16+256 + 256*512*16+512 + 512*16+1
    assert discriminator_parameters(19) == 19_520 + 131_200 + 524_544 + 2_097_664 + 8_193 == 2_781_121
    dlv2 = {"encoder": "r101v1c", "decoder": "dlv2red", "decoder_channels": 256, "num_classes": 19}
    student, trainable, _ = counts(dlv2, build=False)
    # AdvSeg with SGD: no teacher, no FD; one momentum buffer; the discriminator and its two Adam moments
    advseg = _trial(model__encoder="r101v1c", model__decoder="dlv2red", model__pretrained="r101.pth",
                    uda__method="advseg", optim__kind="sgd")
    advseg["uda"]["fd"]["enabled"] = False
    expected = 4 * (student + trainable + 3 * 2_781_121) + CHECKPOINT_OVERHEAD_BYTES
    assert checkpoint_bytes(advseg, build=False) == expected
    # MinEnt with MIC: MIC brings its own teacher (the host has none)
    minent = _trial(model__encoder="r101v1c", model__decoder="dlv2red", model__pretrained="r101.pth",
                    uda__method="minent", optim__kind="sgd")
    minent["uda"]["fd"]["enabled"] = False
    minent["uda"]["mic"]["enabled"] = True
    assert checkpoint_bytes(minent, build=False) == 4 * (2 * student + trainable) + CHECKPOINT_OVERHEAD_BYTES
    # DACS + MIC with mask_alpha 0 (MIC Table 7): EMA teacher + MIC's teacher + AdamW's two moments
    b5 = {"encoder": "mit_b5", "decoder": "daformer", "decoder_channels": 256, "num_classes": 19}
    s5, t5, _ = counts(b5, build=False)
    mic = _trial(model__pretrained="b5.pth")
    mic["uda"]["mic"].update(enabled=True, mask_alpha=0.0)
    assert checkpoint_bytes(mic, build=False) == 4 * (3 * s5 + 2 * t5) + CHECKPOINT_OVERHEAD_BYTES


def test_hrda_counts_its_scale_attention_head() -> None:
    """HRDA's learned attention is a second head: more values than the plain network; a fixed one adds none."""
    plain = {"encoder": "mit_b5", "decoder": "daformer", "decoder_channels": 256, "num_classes": 19}
    learned = counts({**plain, "hrda": {"enabled": True, "attention_classwise": True, "attention_channels": 256}},
                     build=False)
    fixed = counts({**plain, "hrda": {"enabled": True, "fixed_attention": 0.5}}, build=False)
    assert fixed == counts(plain, build=False)
    assert learned[0] > fixed[0] and learned[2] == fixed[2]  # the encoder is shared
    # DLV2: the attention head is a second DLV2 head, 2 x (3*3*2048*19 + 19) = 700,454 values (hrda.md/README)
    dlv2 = {"encoder": "r101v1c", "decoder": "dlv2red", "decoder_channels": 256, "num_classes": 19}
    with_attention = counts({**dlv2, "hrda": {"enabled": True}}, build=False)
    assert with_attention[0] - counts(dlv2, build=False)[0] == 700_454
