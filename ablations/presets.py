"""The paper's ablation tables as ready-made specs, read from the YAML files in ``presets/``.

A preset file holds one table: ``title``, ``table`` (which table of the paper it reproduces, or
what it extends), ``description``, ``spec`` (an ``AblationSpec`` without
its name) and optionally ``benchmarks``, each adding overrides to the base (e.g. SYNTHIA as the
source) and its own published figures. A file ``strategies.yaml`` with benchmarks ``gta`` and
``synthia`` gives the presets ``strategies_gta`` and ``strategies_synthia``; a file without
benchmarks gives one preset named after the file. A request may change what differs between
installations (seeds, run length, data folders, resources) through ``PresetOverrides``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ablations.spec import AblationSpec, FieldPath, Resources, SpecError, override_items, resolve_config

PRESETS_DIR = Path(__file__).resolve().parent / "presets"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PresetInfo(_Frozen):
    """What a preset is, for listing: its name, title, paper table, description and number of trials."""

    name: str
    title: str
    table: str | None
    description: str
    n_trials: int


class PresetOverrides(_Frozen):
    """What a request may change in a preset; every field left as None keeps the preset's value."""

    seeds: list[int] | None = Field(None, min_length=1)
    iterations: int | None = Field(
        None,
        gt=0,
        description="run.iterations; eval/checkpoint intervals longer than the run are shortened to it.",
    )
    source_root: str | None = Field(None, min_length=1, description="data.source.root")
    target_root: str | None = Field(None, min_length=1, description="data.target.root")
    resources: Resources | None = None


class _Benchmark(_Frozen):
    title: str
    base: dict[str, Any] = Field(default_factory=dict)
    published: dict[str, float] | None = None


class _PresetFile(_Frozen):
    title: str
    table: str | None = None
    description: str
    spec: dict[str, Any]
    benchmarks: dict[str, _Benchmark] | None = None


def nest(items: list[tuple[FieldPath, Any]]) -> dict[str, Any]:
    """Nested overrides from flat ``(path, value)`` items; a later item wins over an earlier one."""
    result: dict[str, Any] = {}
    for path, value in items:
        node = result
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return result


def _read(path: Path) -> _PresetFile:
    try:
        data = yaml.safe_load(path.read_text())
        return _PresetFile.model_validate(data)
    except (OSError, yaml.YAMLError) as exc:
        raise SpecError(("preset", path.stem), f"{path}: cannot read the preset file: {exc}") from None
    except ValidationError as exc:
        raise SpecError(("preset", path.stem), f"{path}: not a preset file: {exc}") from None


def _build(
    name: str, file: _PresetFile, bench: _Benchmark | None, source: Path
) -> tuple[AblationSpec, str, str | None]:
    data = dict(file.spec)
    data["name"] = name
    title = file.title
    if bench is not None:
        data["base"] = nest(override_items(file.spec.get("base", {})) + override_items(bench.base))
        if bench.published is not None:
            data["published"] = bench.published
        title = f"{file.title}, {bench.title}"
    data["description"] = f"{file.description} ({bench.title})" if bench else file.description
    try:
        return AblationSpec.model_validate(data), title, file.table
    except ValidationError as exc:
        raise SpecError(("preset", name), f"{source}: invalid spec: {exc}") from None


def _all(directory: Path) -> dict[str, tuple[AblationSpec, str, str | None]]:
    presets: dict[str, tuple[AblationSpec, str, str | None]] = {}
    for path in sorted(directory.glob("*.yaml")):
        file = _read(path)
        if not file.benchmarks:
            presets[path.stem] = _build(path.stem, file, None, path)
        for bench_name, bench in (file.benchmarks or {}).items():
            name = f"{path.stem}_{bench_name}"
            presets[name] = _build(name, file, bench, path)
    return presets


def list_presets(directory: Path = PRESETS_DIR) -> list[PresetInfo]:
    """Every preset, in file order, with its trial count."""
    return [
        PresetInfo(name=name, title=title, table=table, description=spec.description, n_trials=spec.n_trials)
        for name, (spec, title, table) in _all(directory).items()
    ]


def load_preset(
    name: str, overrides: PresetOverrides | None = None, directory: Path = PRESETS_DIR
) -> AblationSpec:
    """The preset ``name`` as a validated spec, with the request's ``overrides`` applied.

    Raises ``SpecError`` naming the known presets when ``name`` is unknown, and naming the field
    when the overrides make the spec invalid.
    """
    presets = _all(directory)
    if name not in presets:
        raise SpecError(("preset",), f"unknown preset {name!r}; known presets: {', '.join(presets)}")
    spec = presets[name][0]
    return apply_preset_overrides(spec, overrides) if overrides is not None else spec


def apply_preset_overrides(spec: AblationSpec, overrides: PresetOverrides) -> AblationSpec:
    """``spec`` with new seeds, run length, data roots or resources (the base gets the new values)."""
    data = spec.model_dump()
    updates: list[tuple[FieldPath, Any]] = []
    if overrides.iterations is not None:
        updates += _run_length(spec, overrides.iterations)
    if overrides.source_root is not None:
        updates.append((("data", "source", "root"), overrides.source_root))
    if overrides.target_root is not None:
        updates.append((("data", "target", "root"), overrides.target_root))
    data["base"] = nest(override_items(spec.base) + updates)
    if overrides.seeds is not None:
        data["seeds"] = overrides.seeds
    if overrides.resources is not None:
        data["resources"] = overrides.resources.model_dump()
    try:
        return AblationSpec.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise SpecError(
            ("overrides", *first["loc"]),
            f"preset {spec.name!r} with these overrides: " + "; ".join(e["msg"] for e in exc.errors()),
        ) from None


def _run_length(spec: AblationSpec, iterations: int) -> list[tuple[FieldPath, Any]]:
    """Set run.iterations, and shorten eval/checkpoint intervals so a short run still reports."""
    run = resolve_config([override_items(spec.base)]).run
    updates: list[tuple[FieldPath, Any]] = [(("run", "iterations"), iterations)]
    intervals = {"eval_interval": run.eval_interval, "checkpoint_interval": run.checkpoint_interval}
    for field, interval in intervals.items():
        if interval > iterations:
            updates.append((("run", field), iterations))
    return updates
