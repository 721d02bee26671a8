"""Keys and values made valid for MLflow before they are sent (ablations.tracking.keys)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from mlflow.utils.validation import _validate_metric_name, _validate_param_name

from ablations.tracking.keys import (
    MAX_PARAM_VALUE_LENGTH,
    config_params,
    flatten,
    format_value,
    metric_key,
    sanitize_key,
    truncate,
)
from trainer.config import TrainConfig
from trainer.config.schema import CITYSCAPES_CLASSES


def test_class_names_become_underscored_metric_keys() -> None:
    assert metric_key("val/iou", "traffic light") == "val/iou/traffic_light"
    assert metric_key("val/iou", "road") == "val/iou/road"
    assert metric_key("train", "loss:mix") == "train/loss_mix"


@pytest.mark.parametrize("name", ["a//b", "./a", "a/", "../x", "wei rd:na*me", "ü"])
def test_sanitised_keys_always_pass_mlflow_validation(name: str) -> None:
    key = sanitize_key(name)
    _validate_metric_name(key)
    _validate_param_name(key)


def test_a_key_with_nothing_valid_is_refused() -> None:
    with pytest.raises(ValueError, match="nothing valid"):
        sanitize_key(" / ")


def test_all_nineteen_classes_give_distinct_valid_keys() -> None:
    keys = {metric_key("val/iou", name) for name in CITYSCAPES_CLASSES}
    assert len(keys) == 19
    assert "val/iou/traffic_sign" in keys


def test_flatten_gives_dotted_leaves_with_lists_and_empty_sections_as_leaves() -> None:
    tree = {"a": {"b": 1, "c": [1, 2], "d": {}}, "e": None}
    assert list(flatten(tree)) == [("a.b", 1), ("a.c", [1, 2]), ("a.d", {}), ("e", None)]


def test_values_are_rendered_as_json_except_strings() -> None:
    assert format_value("mit_b5") == "mit_b5"
    assert format_value(0.01) == "0.01"
    assert format_value((512, 512)) == "[512, 512]"
    assert format_value(None) == "null"
    assert format_value(True) == "true"
    assert format_value(float("inf")) == "Infinity"


def test_long_values_are_cut_to_the_limit_with_a_visible_mark() -> None:
    assert truncate("abc", 5) == "abc"
    cut = truncate("x" * 7000, MAX_PARAM_VALUE_LENGTH)
    assert len(cut) == MAX_PARAM_VALUE_LENGTH and cut.endswith("...[truncated]")


def test_config_params_cover_every_leaf_of_the_full_config() -> None:
    config = TrainConfig().model_dump(mode="json")
    params = config_params(config)
    assert params["model.encoder"] == "mit_b5"
    assert params["data.crop_size"] == "[512, 512]"
    assert len(params) == len(list(flatten(config)))
    assert all(len(value) <= MAX_PARAM_VALUE_LENGTH for value in params.values())


def test_config_keys_colliding_after_sanitising_are_an_error() -> None:
    with pytest.raises(ValueError, match="collide"):
        config_params({"a b": 1, "a_b": 2})


def test_importing_tracking_does_not_import_torch() -> None:
    code = "import sys, ablations.tracking; sys.exit(1 if 'torch' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0
