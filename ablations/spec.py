"""The ablation spec: a base config, named rows (variants), optional sweeps and seeds (ARCHITECTURE).

A paper table is a list of rows, not a Cartesian product, so rows are named ``variants`` that each
carry their own overrides; ``sweeps`` are the factors that do multiply (RCS temperature, lambda_FD)
and ``seeds`` repeat every cell. Overrides apply on top of the trainer's ``TrainConfig()`` defaults
in the order base -> variant -> sweep values -> seed, and may be written as nested dicts or dotted
keys (``{"uda.rcs.enabled": false}``).

A spec is checked against the trainer's config before anything runs: every override path must be
a field of ``TrainConfig`` and every resolved cell must validate. Problems are reported as one
pydantic ``ValidationError`` whose ``loc`` points at the row (``("variants", 2, "overrides", "uda",
"rcs", "temperatur")``) and whose message names the row and the field (``variants[2] 'no_rcs':
uda.rcs.temperatur: unknown field``), so FastAPI turns it into a 422 that says what to fix.
Non-finite floats are stored as the strings "Infinity"/"-Infinity" (which the trainer's config
parses back), so a spec always dumps to strict JSON. Imports no torch.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from trainer.config import TrainConfig

DEFAULT_MAX_TRIALS = 1000
"""Refuse grids with more trials than this unless the spec raises its own ``max_trials``."""

SEED_PATH: tuple[str, ...] = ("run", "seed")
"""Set from ``seeds`` for every trial; overrides may not set it."""

FieldPath = tuple[str, ...]
OverrideItems = list[tuple[FieldPath, Any]]
Loc = tuple[str | int, ...]

_NAME_PATTERN = r"^[^/\s,]+$"  # "/" separates name parts, "," sweep values in trial names


class SpecError(ValueError):
    """A spec or preset that cannot be used, outside pydantic validation (expansion, presets).

    ``loc`` is the path of the offending input, as in a pydantic error; ``errors()`` has the shape
    of ``ValidationError.errors()`` so the service renders both the same way.
    """

    def __init__(self, loc: Loc, message: str) -> None:
        self.loc = loc
        self.message = message
        super().__init__(f"{'.'.join(str(p) for p in loc) or 'spec'}: {message}")

    def errors(self) -> list[dict[str, Any]]:
        return [{"loc": self.loc, "msg": self.message, "type": "ablation_spec"}]


def json_safe(value: Any, where: str = "value") -> Any:
    """Copy ``value`` with +-inf floats as "Infinity"/"-Infinity" and tuples as lists; refuse NaN."""
    if isinstance(value, float) and not math.isfinite(value):
        if math.isnan(value):
            raise ValueError(f"{where}: NaN is not a valid value")
        return "Infinity" if value > 0 else "-Infinity"
    if isinstance(value, Mapping):
        return {k: json_safe(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="strings", allow_inf_nan=False)


class Resources(_Frozen):
    """What one trial reserves on the cluster; fractional GPUs let small trials share one."""

    cpus: float = Field(1.0, gt=0.0)
    gpus: float = Field(0.0, ge=0.0)


class Variant(_Frozen):
    """One row of a table: a name and the overrides that make it differ from the base."""

    name: str = Field(min_length=1, max_length=100, pattern=_NAME_PATTERN)
    description: str = ""
    overrides: dict[str, Any] = Field(default_factory=dict)

    @field_validator("overrides")
    @classmethod
    def _safe(cls, value: dict[str, Any]) -> dict[str, Any]:
        return json_safe(value, "overrides")


class Sweep(_Frozen):
    """A factor that multiplies every row: one dotted config field and the values it takes."""

    key: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
    values: list[Any] = Field(min_length=1)
    label: str | None = Field(None, pattern=r"^[^/\s,=]+$", description="Short name in trial names.")

    @field_validator("values")
    @classmethod
    def _safe(cls, value: list[Any]) -> list[Any]:
        return json_safe(value, "values")

    @property
    def path(self) -> FieldPath:
        return tuple(self.key.split("."))

    @property
    def short_label(self) -> str:
        """The name used in trial names: ``label`` or the last part of ``key``."""
        return self.label or self.path[-1]


class AblationSpec(_Frozen):
    """A whole ablation study; ``expand`` turns it into one trial per variant x sweep cell x seed."""

    name: str = Field(min_length=1, max_length=100, pattern=_NAME_PATTERN)
    description: str = ""
    base: dict[str, Any] = Field(default_factory=dict, description="Overrides on TrainConfig().")
    variants: list[Variant] = Field(min_length=1)
    sweeps: list[Sweep] = Field(default_factory=list)
    seeds: list[int] = Field(min_length=1)
    resources: Resources = Resources()
    baseline: str | None = Field(None, description="The variant that deltas are computed against.")
    published: dict[str, float] | None = Field(None, description="Variant name -> paper mIoU (%).")
    max_trials: int = Field(DEFAULT_MAX_TRIALS, gt=0)

    @field_validator("base")
    @classmethod
    def _safe_base(cls, value: dict[str, Any]) -> dict[str, Any]:
        return json_safe(value, "base")

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, value: list[int]) -> list[int]:
        if any(s < 0 for s in value):
            raise ValueError(f"seeds must be non-negative integers, got {value}")
        if len(set(value)) != len(value):
            raise ValueError(f"seeds must be unique, got {value}")
        return value

    @field_validator("published")
    @classmethod
    def _percent(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        for name, miou in (value or {}).items():
            if not 0.0 <= miou <= 100.0:
                raise ValueError(f"published[{name!r}]: expected an mIoU in percent (0..100), got {miou}")
        return value

    @model_validator(mode="after")
    def _check(self) -> AblationSpec:
        errors = _check_names(self) or _check_size(self) or _check_paths(self) or _check_configs(self)
        if errors:
            raise ValidationError.from_exception_data(type(self).__name__, errors)
        return self

    @property
    def n_sweep_cells(self) -> int:
        return math.prod(len(s.values) for s in self.sweeps)

    @property
    def n_trials(self) -> int:
        """Variants x sweep combinations x seeds."""
        return len(self.variants) * self.n_sweep_cells * len(self.seeds)

    def sweep_cells(self) -> list[tuple[tuple[Sweep, Any], ...]]:
        """Every combination of sweep values, the first sweep varying slowest; ``[()]`` without sweeps."""
        cells: list[tuple[tuple[Sweep, Any], ...]] = [()]
        for sweep in self.sweeps:
            cells = [cell + ((sweep, v),) for cell in cells for v in sweep.values]
        return cells


# --- overrides: flattening, path checks, resolution ----------------------------------------------


def override_items(data: Mapping[str, Any], prefix: FieldPath = ()) -> OverrideItems:
    """Flatten nested and dotted overrides into ``[(("uda", "rcs", "enabled"), False), ...]``."""
    items: OverrideItems = []
    for key, value in data.items():
        path = prefix + tuple(str(key).split("."))
        if isinstance(value, Mapping):  # an empty mapping sets nothing
            items.extend(override_items(value, path))
        else:
            items.append((path, value))
    return items


@functools.cache
def _defaults() -> dict[str, Any]:
    return TrainConfig().model_dump()


def path_problem(path: FieldPath) -> str | None:
    """Why ``path`` is not a settable leaf of ``TrainConfig`` (None when it is)."""
    if any(not part for part in path):
        return "empty part in the field path"
    if path == SEED_PATH:
        return "set by the spec's seeds, not by overrides"
    node: Any = _defaults()
    for i, part in enumerate(path):
        if not isinstance(node, dict):
            return f"{'.'.join(path[:i])} is a field, not a section"
        if part not in node:
            return "unknown field"
        node = node[part]
    if isinstance(node, dict):
        return f"is a section, not a field; set its fields, e.g. {'.'.join(path)}.{next(iter(node))}"
    return None


RESOLVED_CACHE_SIZE = 1024
"""Resolved configs kept by ``resolve_config`` (frozen models, shared safely; about 16 KB each, so
16 MB at most): a submission resolves every row x sweep cell twice, once in the spec's checks and
once in ``expand``, and a grid of up to this many cells finds the second resolution cached."""


def resolve_config(layers: Iterable[OverrideItems]) -> TrainConfig:
    """Apply override layers in order on the defaults and validate (raises pydantic's ValidationError).

    Equal layers give the same (immutable) ``TrainConfig``, from a cache keyed by their JSON text;
    values JSON cannot write (none in a spec, which is JSON) are resolved uncached."""
    listed = [list(items) for items in layers]
    try:
        key = json.dumps(listed, separators=(",", ":"))
    except (TypeError, ValueError):
        return _validated(listed)
    return _resolve_cached(key)


@functools.lru_cache(maxsize=RESOLVED_CACHE_SIZE)
def _resolve_cached(key: str) -> TrainConfig:
    return _validated(json.loads(key))


def _validated(layers: Iterable[Iterable[tuple[Sequence[str], Any]]]) -> TrainConfig:
    """The defaults with the layers applied, validated. Copy-on-write: only the sections on an
    override's path are copied (validation reads the rest and never changes it)."""
    data = dict(_defaults())
    fresh = {id(data)}
    for items in layers:
        for path, value in items:
            node = data
            for part in path[:-1]:
                child = node[part]
                if id(child) not in fresh:
                    child = dict(child)
                    node[part] = child
                    fresh.add(id(child))
                node = child
            node[path[-1]] = value
    return TrainConfig.model_validate(data)


def describe_config_error(exc: ValidationError) -> str:
    """``uda.rcs.temperature: Input should be greater than 0`` (several problems joined by "; ")."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'config'}: {e['msg']}" for e in exc.errors())


def format_value(value: Any) -> str:
    """A sweep value as written in trial names: ``0.1``, ``1``, ``inf``, ``mit_b5``, ``[1280,760]``."""
    if value in ("Infinity", "-Infinity"):
        return "inf" if value == "Infinity" else "-inf"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


# --- the checks behind AblationSpec._check, each returning pydantic error details ----------------


def _error(loc: Loc, message: str, value: Any = None) -> InitErrorDetails:
    return InitErrorDetails(
        type=PydanticCustomError("ablation_spec", "{detail}", {"detail": message}), loc=loc, input=value
    )


def _row(spec: AblationSpec, index: int) -> str:
    return f"variants[{index}] {spec.variants[index].name!r}"


def _check_names(spec: AblationSpec) -> list[InitErrorDetails]:
    errors: list[InitErrorDetails] = []
    seen: dict[str, int] = {}
    for i, variant in enumerate(spec.variants):
        if variant.name in seen:
            msg = f"{_row(spec, i)}: duplicate variant name (also variants[{seen[variant.name]}])"
            errors.append(_error(("variants", i, "name"), msg, variant.name))
        seen.setdefault(variant.name, i)
    if spec.baseline is not None and spec.baseline not in seen:
        msg = f"baseline {spec.baseline!r} is not a variant; variants: {', '.join(seen)}"
        errors.append(_error(("baseline",), msg, spec.baseline))
    for name in spec.published or {}:
        if name not in seen:
            msg = f"published[{name!r}] is not a variant; variants: {', '.join(seen)}"
            errors.append(_error(("published", name), msg, name))
    keys: dict[str, int] = {}
    for j, sweep in enumerate(spec.sweeps):
        if sweep.key in keys:
            msg = f"sweeps[{j}] {sweep.key!r}: swept twice (also sweeps[{keys[sweep.key]}])"
            errors.append(_error(("sweeps", j, "key"), msg, sweep.key))
        keys.setdefault(sweep.key, j)
    return errors


def _check_size(spec: AblationSpec) -> list[InitErrorDetails]:
    if spec.n_trials <= spec.max_trials:
        return []
    msg = (
        f"the grid has {spec.n_trials} trials ({len(spec.variants)} variants x {spec.n_sweep_cells} "
        f"sweep combinations x {len(spec.seeds)} seeds), more than max_trials={spec.max_trials}; "
        f"shrink the grid or raise max_trials"
    )
    return [_error(("max_trials",), msg, spec.n_trials)]


def _paths_of(items: OverrideItems, where: str, loc: Loc) -> list[InitErrorDetails]:
    errors: list[InitErrorDetails] = []
    seen: set[FieldPath] = set()
    for path, value in items:
        dotted = ".".join(path)
        problem = path_problem(path) or ("set twice (nested and dotted)" if path in seen else None)
        if problem:
            errors.append(_error(loc + path, f"{where}: {dotted}: {problem}", value))
        seen.add(path)
    return errors


def _check_paths(spec: AblationSpec) -> list[InitErrorDetails]:
    errors = _paths_of(override_items(spec.base), "base", ("base",))
    swept = {s.path: j for j, s in enumerate(spec.sweeps)}
    for i, variant in enumerate(spec.variants):
        items = override_items(variant.overrides)
        errors += _paths_of(items, _row(spec, i), ("variants", i, "overrides"))
        for path, value in items:
            if path in swept:
                msg = f"{_row(spec, i)}: {'.'.join(path)}: also swept by sweeps[{swept[path]}]; set it once"
                errors.append(_error(("variants", i, "overrides", *path), msg, value))
    for j, sweep in enumerate(spec.sweeps):
        problem = path_problem(sweep.path)
        if problem:
            errors.append(_error(("sweeps", j, "key"), f"sweeps[{j}] {sweep.key!r}: {problem}", sweep.key))
    return errors


def _check_configs(spec: AblationSpec) -> list[InitErrorDetails]:
    """Resolve the base, each row, each sweep value, then every row x sweep cell, stopping early.

    Checking the pieces alone first blames the piece that is wrong; the combinations catch what is
    only wrong together (e.g. thing classes beyond a smaller ``num_classes``).
    """
    base = override_items(spec.base)
    try:
        resolve_config([base])
    except ValidationError as exc:
        return [_error(("base",), f"base: {describe_config_error(exc)}", spec.base)]
    errors: list[InitErrorDetails] = []
    rows = [override_items(v.overrides) for v in spec.variants]
    for i, items in enumerate(rows):
        try:
            resolve_config([base, items])
        except ValidationError as exc:
            msg = f"{_row(spec, i)}: {describe_config_error(exc)}"
            errors.append(_error(("variants", i, "overrides"), msg, spec.variants[i].overrides))
    for j, sweep in enumerate(spec.sweeps):
        errors += _check_sweep_values(sweep, j, base)
    return errors or _check_cells(spec, base, rows)


def _check_sweep_values(sweep: Sweep, j: int, base: OverrideItems) -> list[InitErrorDetails]:
    errors: list[InitErrorDetails] = []
    seen: dict[str, int] = {}
    for k, value in enumerate(sweep.values):
        where = f"sweeps[{j}] {sweep.key}={format_value(value)}"
        try:
            resolved = resolve_config([base, [(sweep.path, value)]])
        except ValidationError as exc:
            errors.append(_error(("sweeps", j, "values", k), f"{where}: {describe_config_error(exc)}", value))
            continue
        canonical = json.dumps(field_value(resolved, sweep.path), sort_keys=True)
        if canonical in seen:
            msg = f"{where}: duplicate value (same as values[{seen[canonical]}])"
            errors.append(_error(("sweeps", j, "values", k), msg, value))
        seen.setdefault(canonical, k)
    return errors


def _check_cells(
    spec: AblationSpec, base: OverrideItems, rows: Sequence[OverrideItems]
) -> list[InitErrorDetails]:
    errors: list[InitErrorDetails] = []
    configs: dict[str, str] = {}
    for i, items in enumerate(rows):
        for cell in spec.sweep_cells():
            values = ", ".join(f"{s.key}={format_value(v)}" for s, v in cell)
            where = f"{_row(spec, i)} with {values}" if cell else _row(spec, i)
            try:
                resolved = resolve_config([base, items, [(s.path, v) for s, v in cell]])
            except ValidationError as exc:
                errors.append(_error(("variants", i, "overrides"), f"{where}: {describe_config_error(exc)}"))
                continue
            text = resolved.model_dump_json()
            if text in configs:
                msg = f"{where}: resolves to the same config as {configs[text]}; drop one of them"
                errors.append(_error(("variants", i, "overrides"), msg, spec.variants[i].overrides))
            configs.setdefault(text, where)
    return errors


def field_value(config: TrainConfig, path: FieldPath) -> Any:
    """The JSON value of one field of a resolved config ("Infinity" for inf, lists for tuples)."""
    node: Any = json.loads(config.model_dump_json())
    for part in path:
        node = node[part]
    return node
