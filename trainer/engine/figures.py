"""Figures of a run and of an evaluation, as PNG files for people who read the output folder.

- ``write_run_figures``: from ``metrics.jsonl``, ``figures/miou.png`` (validation mIoU),
  ``per_class_iou.png`` (19 small multiples, 5 per row), ``losses.png``, ``lr.png`` and
  ``pseudo_label_confidence.png`` (the mean teacher confidence of the UDA step, when logged).
- ``write_confusion_figure``: a confusion matrix normalised per ground-truth class (each row sums
  to 100%), the diagonal being each class's recall.
matplotlib is imported inside the functions (headless Agg canvas, no pyplot state): the training
loop never needs it, and these run once, at the end of a run or an evaluation.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

FIGURES_DIR = "figures"
GRID_COLUMNS = 5
_NOT_LOSSES = {"lr", "pseudo_confidence"}


def _new_figure(size: tuple[float, float]) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, metadata={"Software": None})
    return path


def _series(records: Sequence[dict[str, Any]], kind: str, field: str) -> dict[str, list[tuple[int, float]]]:
    """``{name: [(step, value), ...]}`` of the ``field`` dict of every ``kind`` record (None skipped)."""
    series: dict[str, list[tuple[int, float]]] = {}
    for record in records:
        if record.get("kind") != kind:
            continue
        for name, value in (record.get(field) or {}).items():
            if value is not None:
                series.setdefault(name, []).append((int(record["step"]), float(value)))
    return series


def _lines(ax: Any, series: dict[str, list[tuple[int, float]]], ylabel: str, legend: bool = True) -> None:
    for name, points in series.items():
        steps, values = zip(*points, strict=True)
        ax.plot(steps, values, label=name, marker="o" if len(points) < 3 else None, markersize=4)
    ax.set_xlabel("iteration")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if legend and len(series) > 1:
        ax.legend(fontsize="small")


def write_run_figures(records: Sequence[dict[str, Any]], out_dir: Path, title: str = "") -> list[Path]:
    """The run's curves as PNGs under ``out_dir``; a figure with no data is not written."""
    written: list[Path] = []
    evals = [r for r in records if r.get("kind") == "eval"]
    if evals:
        fig = _new_figure((7.0, 4.5))
        ax = fig.add_subplot()
        _lines(ax, {"mIoU": [(int(r["step"]), float(r["miou"])) for r in evals if r.get("miou") is not None]},
               "mIoU (%)")
        ax.set_title(f"{title} validation mIoU".strip())
        written.append(_save(fig, out_dir / "miou.png"))
        written.append(_per_class(_series(records, "eval", "per_class_iou"), out_dir / "per_class_iou.png", title))
    train = _series(records, "train", "losses")
    groups = {
        "losses.png": ({k: v for k, v in train.items() if k not in _NOT_LOSSES}, "loss"),
        "lr.png": ({k: v for k, v in train.items() if k == "lr"}, "learning rate"),
        "pseudo_label_confidence.png": ({k: v for k, v in train.items() if k == "pseudo_confidence"},
                                        "mean pseudo-label confidence"),
    }
    for filename, (series, ylabel) in groups.items():
        if series:
            fig = _new_figure((7.0, 4.5))
            ax = fig.add_subplot()
            _lines(ax, series, ylabel)
            ax.set_title(f"{title} {ylabel}".strip())
            written.append(_save(fig, out_dir / filename))
    return written


def _per_class(series: dict[str, list[tuple[int, float]]], path: Path, title: str) -> Path:
    names = list(series)
    columns = min(max(len(names), 1), GRID_COLUMNS)
    rows = -(-max(len(names), 1) // columns)
    fig = _new_figure((3.2 * columns + 0.5, 2.6 * rows + 0.6))
    axes = fig.subplots(rows, columns, squeeze=False, sharey=True)
    for index, ax in enumerate(axes.flat):
        if index >= len(names):
            ax.set_visible(False)
            continue
        _lines(ax, {names[index]: series[names[index]]}, "IoU (%)" if index % columns == 0 else "", legend=False)
        ax.set_title(names[index], fontsize="medium")
    fig.suptitle(f"{title} per-class IoU".strip())
    return _save(fig, path)


def write_confusion_figure(confusion: np.ndarray, names: Sequence[str], path: Path, title: str = "") -> Path:
    """``confusion[gt, pred]`` (pixel counts) as a heatmap in percent of each ground-truth class."""
    counts = np.asarray(confusion, dtype=np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    percent = np.divide(100.0 * counts, totals, out=np.zeros_like(counts), where=totals > 0)
    fig = _new_figure((10.0, 8.5))
    ax = fig.add_subplot()
    image = ax.imshow(percent, cmap="Blues", vmin=0.0, vmax=100.0)
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize="small")
    ax.set_yticks(range(len(names)), names, fontsize="small")
    ax.set_xlabel("predicted class")
    ax.set_ylabel("ground-truth class")
    for (row, col), value in np.ndenumerate(percent):
        if value >= 1.0:
            ax.text(col, row, f"{value:.0f}", ha="center", va="center", fontsize=6,
                    color="white" if value > 50 else "black")
    fig.colorbar(image, ax=ax, label="% of the ground-truth class's pixels")
    ax.set_title(f"{title} confusion matrix (rows sum to 100%)".strip())
    return _save(fig, path)
