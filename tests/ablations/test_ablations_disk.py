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
