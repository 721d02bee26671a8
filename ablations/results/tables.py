"""The paper's tables computed from trial records: ablation rows, per-class IoU, architectures.

- Ablation table (DAFormer Tables 1-5 style): final-iteration mIoU mean +- std over seeds, the
  seeds finished, the delta to the baseline row with Welch's t-test p-value, the best
  iteration beside it, and optionally the published figure.
- Per-class table: IoU per class per row; rare classes (rider, bicycle, motorcycle, train, bus,
  the ones RCS targets) are highlighted and thing classes (those FD acts on) marked.
- Architecture table: source-only / UDA / target-only (oracle) rows per architecture and the
  relative score UDA / oracle (spec: "The ablations of the paper").
Each builder returns a ``TableView`` that ``formats`` renders.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ablations.results.records import ExperimentInfo, TrialRecord
from ablations.results.rows import RowStats, find_row, format_sweep_value, published_value, summarise_all
from ablations.results.stats import WELCH_TEST_NOTE, delta, relative_score, welch_p_values
from ablations.results.view import (
    MISSING,
    PARTIAL_MARK,
    Column,
    TableView,
    ViewRow,
    best_index,
    fmt_mean_std,
    fmt_number,
    fmt_p_value,
    fmt_signed,
)
from trainer.config import CITYSCAPES_CLASSES, THING_CLASSES

RARE_CLASSES: tuple[str, ...] = ("rider", "bus", "train", "motorcycle", "bicycle")
"""Classes the paper singles out as rare in GTA5 (the ones RCS is meant to help)."""

THING_CLASS_NAMES: tuple[str, ...] = tuple(CITYSCAPES_CLASSES[i] for i in THING_CLASSES)
"""Names of the thing classes whose ImageNet features FD preserves."""

PARTIAL_NOTE = (
    "(partial): not every planned seed has finished, or trials are still running; not a final result."
)
MIOU_NOTE = (
    "mIoU: final iteration, in percent, mean ± sample std (ddof=1) over finished seeds; "
    "best: mean of each seed's best evaluated mIoU @ its iteration(s), for reference only."
)


def _partial_note(rows: Sequence[ViewRow]) -> list[str]:
    """The "(partial)" explanation, only under a table that has a partial row."""
    return [PARTIAL_NOTE] if any(r.partial for r in rows) else []


def _miou_text(s: RowStats) -> str:
    text = fmt_mean_std(s.miou.mean, s.miou.std)
    return text + PARTIAL_MARK if s.partial and s.miou.mean is not None else text


def _seeds_text(s: RowStats) -> str:
    counts = ((s.running, "running"), (s.queued, "queued"), (s.failed, "failed"), (s.cancelled, "cancelled"))
    extra = [f"{n} {what}" for n, what in counts]
    extra = [e for e in extra if not e.startswith("0 ")]
    return f"{s.seeds_finished}/{s.seeds_planned}" + (f" ({', '.join(extra)})" if extra else "")


def _best_text(s: RowStats) -> str:
    if s.best_miou is None:
        return MISSING
    steps = "/".join(str(step) for step in s.best_steps)
    return f"best {s.best_miou:.1f}" + (f" @ {steps}" if steps else "")


def _complete_best(stats: Sequence[RowStats], value: Any) -> int | None:
    """Index of the best complete row by ``value(stats)``; partial rows never win."""
    return best_index([value(s) if not s.partial else None for s in stats])


def ablation_table(info: ExperimentInfo, records: Sequence[TrialRecord]) -> TableView:
    """One row per variant and sweep value: mIoU mean ± std, seeds, delta and p to the baseline."""
    stats = summarise_all(info, records)
    base = find_row(stats, info.baseline)
    show_paper = bool(info.published)
    columns = [
        Column("Row"),
        Column("mIoU"),
        Column("Best (iteration)"),
        Column("Seeds"),
        Column("Δ baseline"),
        Column("p (Welch)"),
    ]
    if show_paper:
        columns += [Column("Paper"), Column("Ours − paper")]
    best = _complete_best(stats, lambda s: s.miou.mean)
    p_values = welch_p_values([s.final_values for s in stats], base.final_values if base else [])
    rows, data = [], []
    for index, s in enumerate(stats):
        is_base = base is not None and s is base
        d = delta(s.miou.mean, base.miou.mean) if base is not None and not is_base else None
        p = p_values[index] if not is_base else None
        cells = [
            s.row.label,
            _miou_text(s),
            _best_text(s),
            _seeds_text(s),
            "baseline" if is_base else fmt_signed(d),
            MISSING if is_base else fmt_p_value(p),
        ]
        paper = published_value(info, stats, s)
        if show_paper:
            cells += [fmt_number(paper), fmt_signed(delta(s.miou.mean, paper))]
        rows.append(
            ViewRow(s.row.key, tuple(cells), s.partial, frozenset({0, 1}) if index == best else frozenset())
        )
        data.append(
            {
                "row": s.row.label,
                "key": s.row.key,
                "variant": s.row.variant,
                "sweep": dict(s.row.sweep),
                "state": s.state,
                "partial": s.partial,
                "miou_mean": s.miou.mean,
                "miou_std": s.miou.std,
                "final_mious": list(s.final_values),
                "seeds_finished": s.seeds_finished,
                "seeds_planned": s.seeds_planned,
                "running": s.running,
                "queued": s.queued,
                "failed": s.failed,
                "cancelled": s.cancelled,
                "best_miou_mean": s.best_miou,
                "best_steps": list(s.best_steps),
                "is_baseline": is_base,
                "delta": d,
                "p_value": p,
                "paper": paper,
                "paper_diff": delta(s.miou.mean, paper),
            }
        )
    baseline_note = (
        f"Baseline: {base.row.label}."
        if base is not None
        else f"Baseline row {info.baseline!r} not found (or ambiguous); no deltas."
        if info.baseline
        else "No baseline row given; no deltas."
    )
    notes = [MIOU_NOTE, WELCH_TEST_NOTE, baseline_note, *_partial_note(rows)]
    if show_paper:
        notes.append("Paper: the published mIoU; Ours − paper: our mean minus it.")
    return TableView(
        "ablation", f"{info.name}: ablation (mIoU, %)", tuple(columns), tuple(rows), tuple(data), tuple(notes)
    )


def _class_title(name: str) -> str:
    if name in RARE_CLASSES:
        return name + "†"
    return name + "*" if name in THING_CLASS_NAMES else name


def per_class_table(info: ExperimentInfo, records: Sequence[TrialRecord]) -> TableView:
    """IoU per class per row (mean ± std over finished seeds), best complete row per class in bold."""
    stats = summarise_all(info, records)
    classes = list(info.eval_classes)
    columns = (
        [Column("Row")] + [Column(_class_title(c), c in RARE_CLASSES) for c in classes] + [Column("mIoU")]
    )
    best_per_col = [_complete_best(stats, lambda s, c=c: s.per_class[c].mean) for c in classes]
    best_per_col.append(_complete_best(stats, lambda s: s.miou.mean))
    rows, data = [], []
    for index, s in enumerate(stats):
        cells = [s.row.label] + [fmt_mean_std(s.per_class[c].mean, s.per_class[c].std) for c in classes]
        cells.append(_miou_text(s))
        bold = frozenset(col + 1 for col, best in enumerate(best_per_col) if best == index)
        rows.append(ViewRow(s.row.key, tuple(cells), s.partial, bold))
        data.append(
            {
                "row": s.row.label,
                "key": s.row.key,
                "state": s.state,
                "partial": s.partial,
                "seeds_finished": s.seeds_finished,
                "seeds_planned": s.seeds_planned,
                "iou": {c: {"mean": s.per_class[c].mean, "std": s.per_class[c].std} for c in classes},
                "miou_mean": s.miou.mean,
                "miou_std": s.miou.std,
            }
        )
    notes = [
        "IoU per class in percent, final iteration, mean ± sample std (ddof=1) over finished seeds; "
        "bold: best complete row per class.",
        "† rare class (" + ", ".join(RARE_CLASSES) + "); * other thing class (FD acts on thing classes).",
        *_partial_note(rows),
    ]
    return TableView(
        "per_class", f"{info.name}: per-class IoU (%)", tuple(columns), tuple(rows), tuple(data), tuple(notes)
    )


MODES: dict[str, str] = {
    "source_only": "source_only",
    "uda": "uda",
    "target_only": "target_only",
    "oracle": "target_only",
}
_MODE_TOKEN = re.compile(r"(^|_)(source_only|target_only|oracle|uda)(_|$)")


def classify_architecture_row(s: RowStats) -> tuple[str, str] | None:
    """(architecture, mode) of a row: from a ``uda.mode`` sweep value or a mode token in the variant name.

    ``mitb5_source_only`` -> ("mitb5", "source_only"); ``segformer-oracle`` -> ("segformer",
    "target_only"); None for rows that are none of source-only, UDA or oracle.
    """
    others = ", ".join(
        f"{k}={format_sweep_value(v)}" for k, v in sorted(s.row.sweep.items()) if k != "uda.mode"
    )
    name = re.sub(r"[\s\-/]+", "_", s.row.variant.strip().lower())
    if "uda.mode" in s.row.sweep and str(s.row.sweep["uda.mode"]) in MODES:
        arch, mode = s.row.variant, MODES[str(s.row.sweep["uda.mode"])]
    elif match := _MODE_TOKEN.search(name):
        arch = (name[: match.start()] + "_" + name[match.end() :]).strip("_")
        mode = MODES[match.group(2)]
    else:
        return None
    arch = arch or "default"
    return (f"{arch} ({others})" if others else arch), mode


def _attach_uda_rows(archs: dict[str, dict[str, RowStats]], unnamed: list[RowStats]) -> dict[str, dict[str, RowStats]]:
    """With one architecture lacking a UDA row, each row that names no mode (``dacs``, ``daformer``:
    UDA methods, the trainer's default mode) becomes a line of its own beside that architecture's
    source-only and oracle rows; with several architectures such rows cannot be placed and are left out."""
    if len(archs) != 1 or not unnamed or "uda" in next(iter(archs.values())):
        return archs
    shared = next(iter(archs.values()))
    return {s.row.label: {**shared, "uda": s} for s in unnamed}


def architecture_table(info: ExperimentInfo, records: Sequence[TrialRecord]) -> TableView:
    """Source-only, UDA and oracle mIoU per architecture and the relative score UDA / oracle (%)."""
    archs: dict[str, dict[str, RowStats]] = {}
    unnamed: list[RowStats] = []
    for s in summarise_all(info, records):
        found = classify_architecture_row(s)
        if found is not None:
            archs.setdefault(found[0], {}).setdefault(found[1], s)
        else:
            unnamed.append(s)
    archs = _attach_uda_rows(archs, unnamed)
    columns = (
        Column("Architecture"),
        Column("Source-only"),
        Column("UDA"),
        Column("Target-only (oracle)"),
        Column("UDA / oracle"),
    )
    rows, data = [], []
    for arch, modes in archs.items():
        cells = [arch] + [
            _miou_text(modes[m]) if m in modes else MISSING for m in ("source_only", "uda", "target_only")
        ]
        uda, oracle = modes.get("uda"), modes.get("target_only")
        rel = relative_score(uda.miou.mean if uda else None, oracle.miou.mean if oracle else None)
        partial = any(s.partial for s in modes.values())
        cells.append(MISSING if rel is None else f"{rel:.1f}%" + (PARTIAL_MARK if partial else ""))
        rows.append(ViewRow(arch, tuple(cells), partial))
        entry: dict[str, Any] = {"architecture": arch, "partial": partial, "relative_score": rel}
        for mode in ("source_only", "uda", "target_only"):
            stat = modes.get(mode)
            entry[mode] = {
                "row": stat.row.label if stat else None,
                "miou_mean": stat.miou.mean if stat else None,
                "miou_std": stat.miou.std if stat else None,
                "partial": stat.partial if stat else None,
            }
        data.append(entry)
    best = best_index(
        [d["relative_score"] if not r.partial else None for d, r in zip(data, rows, strict=True)]
    )
    if best is not None:
        rows[best] = ViewRow(rows[best].key, rows[best].cells, rows[best].partial, frozenset({0, 4}))
    notes = [
        "Rows whose variant names a mode (source_only, uda, target_only/oracle) or that sweep uda.mode; "
        "with one architecture, every other row is one of its UDA methods (UDA is the default mode); "
        "mIoU in percent, mean ± sample std over finished seeds.",
        "UDA / oracle: the relative score, UDA mIoU divided by the target-only (oracle) mIoU.",
        *_partial_note(rows),
    ]
    return TableView(
        "architecture",
        f"{info.name}: architectures (mIoU, %)",
        columns,
        tuple(rows),
        tuple(data),
        tuple(notes),
    )


TABLE_BUILDERS = {
    "ablation": ablation_table,
    "per_class": per_class_table,
    "architecture": architecture_table,
}
"""Every table kind ``render_table`` knows, by name."""
