"""Turning config trees and class names into keys and values MLflow accepts.

MLflow refuses a metric or param key with characters outside ``[/\\w.\\- :]`` (class names such as
"traffic light" are fine on Linux but are read as two words by most tools, and colons are refused
on Windows), caps a key at 250 characters and a param value at 6000 characters. These helpers make
every key and value valid *before* it reaches the server, so one odd config value can never make a
whole batch (and with it an evaluation's metrics) fail.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

MAX_KEY_LENGTH = 250
"""MLflow's limit on metric, param and tag keys (mlflow.utils.validation.MAX_ENTITY_KEY_LENGTH)."""

MAX_PARAM_VALUE_LENGTH = 6000
"""MLflow's limit on a param value (mlflow.utils.validation.MAX_PARAM_VAL_LENGTH)."""

MAX_TAG_VALUE_LENGTH = 8000
"""MLflow's limit on a tag value (mlflow.utils.validation.MAX_TAG_VAL_LENGTH)."""

_TRUNCATION_MARK = "...[truncated]"
_INVALID_KEY_CHARS = re.compile(r"[^A-Za-z0-9_.\-/]")


def sanitize_key(name: str) -> str:
    """Return ``name`` as a portable MLflow key: spaces and any other invalid character become ``_``.

    Colons are replaced too (valid on Linux, refused on Windows), and path-like oddities that
    MLflow rejects ("a//b", "./a", "a/") are normalised, so the result always validates.
    """
    key = _INVALID_KEY_CHARS.sub("_", name.strip())
    parts = [part for part in key.split("/") if part not in ("", ".", "..")]
    key = "/".join(parts)
    if not key:
        raise ValueError(f"cannot make an MLflow key from {name!r}: nothing valid is left")
    return key[:MAX_KEY_LENGTH]


def metric_key(prefix: str, name: str) -> str:
    """``metric_key("val/iou", "traffic light") == "val/iou/traffic_light"``."""
    return sanitize_key(f"{prefix}/{name}")


def truncate(value: str, limit: int) -> str:
    """Cut ``value`` to ``limit`` characters, ending in a visible mark so a reader knows it was cut."""
    if len(value) <= limit:
        return value
    return value[: limit - len(_TRUNCATION_MARK)] + _TRUNCATION_MARK


def format_value(value: Any) -> str:
    """Render a config leaf as text: strings as is, numbers and lists as JSON (``inf`` as "Infinity")."""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return json.dumps(value, sort_keys=True, default=str)


def flatten(tree: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Yield ``(dotted.key, leaf)`` for every leaf of a nested mapping; lists are leaves.

    An empty mapping is a leaf too (rendered "{}"), so a section that exists but is empty still
    shows up as a param instead of silently vanishing.
    """
    for name, value in tree.items():
        key = f"{prefix}.{name}" if prefix else str(name)
        if isinstance(value, Mapping) and value:
            yield from flatten(value, key)
        else:
            yield key, value


def config_params(config: Mapping[str, Any]) -> dict[str, str]:
    """Every resolved config value as an MLflow param: dotted sanitised keys, values within 6000 chars.

    Raises ValueError if two config keys collapse onto the same sanitised key (they would
    otherwise overwrite each other, and MLflow refuses to change a logged param).
    """
    params: dict[str, str] = {}
    for dotted, value in flatten(config):
        key = sanitize_key(dotted)
        if key in params:
            raise ValueError(f"config keys collide after sanitising for MLflow: {dotted!r} -> {key!r}")
        params[key] = truncate(format_value(value), MAX_PARAM_VALUE_LENGTH)
    return params
