"""Expanding a validated ``AblationSpec`` into resolved trials with a stable config hash.

``expand`` is a pure function: variant x sweep combination x seed, in the spec's order, each with
the fully resolved ``TrainConfig`` as a JSON dict and the sha256 of its canonical JSON.

What the hash covers. It is the identity used to find the same trial in another experiment, so
it covers every field that can change a trial's result (model, data roots and sizes, the UDA
method, optimisation, iterations, the evaluation cadence that produces the IoU curves, seed,
device and precision) and leaves out only fields that cannot: ``HASH_EXCLUDED`` (where the run
writes its files, how often it logs losses, how many checkpoints it keeps, and the number of
data-loader workers: batch k is a pure function of (seed, k) whatever the workers, see
docs/CONTRACTS.md). Data roots stay in: a different folder is different data. The hash is of
the whole resolved config, so a schema that gains a field changes every hash (never a false
match). Imports no torch.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ablations.cost import REFERENCE_SECONDS_PER_ITERATION, architecture_factor
from ablations.method_cost import method_cost_factor
from ablations.spec import (
    SEED_PATH,
    AblationSpec,
    SpecError,
    describe_config_error,
    format_value,
    json_safe,
    override_items,
    resolve_config,
)
from trainer.config import TrainConfig

HASH_EXCLUDED: dict[str, set[str]] = {
    "run": {"output_dir", "log_interval", "keep_checkpoints"},
    "data": {"num_workers"},
}
"""Config fields that cannot change a trial's result and so do not enter ``config_hash``."""


@dataclass(frozen=True)
class TrialPlan:
    """One trial of an expanded spec: a cell of the table and one seed."""

    name: str
    """Readable and unique in the experiment: ``rcs_T=0.1/seed=1``, ``warmup+rcs/seed=0``."""
    variant: str
    sweep: dict[str, Any]
    """Dotted sweep key -> the value in the resolved config's JSON ("Infinity" for inf)."""
    seed: int
    config: dict[str, Any]
    """The fully resolved ``TrainConfig`` as JSON (``TrainConfig.model_validate`` reads it back)."""
    config_hash: str


def canonical_json(data: TrainConfig | Mapping[str, Any]) -> str:
    """Sorted keys, no whitespace, inf as "Infinity": equal data gives equal text whatever the key order."""
    if isinstance(data, TrainConfig):
        data = config_json(data)
    return json.dumps(
        json_safe(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def config_json(config: TrainConfig) -> dict[str, Any]:
    """The resolved config as a strict-JSON dict (pydantic's ``mode="json"`` dump keeps float inf)."""
    result: dict[str, Any] = json.loads(config.model_dump_json())
    return result


def config_hash(config: TrainConfig | Mapping[str, Any]) -> str:
    """sha256 (hex) of the canonical JSON of the resolved config without ``HASH_EXCLUDED`` fields.

    A mapping is validated as a ``TrainConfig`` first, so a partial dict, the full dump, "inf" or
    float inf, and any key order all give the hash of the config they resolve to.
    """
    resolved = config if isinstance(config, TrainConfig) else TrainConfig.model_validate(config)
    return _hash_of_json(config_json(resolved))


def _hash_of_json(data: Mapping[str, Any]) -> str:
    """`config_hash` of a resolved config already dumped by `config_json` (``data`` is not changed)."""
    return hashlib.sha256(_hashed_text(data).encode()).hexdigest()


def _hashed_text(data: Mapping[str, Any]) -> str:
    """The text ``config_hash`` hashes: canonical JSON without ``HASH_EXCLUDED`` fields.

    A `config_json` dump is strict JSON already (inf as "Infinity", lists, no NaN), so
    `canonical_json`'s `json_safe` copy would be an identity: the text is dumped directly, the same bytes.
    """
    kept = dict(data)
    for section, names in HASH_EXCLUDED.items():
        kept[section] = {k: v for k, v in kept[section].items() if k not in names}
    return json.dumps(kept, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


_SEED_MARK = -7_319_021
"""A seed no trial can have (seeds are >= 0): marks where each seed goes in a cell's texts."""


class _SeededCell:
    """One resolved row x sweep cell, handed out per seed.

    The seed is the only field that differs within a cell, so the cell's JSON text and its hashed
    text are written once with a marker seed; each seed's config is parsed from the first (a fresh
    dict: plans never share dicts) and its hash is that of the second with the seed spliced in,
    the same bytes `_hash_of_json` would hash (checked by a test)."""

    def __init__(self, cell: dict[str, Any]) -> None:
        """``cell``: a fresh `config_json` dump, taken over (its seed is overwritten)."""
        _json_value(cell, SEED_PATH[:-1])[SEED_PATH[-1]] = _SEED_MARK
        self._text = json.dumps(cell)
        hashed, mark = _hashed_text(cell), f'"{SEED_PATH[-1]}":{_SEED_MARK}'
        self._parts = hashed.split(mark) if hashed.count(mark) == 1 else None

    def config(self, seed: int) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self._text)
        _json_value(data, SEED_PATH[:-1])[SEED_PATH[-1]] = seed
        return data

    def config_hash(self, seed: int, config: Mapping[str, Any]) -> str:
        if self._parts is None:  # the marker is not unique in the text: hash it whole
            return _hash_of_json(config)
        head, tail = self._parts
        return hashlib.sha256(f'{head}"{SEED_PATH[-1]}":{seed}{tail}'.encode()).hexdigest()


def _with_seed(cell: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """A resolved config's JSON with another seed (a fresh copy: plans never share dicts)."""
    data: dict[str, Any] = json.loads(json.dumps(cell))
    node = data
    for part in SEED_PATH[:-1]:
        node = node[part]
    node[SEED_PATH[-1]] = seed
    return data


def _json_value(data: Mapping[str, Any], path: Sequence[str]) -> Any:
    node: Any = data
    for part in path:
        node = node[part]
    return node


def trial_name(variant: str, sweep: Mapping[str, Any], labels: Mapping[str, str], seed: int) -> str:
    """``variant[_label=value,...]/seed=N``, e.g. ``rcs_T=0.1/seed=1``."""
    cell = ",".join(f"{labels[key]}={format_value(value)}" for key, value in sweep.items())
    return f"{variant}{'_' + cell if cell else ''}/seed={seed}"


def expand(spec: AblationSpec, *, max_trials: int | None = None) -> list[TrialPlan]:
    """Every trial of ``spec``: variants (outer) x sweep combinations x seeds (inner).

    ``max_trials`` is an extra limit of the caller (e.g. the service's setting) on top of the
    spec's own; the grid is counted before anything is resolved.
    """
    limit = min(spec.max_trials, max_trials) if max_trials is not None else spec.max_trials
    if spec.n_trials > limit:
        msg = f"the grid has {spec.n_trials} trials, more than the limit of {limit}; shrink the grid"
        raise SpecError(("max_trials",), msg)
    base = override_items(spec.base)
    labels = {s.key: s.short_label for s in spec.sweeps}
    plans: list[TrialPlan] = []
    for i, variant in enumerate(spec.variants):
        row = override_items(variant.overrides)
        for cell in spec.sweep_cells():
            cell_layers = [base, row, [(s.path, v) for s, v in cell]]
            seeded: _SeededCell | None = None
            for seed in spec.seeds:
                try:
                    if type(seed) is int and seed >= 0:
                        # No validator reads the seed (RunConfig.seed: int >= 0), so the cell is
                        # validated once, not per seed: the same layers the spec's own check
                        # resolved (a cache hit).
                        if seeded is None:
                            seeded = _SeededCell(config_json(resolve_config(cell_layers)))
                        config = seeded.config(seed)
                        digest = seeded.config_hash(seed, config)
                    else:  # only for specs built without validation: the seed's own error
                        config = config_json(resolve_config([*cell_layers, [(SEED_PATH, seed)]]))
                        digest = _hash_of_json(config)
                except ValidationError as exc:  # only for specs built without validation
                    msg = f"variants[{i}] {variant.name!r}: {describe_config_error(exc)}"
                    raise SpecError(("variants", i, "overrides"), msg) from None
                sweep = {s.key: _json_value(config, s.path) for s, _ in cell}
                plans.append(TrialPlan(
                    name=trial_name(variant.name, sweep, labels, seed), variant=variant.name, sweep=sweep,
                    seed=seed, config=config, config_hash=digest,
                ))  # fmt: skip
    repeated = sorted(name for name, n in Counter(p.name for p in plans).items() if n > 1)
    if repeated:  # only when a sweep value is spelled like another row's name
        raise SpecError(("variants",), f"trial names are not unique: {', '.join(repeated)}")
    return plans


# --- cost estimate --------------------------------------------------------------------------------

def estimated_seconds_per_iteration(config: Mapping[str, Any]) -> float:
    """Rough seconds per iteration of one resolved config on an RTX 2080 Ti class GPU.

    Rough on purpose: the full DAFormer's measured 1.44 s/it, scaled by the architecture's forward
    MACs relative to DAFormer's (``ablations.cost.architecture_factor``: encoder + decoder, e.g.
    DeepLabV2 ResNet-101 1.56, SegFormer MiT-B5 0.86, UperNet MiT-B5 2.31); time scales with crop
    area; and a method costs its passes counted in forward units (forward +
    backward = 3): UDA = source 3 + teacher 1 + mixed 3 (+ frozen FD encoder 1) = 8 with FD,
    7 without; source-only and target-only = 3. Evaluation and data loading are left out.
    """
    model, data, uda = config["model"], config["data"], config["uda"]
    height, width = data["crop_size"]
    if uda["mode"] == "uda":
        units = 8.0 if uda["fd"]["enabled"] else 7.0
    else:
        units = 3.0
    plain = REFERENCE_SECONDS_PER_ITERATION * architecture_factor(model) * (height * width) / (512 * 512) * units / 8.0
    return plain * method_cost_factor(config)  # HRDA's two scales and slide teacher, MIC's extra pass


def estimate_gpu_hours(
    trials: AblationSpec | Sequence[TrialPlan], seconds_per_iteration: float | None = None
) -> float:
    """GPU-hours of a whole grid: the sum over trials of iterations x seconds per iteration / 3600.

    ``seconds_per_iteration`` (a figure measured on the actual cluster) replaces the per-trial
    estimate of ``estimated_seconds_per_iteration`` for every trial. A trial counts as one whole
    GPU whatever its fractional share: sharing a GPU does not make a trial cheaper.
    """
    plans = expand(trials) if isinstance(trials, AblationSpec) else trials
    if seconds_per_iteration is not None and not seconds_per_iteration > 0:
        raise SpecError(("seconds_per_iteration",), f"must be positive, got {seconds_per_iteration}")
    total = 0.0
    for plan in plans:
        per_it = seconds_per_iteration or estimated_seconds_per_iteration(plan.config)
        total += plan.config["run"]["iterations"] * per_it
    return total / 3600.0
