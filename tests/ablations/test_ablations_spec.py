"""AblationSpec: validation against the trainer's config, error locations and messages, JSON round trips."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from pydantic import ValidationError

from ablations.spec import AblationSpec, override_items, path_problem, resolve_config


def _spec(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "rcs_study",
        "base": {"optim": {"warmup": True}},
        "variants": [
            {"name": "dacs", "overrides": {"uda": {"rcs": {"enabled": False}}}},
            {"name": "rcs", "overrides": {"uda.rcs.enabled": True}},
        ],
        "seeds": [0, 1],
        "baseline": "dacs",
    }
    data.update(changes)
    return data


def _errors(data: dict[str, Any]) -> list[dict[str, Any]]:
    with pytest.raises(ValidationError) as info:
        AblationSpec.model_validate(data)
    return info.value.errors()


def test_valid_spec_counts_its_trials() -> None:
    spec = AblationSpec.model_validate(_spec(sweeps=[{"key": "uda.rcs.temperature", "values": [0.01, 1]}]))
    assert spec.n_trials == 2 * 2 * 2
    assert spec.resources.cpus == 1.0 and spec.resources.gpus == 0.0
    assert spec.max_trials == 1000


def test_unknown_field_names_row_and_path() -> None:
    variants = [{"name": "a"}, {"name": "b"}, {"name": "no_rcs", "overrides": {"uda.rcs.temperatur": 0.1}}]
    [error] = _errors(_spec(variants=variants, baseline=None))
    assert error["loc"] == ("variants", 2, "overrides", "uda", "rcs", "temperatur")
    assert error["msg"] == "variants[2] 'no_rcs': uda.rcs.temperatur: unknown field"


def test_unknown_field_in_nested_form_and_in_base() -> None:
    variants = [{"name": "a", "overrides": {"uda": {"rcs": {"temprature": 1}}}}]
    errors = _errors(_spec(variants=variants, baseline=None, base={"optim": {"warmpu": True}}))
    assert [e["loc"] for e in errors] == [
        ("base", "optim", "warmpu"),
        ("variants", 0, "overrides", "uda", "rcs", "temprature"),
    ]
    assert errors[0]["msg"] == "base: optim.warmpu: unknown field"


def test_invalid_value_names_row_and_field() -> None:
    variants = [{"name": "ok"}, {"name": "cold", "overrides": {"uda.rcs.temperature": -1}}]
    [error] = _errors(_spec(variants=variants, baseline=None))
    assert error["loc"] == ("variants", 1, "overrides")
    assert error["msg"] == "variants[1] 'cold': uda.rcs.temperature: Input should be greater than 0"


def test_invalid_sweep_value_names_sweep_and_value() -> None:
    [error] = _errors(_spec(sweeps=[{"key": "uda.fd.fd_lambda", "values": [0.005, -1]}]))
    assert error["loc"] == ("sweeps", 0, "values", 1)
    assert (
        error["msg"]
        == "sweeps[0] uda.fd.fd_lambda=-1: uda.fd.fd_lambda: Input should be greater than or equal to 0"
    )


def test_unknown_sweep_key_and_section_key() -> None:
    errors = _errors(
        _spec(sweeps=[{"key": "uda.rcs.temp", "values": [1]}, {"key": "uda.rcs", "values": [1]}])
    )
    assert [e["loc"] for e in errors] == [("sweeps", 0, "key"), ("sweeps", 1, "key")]
    assert errors[0]["msg"] == "sweeps[0] 'uda.rcs.temp': unknown field"
    assert "is a section" in errors[1]["msg"]


def test_error_only_in_combination_is_found() -> None:
    # num_classes 10 is fine alone with FD off, but not with the thing classes of FD on.
    variants = [{"name": "small", "overrides": {"model.num_classes": 10, "uda.fd.enabled": False}}]
    base = {"uda": {"fd": {"thing_classes": [1, 2]}}}
    spec = AblationSpec.model_validate(_spec(variants=variants, baseline=None, base=base))
    assert spec.n_trials == 2
    bad = [{"name": "small", "overrides": {"model.num_classes": 10}}]
    [error] = _errors(_spec(variants=bad, baseline=None))
    assert error["loc"] == ("variants", 0, "overrides")
    assert "model.num_classes (10)" in error["msg"] and error["msg"].startswith("variants[0] 'small': ")


def test_duplicates_and_references_are_refused() -> None:
    errors = _errors(_spec(variants=[{"name": "a"}, {"name": "a"}], baseline="zz", published={"q": 50.0}))
    assert [e["loc"] for e in errors] == [("variants", 1, "name"), ("baseline",), ("published", "q")]
    assert "duplicate variant name" in errors[0]["msg"]
    assert "baseline 'zz' is not a variant; variants: a" in errors[1]["msg"]


@pytest.mark.parametrize(
    ("seeds", "message"),
    [([], "at least 1 item"), ([0, 0], "seeds must be unique"), ([-1], "non-negative")],
)
def test_bad_seeds_are_refused(seeds: list[int], message: str) -> None:
    [error] = _errors(_spec(seeds=seeds))
    assert error["loc"] == ("seeds",) and message in error["msg"]


def test_unknown_top_level_field_and_bad_resources() -> None:
    errors = _errors(_spec(resource={"cpus": 1}, resources={"cpus": 0, "gpus": -0.5}))
    assert {e["loc"] for e in errors} == {("resource",), ("resources", "cpus"), ("resources", "gpus")}


def test_seed_is_set_by_seeds_only_and_swept_fields_once() -> None:
    variants = [{"name": "a", "overrides": {"run.seed": 3, "uda.rcs.temperature": 0.1}}]
    errors = _errors(
        _spec(variants=variants, baseline=None, sweeps=[{"key": "uda.rcs.temperature", "values": [1]}])
    )
    assert [e["loc"] for e in errors] == [
        ("variants", 0, "overrides", "run", "seed"),
        ("variants", 0, "overrides", "uda", "rcs", "temperature"),
    ]
    assert "set by the spec's seeds" in errors[0]["msg"] and "also swept by sweeps[0]" in errors[1]["msg"]


def test_same_field_twice_and_field_used_as_section() -> None:
    overrides = {"uda.rcs.enabled": False, "uda": {"rcs": {"enabled": True}}, "run.iterations.x": 1}
    errors = _errors(_spec(variants=[{"name": "a", "overrides": overrides}], baseline=None))
    assert [e["msg"] for e in errors] == [
        "variants[0] 'a': uda.rcs.enabled: set twice (nested and dotted)",
        "variants[0] 'a': run.iterations.x: run.iterations is a field, not a section",
    ]


def test_identical_rows_are_refused() -> None:
    variants = [{"name": "a", "overrides": {"optim.warmup": True}}, {"name": "b"}]
    [error] = _errors(_spec(variants=variants, baseline=None))
    assert error["msg"] == "variants[1] 'b': resolves to the same config as variants[0] 'a'; drop one of them"


def test_max_trials_guard_counts_the_grid() -> None:
    sweeps = [
        {"key": "uda.rcs.temperature", "values": [0.01, 0.1, 1]},
        {"key": "uda.fd.fd_lambda", "values": [0, 1]},
    ]
    [error] = _errors(_spec(sweeps=sweeps, max_trials=20))
    assert error["loc"] == ("max_trials",)
    assert error["msg"].startswith(
        "the grid has 24 trials (2 variants x 6 sweep combinations x 2 seeds), more than max_trials=20"
    )
    assert AblationSpec.model_validate(_spec(sweeps=sweeps, max_trials=24)).n_trials == 24
    # The default limit is 1000: 2 variants x 250 values x 2 seeds pass, 251 values do not.
    assert AblationSpec.model_validate(
        _spec(sweeps=[{"key": "run.iterations", "values": list(range(1, 251))}])
    )
    big = [{"key": "run.iterations", "values": list(range(1, 252))}]
    assert "1004 trials" in _errors(_spec(sweeps=big))[0]["msg"]


@pytest.mark.parametrize("infinity", [math.inf, "inf", "Infinity", "infinity"])
def test_infinity_is_accepted_and_stored_as_json(infinity: Any) -> None:
    spec = AblationSpec.model_validate(
        _spec(sweeps=[{"key": "uda.rcs.temperature", "values": [0.01, infinity]}])
    )
    dumped = spec.model_dump(mode="json")
    text = json.dumps(dumped, allow_nan=False)  # strict JSON: no bare Infinity
    assert json.loads(text)["sweeps"][0]["values"][1] in ("Infinity", "inf", "infinity")
    assert AblationSpec.model_validate_json(spec.model_dump_json()) == spec


def test_duplicate_sweep_values_compare_resolved() -> None:
    [error] = _errors(_spec(sweeps=[{"key": "uda.rcs.temperature", "values": ["inf", math.inf]}]))
    assert error["loc"] == ("sweeps", 0, "values", 1) and "duplicate value" in error["msg"]


def test_nan_is_refused() -> None:
    [error] = _errors(_spec(base={"uda.rcs.temperature": math.nan}))
    assert error["loc"] == ("base",) and "NaN" in error["msg"]


def test_round_trip_through_json() -> None:
    spec = AblationSpec.model_validate(_spec(published={"rcs": 61.5}, resources={"cpus": 2, "gpus": 0.25}))
    again = AblationSpec.model_validate(json.loads(spec.model_dump_json()))
    assert again == spec
    with pytest.raises(ValidationError):
        spec.seeds = [3]  # type: ignore[misc]  # frozen


def test_overrides_flatten_and_resolve_in_order() -> None:
    items = override_items({"uda": {"rcs.enabled": False, "fd": {}}, "run.iterations": 10})
    assert items == [(("uda", "rcs", "enabled"), False), (("run", "iterations"), 10)]
    cfg = resolve_config([items, [(("run", "iterations"), 20)]])
    assert cfg.run.iterations == 20 and cfg.uda.rcs.enabled is False and cfg.uda.fd.enabled is True
    assert path_problem(("uda", "rcs", "temperature")) is None
    assert path_problem(("data", "source")) is not None


def test_resolve_config_shares_nothing_it_changes() -> None:
    """The copy-on-write resolution leaves the defaults as they were, and the cache keyed by the
    layers' JSON never hands one grid's config to different layers (1 vs 1.0 vs true included)."""
    from ablations.spec import _defaults
    from trainer.config import TrainConfig

    before = json.dumps(_defaults(), sort_keys=True, default=str)
    changed = resolve_config([[(("uda", "rcs", "temperature"), 0.5), (("run", "iterations"), 7)]])
    assert changed.uda.rcs.temperature == 0.5 and changed.run.iterations == 7
    assert json.dumps(_defaults(), sort_keys=True, default=str) == before
    assert resolve_config([]) == TrainConfig()
    again = resolve_config([[(("uda", "rcs", "temperature"), 0.5)], [(("run", "iterations"), 7)]])
    assert again == changed  # other layering, same config
    assert resolve_config([[(("uda", "rcs", "temperature"), 0.5), (("run", "iterations"), 7)]]) is changed
    assert resolve_config([[(("optim", "lr"), 1)]]).optim.lr == 1.0
    assert resolve_config([[(("uda", "fd", "enabled"), False)]]).uda.fd.enabled is False
    assert resolve_config([[(("uda", "fd", "enabled"), True)]]).uda.fd.enabled is True
