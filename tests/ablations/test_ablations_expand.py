"""Expansion into trials, the canonical JSON and config hash, and the GPU-hour estimate."""

from __future__ import annotations

import hashlib
import math
from typing import Any

import pytest

from ablations.expand import (
    canonical_json,
    config_hash,
    estimate_gpu_hours,
    estimated_seconds_per_iteration,
    expand,
)
from ablations.spec import AblationSpec, SpecError
from trainer.config import TrainConfig


def _spec(**changes: Any) -> AblationSpec:
    data: dict[str, Any] = {
        "name": "grid",
        "base": {"run": {"iterations": 100}},
        "variants": [
            {"name": "warmup", "overrides": {"uda.rcs.enabled": False}},
            {"name": "warmup+rcs", "overrides": {"uda": {"rcs": {"enabled": True}}}},
        ],
        "seeds": [0, 1],
    }
    data.update(changes)
    return AblationSpec.model_validate(data)


def test_rows_times_seeds_in_order_with_readable_names() -> None:
    plans = expand(_spec())
    assert [p.name for p in plans] == [
        "warmup/seed=0",
        "warmup/seed=1",
        "warmup+rcs/seed=0",
        "warmup+rcs/seed=1",
    ]
    assert [p.config["run"]["seed"] for p in plans] == [0, 1, 0, 1]
    assert [p.config["uda"]["rcs"]["enabled"] for p in plans] == [False, False, True, True]
    assert all(p.config["run"]["iterations"] == 100 and p.sweep == {} for p in plans)
    assert len({p.config_hash for p in plans}) == 4  # the seed is part of the config


def test_sweeps_multiply_every_row() -> None:
    sweeps = [
        {"key": "uda.rcs.temperature", "label": "T", "values": [0.01, 0.1, 1, "inf"]},
        {"key": "uda.fd.fd_lambda", "values": [0.0005, 0.05]},
    ]
    plans = expand(_spec(sweeps=sweeps, seeds=[1]))
    assert len(plans) == 2 * 4 * 2 * 1
    assert plans[0].name == "warmup_T=0.01,fd_lambda=0.0005/seed=1"
    assert plans[7].name == "warmup_T=inf,fd_lambda=0.05/seed=1"
    assert plans[7].sweep == {"uda.rcs.temperature": "Infinity", "uda.fd.fd_lambda": 0.05}
    assert plans[4].name == "warmup_T=1,fd_lambda=0.0005/seed=1"
    assert plans[7].config["uda"]["rcs"]["temperature"] == "Infinity"
    assert TrainConfig.model_validate(plans[7].config).uda.rcs.temperature == math.inf
    assert len({p.name for p in plans}) == len(plans)


def test_plan_config_is_the_resolved_config() -> None:
    plan = expand(_spec())[3]
    expected = TrainConfig.model_validate({"run": {"iterations": 100, "seed": 1}})
    assert TrainConfig.model_validate(plan.config) == expected
    assert plan.config_hash == config_hash(expected)


def test_canonical_json_is_sorted_compact_and_strict() -> None:
    assert (
        canonical_json({"b": [1, (2, 3)], "a": {"y": math.inf, "x": "é"}})
        == '{"a":{"x":"é","y":"Infinity"},"b":[1,[2,3]]}'
    )
    assert canonical_json({"a": 1, "b": 2}) == canonical_json({"b": 2, "a": 1})


def test_hash_is_sha256_of_canonical_json_without_excluded_fields() -> None:
    cfg = TrainConfig()
    data = cfg.model_dump()
    for section, name in (
        ("run", "output_dir"),
        ("run", "log_interval"),
        ("run", "keep_checkpoints"),
        ("data", "num_workers"),
    ):
        del data[section][name]
    assert config_hash(cfg) == hashlib.sha256(canonical_json(data).encode()).hexdigest()


def test_hash_is_stable_over_key_order_inf_spelling_and_partial_dicts() -> None:
    full = TrainConfig.model_validate({"uda": {"rcs": {"temperature": "inf"}}})
    reordered = dict(reversed(list(full.model_dump().items())))
    assert config_hash(full) == config_hash(reordered)
    assert config_hash(full) == config_hash({"uda": {"rcs": {"temperature": math.inf}}})
    assert config_hash(full) == config_hash({"uda": {"rcs": {"temperature": "Infinity"}}})
    assert config_hash(full) != config_hash(TrainConfig())


def test_hash_ignores_output_paths_but_not_data_or_seed() -> None:
    base = config_hash(TrainConfig())
    assert (
        config_hash({"run": {"output_dir": "elsewhere", "log_interval": 7}, "data": {"num_workers": 0}})
        == base
    )
    assert config_hash({"data": {"source": {"kind": "gta", "root": "/other", "resize": [1280, 720]}}}) != base
    assert config_hash({"run": {"seed": 1}}) != base
    assert config_hash({"run": {"eval_interval": 100}}) != base


def test_expand_applies_the_callers_limit() -> None:
    spec = _spec()
    assert len(expand(spec, max_trials=4)) == 4
    with pytest.raises(SpecError) as info:
        expand(spec, max_trials=3)
    assert info.value.loc == ("max_trials",) and "4 trials" in info.value.message


def test_seconds_per_iteration_by_hand() -> None:
    full = TrainConfig().model_dump()
    assert estimated_seconds_per_iteration(full) == pytest.approx(1.44)
    # source-only: 3 of the 8 forward units of UDA with FD; MiT-B3 + DAFormer head: (31.0 + 56.9)
    # GMACs against MiT-B5 + DAFormer head (59.3 + 56.9), see ablations/cost.py.
    b3 = TrainConfig.model_validate({"model": {"encoder": "mit_b3"}, "uda": {"mode": "source_only"}})
    assert estimated_seconds_per_iteration(b3.model_dump()) == pytest.approx(
        1.44 * (31.0 + 56.9) / (59.3 + 56.9) * 3 / 8
    )
    small = TrainConfig.model_validate({"data": {"crop_size": [256, 128]}, "uda": {"fd": {"enabled": False}}})
    assert estimated_seconds_per_iteration(small.model_dump()) == pytest.approx(1.44 / 8 * 7 / 8)


def test_gpu_hours_of_a_grid() -> None:
    spec = _spec(base={"run": {"iterations": 40_000}})
    # 4 trials of the full DAFormer cost (FD on in both rows): 4 * 40000 * 1.44 s = 64 h.
    assert estimate_gpu_hours(spec) == pytest.approx(64.0)
    assert estimate_gpu_hours(expand(spec), seconds_per_iteration=0.9) == pytest.approx(
        4 * 40_000 * 0.9 / 3600
    )
    with pytest.raises(SpecError):
        estimate_gpu_hours(spec, seconds_per_iteration=0)


def test_names_that_collide_are_refused() -> None:
    # Distinct cells whose names read alike: row "a" at d="b_d=c" and row "a_d=b" at d="c".
    spec = _spec(
        variants=[{"name": "a", "overrides": {"run.log_interval": 1}}, {"name": "a_d=b"}],
        sweeps=[{"key": "run.device", "label": "d", "values": ["b_d=c", "c"]}],
        seeds=[0],
    )
    with pytest.raises(SpecError, match="trial names are not unique"):
        expand(spec)
