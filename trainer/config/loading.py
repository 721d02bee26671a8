"""Building a ``TrainConfig`` from YAML files and ``--set a.b.c=value`` overrides.

Overrides are applied to the plain dict before validation, so one pydantic pass reports every
error with its dotted field path. Values are parsed as YAML scalars (``inf``, ``true``,
``[1, 2]``), which is what a researcher types on a command line.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from trainer.config.schema import TrainConfig


class ConfigError(ValueError):
    """A config file or override that cannot be used; the message names the field or file."""


def parse_override(text: str) -> tuple[tuple[str, ...], Any]:
    """Split ``'uda.rcs.temperature=0.1'`` into ``(('uda', 'rcs', 'temperature'), 0.1)``."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {text!r}: expected KEY=VALUE, e.g. uda.rcs.temperature=0.1")
    return tuple(key.strip().split(".")), _parse_scalar(raw.strip())


def _parse_scalar(raw: str) -> Any:
    if raw.lower() in {"inf", "+inf", "infinity"}:
        return math.inf
    try:
        return yaml.safe_load(raw) if raw else ""
    except yaml.YAMLError:
        return raw


def apply_overrides(data: Mapping[str, Any], overrides: Iterable[str | tuple[tuple[str, ...], Any]]) -> dict:
    """Return a deep copy of ``data`` with each override set at its dotted path."""
    result = _deep_copy(data)
    for item in overrides:
        path, value = parse_override(item) if isinstance(item, str) else item
        node = result
        for i, part in enumerate(path[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                raise ConfigError(f"override {'.'.join(path)}: {'.'.join(path[: i + 1])} is not a section")
            node = child
        node[path[-1]] = value
    return result


def _deep_copy(data: Mapping[str, Any]) -> dict:
    return {k: _deep_copy(v) if isinstance(v, Mapping) else v for k, v in data.items()}


def config_from_dict(data: Mapping[str, Any]) -> TrainConfig:
    """Validate a plain dict; errors are re-raised as one ``ConfigError`` naming each field."""
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc)) from None


def format_validation_error(exc: ValidationError) -> str:
    """One line per problem: ``uda.rcs.temperature: Input should be greater than 0``."""
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "config"
        lines.append(f"{where}: {err['msg']}")
    return "invalid config:\n  " + "\n  ".join(lines)


def load_config(path: str | Path | None = None, overrides: Iterable[str] = ()) -> TrainConfig:
    """Read a YAML config (or start from the defaults) and apply ``--set`` overrides."""
    data: dict = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        try:
            loaded = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {path}: expected a mapping at the top level")
        data = loaded
    return config_from_dict(apply_overrides(data, overrides))
