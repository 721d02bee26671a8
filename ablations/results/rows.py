"""Grouping trials into table rows and summarising each row over its seeds.

A row is one variant with one combination of sweep values (the seeds are its repetitions).
Only succeeded trials count towards the numbers; a row whose planned seeds have not all
succeeded, or that still has queued/running trials, is partial and must never be shown as a
final result. Rows keep the order in which their first trial appears (the spec's order).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ablations.results.records import ACTIVE_STATUSES, ExperimentInfo, TrialRecord
from ablations.results.stats import MeanStd, mean_std


def format_sweep_value(value: Any) -> str:
    """A sweep value as a table shows it: ``inf`` for infinity, JSON for lists, plain otherwise."""
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, str):
        return value
    if isinstance(value, list | dict | bool) or value is None:
        return json.dumps(value)
    return str(value)


def row_key(variant: str, sweep: Mapping[str, Any]) -> str:
    """A stable identifier of a row: the variant and its sweep values in canonical JSON."""
    if not sweep:
        return variant
    return variant + json.dumps(dict(sorted(sweep.items())), sort_keys=True, default=str)


def _short_keys(records: Sequence[TrialRecord]) -> dict[str, str]:
    """Show sweep keys by their last path segment ("temperature") unless two would collide."""
    keys = sorted({key for r in records for key in r.sweep})
    last = [key.rsplit(".", 1)[-1] for key in keys]
    return {key: (short if last.count(short) == 1 else key) for key, short in zip(keys, last, strict=True)}


@dataclass(frozen=True)
class Row:
    """One row of a table: the trials (seeds) of a variant with one set of sweep values."""

    key: str
    label: str
    variant: str
    sweep: Mapping[str, Any]
    trials: tuple[TrialRecord, ...]


def group_rows(records: Sequence[TrialRecord]) -> list[Row]:
    """Group trials by (variant, sweep values), in order of first appearance."""
    short = _short_keys(records)
    groups: dict[str, list[TrialRecord]] = {}
    for record in records:
        groups.setdefault(row_key(record.variant, record.sweep), []).append(record)
    rows = []
    for key, trials in groups.items():
        first = trials[0]
        values = ", ".join(f"{short[k]}={format_sweep_value(v)}" for k, v in sorted(first.sweep.items()))
        label = f"{first.variant} ({values})" if values else first.variant
        rows.append(Row(key, label, first.variant, first.sweep, tuple(sorted(trials, key=lambda t: t.seed))))
    return rows


@dataclass(frozen=True)
class RowStats:
    """A row summarised over its finished seeds (the numbers every table is made of)."""

    row: Row
    miou: MeanStd
    final_values: tuple[float, ...]
    best_miou: float | None
    best_steps: tuple[int, ...]
    per_class: Mapping[str, MeanStd]
    seeds_finished: int
    seeds_planned: int
    running: int
    queued: int
    failed: int
    cancelled: int
    state: str

    @property
    def partial(self) -> bool:
        """True unless every planned seed succeeded and nothing is still queued or running."""
        return self.state != "complete"


def _state(finished: int, planned: int, trials: Sequence[TrialRecord]) -> str:
    active = [t for t in trials if t.status in ACTIVE_STATUSES]
    if finished >= planned and not active:
        return "complete"
    if finished > 0:
        return "partial"
    if any(t.status == "running" for t in active):
        return "running"
    if active:
        return "queued"
    return "cancelled" if all(t.status == "cancelled" for t in trials) else "failed"


def summarise(row: Row, info: ExperimentInfo) -> RowStats:
    """Mean +- sample std of the final mIoU and per-class IoU over the row's succeeded seeds."""
    done = [t for t in row.trials if t.finished]
    finals = tuple(float(t.final_miou) for t in done if t.final_miou is not None)
    planned = len(set(info.seeds_planned) | {t.seed for t in row.trials})
    per_class = {
        name: mean_std(
            [t.final_per_class[name] for t in done if t.final_per_class and name in t.final_per_class]
        )
        for name in info.eval_classes
    }
    bests = [t for t in done if t.best_miou is not None]
    best = mean_std([float(t.best_miou) for t in bests if t.best_miou is not None]).mean
    steps = tuple(sorted({t.best_step for t in bests if t.best_step is not None}))
    return RowStats(
        row=row,
        miou=mean_std(finals),
        final_values=finals,
        best_miou=best,
        best_steps=steps,
        per_class=per_class,
        seeds_finished=len(done),
        seeds_planned=planned,
        running=sum(t.status == "running" for t in row.trials),
        queued=sum(t.status == "queued" for t in row.trials),
        failed=sum(t.status == "failed" for t in row.trials),
        cancelled=sum(t.status == "cancelled" for t in row.trials),
        state=_state(len(done), planned, row.trials),
    )


def summarise_all(info: ExperimentInfo, records: Sequence[TrialRecord]) -> list[RowStats]:
    """Every row of the experiment, summarised."""
    return [summarise(row, info) for row in group_rows(records)]


def find_row(stats: Sequence[RowStats], name: str | None) -> RowStats | None:
    """The row called ``name``: by label or key first, else the only row of that variant."""
    if name is None:
        return None
    for s in stats:
        if name in (s.row.label, s.row.key):
            return s
    by_variant = [s for s in stats if s.row.variant == name]
    return by_variant[0] if len(by_variant) == 1 else None


def published_value(info: ExperimentInfo, stats: Sequence[RowStats], s: RowStats) -> float | None:
    """The paper's figure for a row: keyed by its label or key, else by its variant if that is one row."""
    published = info.published or {}
    for name in (s.row.label, s.row.key):
        if name in published:
            return published[name]
    same_variant = [o for o in stats if o.row.variant == s.row.variant]
    return published.get(s.row.variant) if len(same_variant) == 1 else None
