"""The experiment's figures as PNG or SVG bytes, drawn headless with matplotlib's Agg canvas.

- ``miou_curves``: mIoU over iterations per row, the mean over seeds with a min-max band.
- ``class_curves``: IoU of chosen classes over iterations, one line per seed and one colour per
  row, as the paper's rider/bicycle figure for RCS and its train-class figure for FD; by default
  the classes that vary most, or all of them as small multiples in a grid.
- ``ablation_bars``: the final mIoU of every row with std error bars (partial rows hatched).
Figures are built on a standalone ``Figure`` with the Agg canvas (no pyplot state), so concurrent
requests are safe.
Rows with no evaluation yet are left out; an empty figure says so instead of failing.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import Literal

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ablations.results.records import ExperimentInfo, TrialRecord
from ablations.results.rows import Row, RowStats, find_row, group_rows, published_value, summarise_all

FIGURE_NAMES: tuple[str, ...] = ("miou_curves", "class_curves", "ablation_bars")
FIGURE_FORMATS: tuple[str, ...] = ("png", "svg")
DEFAULT_CURVE_CLASSES: tuple[str, ...] = ("rider", "bicycle", "train")
"""The paper's curve figures: rider and bicycle (RCS), train (FD); preferred among equal spreads."""
N_DEFAULT_CLASSES = 3
ALL_CLASSES = "all"
"""``classes=all``: every evaluated class as small multiples."""
GRID_COLUMNS = 5

_LINESTYLES: tuple[Literal["-", "--", ":", "-."], ...] = ("-", "--", ":", "-.")


def _colour(index: int, count: int) -> tuple[float, float, float, float]:
    cmap = matplotlib.colormaps["tab10" if count <= 10 else "tab20"]
    return cmap(index % cmap.N)


def _empty(ax: Axes, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def _row_label(row: Row, trials: Sequence[TrialRecord]) -> str:
    active = any(t.status in ("queued", "running") for t in trials)
    return row.label + (" (running)" if active else "")


def _mean_band(trials: Sequence[TrialRecord]) -> tuple[list[int], list[float], list[float], list[float]]:
    """Per evaluated step (union over seeds): mean, min and max mIoU of the seeds evaluated there."""
    by_step: dict[int, list[float]] = {}
    for trial in trials:
        for point in trial.curve:
            by_step.setdefault(point.step, []).append(point.miou)
    steps = sorted(by_step)
    means = [sum(by_step[s]) / len(by_step[s]) for s in steps]
    return steps, means, [min(by_step[s]) for s in steps], [max(by_step[s]) for s in steps]


def _miou_curves(
    fig: Figure, info: ExperimentInfo, records: Sequence[TrialRecord], classes: Sequence[str]
) -> None:
    ax = fig.add_subplot()
    rows = [r for r in group_rows(records) if any(t.curve for t in r.trials)]
    for index, row in enumerate(rows):
        steps, means, lows, highs = _mean_band(row.trials)
        colour = _colour(index, len(rows))
        ax.plot(steps, means, color=colour, marker="o", markersize=3, label=_row_label(row, row.trials))
        ax.fill_between(steps, lows, highs, color=colour, alpha=0.2, linewidth=0)
    ax.set_title(f"{info.name}: mIoU over iterations (mean over seeds, band: min-max)")
    if not rows:
        _empty(ax, "no evaluations yet")
        return
    ax.set_xlabel("iteration")
    ax.set_ylabel("mIoU (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="best")


def _class_curves(
    fig: Figure, info: ExperimentInfo, records: Sequence[TrialRecord], classes: Sequence[str]
) -> None:
    rows = [r for r in group_rows(records) if any(t.curve for t in r.trials)]
    seeds = sorted({t.seed for r in rows for t in r.trials if t.curve})
    style = {seed: _LINESTYLES[i % len(_LINESTYLES)] for i, seed in enumerate(seeds)}
    n_rows, n_cols = _grid(len(classes))
    grid = fig.subplots(n_rows, n_cols, squeeze=False, sharey=True)
    axes = [ax for line in grid for ax in line]
    for ax in axes[len(classes):]:
        ax.set_visible(False)
    for ax, name in zip(axes, classes, strict=False):
        ax.set_title(name if len(classes) > N_DEFAULT_CLASSES else f"IoU of {name}", fontsize="medium")
        ax.grid(alpha=0.3)
        for index, row in enumerate(rows):
            for trial in row.trials:
                points = [(p.step, p.per_class[name]) for p in trial.curve if name in p.per_class]
                if points:
                    steps, values = zip(*points, strict=True)
                    few = len(points) < 3  # one evaluation is a point, not a line: mark it
                    ax.plot(steps, values, color=_colour(index, len(rows)), linestyle=style[trial.seed],
                            marker="o" if few else None, markersize=4)
    for ax in grid[:, 0]:
        ax.set_ylabel("IoU (%)")
    for column, ax in enumerate(grid[-1]):
        (ax if ax.get_visible() else grid[-2, column]).set_xlabel("iteration")
    fig.suptitle(f"{info.name}: per-class IoU over iterations (one line per seed, one colour per row)")
    if not rows:
        _empty(axes[0], "no evaluations yet")
        return
    handles = [
        Line2D([], [], color=_colour(i, len(rows)), label=_row_label(r, r.trials)) for i, r in enumerate(rows)
    ]
    handles += [Line2D([], [], color="0.3", linestyle=style[seed], label=f"seed {seed}") for seed in seeds]
    fig.legend(handles=handles, fontsize="small", loc="outside right upper")


def _grid(n: int) -> tuple[int, int]:
    """(rows, columns) of small multiples: one row up to ``GRID_COLUMNS`` panels, then a grid."""
    columns = min(n, GRID_COLUMNS)
    return -(-n // columns), columns


def default_curve_classes(info: ExperimentInfo, records: Sequence[TrialRecord]) -> list[str]:
    """The classes whose IoU varies most (across rows, seeds and evaluations): what the figure can
    show. Flat classes (e.g. rare ones at 0 after a short run) are left out; the paper's classes
    (rider, bicycle, train) win ties and are the choice when nothing has been evaluated."""
    values: dict[str, list[float]] = {c: [] for c in info.eval_classes}
    for trial in records:
        for point in trial.curve:
            for name, iou in point.per_class.items():
                if name in values:
                    values[name].append(iou)
    spread = {c: max(v) - min(v) if v else 0.0 for c, v in values.items()}
    preferred = [c for c in DEFAULT_CURVE_CLASSES if c in info.eval_classes]
    order = sorted(info.eval_classes, key=lambda c: (-spread[c], c not in preferred, info.eval_classes.index(c)))
    varying = [c for c in order if spread[c] > 0][:N_DEFAULT_CLASSES]
    return varying or preferred or list(info.eval_classes[:1])


def _bars(fig: Figure, info: ExperimentInfo, records: Sequence[TrialRecord], classes: Sequence[str]) -> None:
    ax = fig.add_subplot()
    stats: list[RowStats] = [s for s in summarise_all(info, records) if s.miou.mean is not None]
    ax.set_title(f"{info.name}\nfinal mIoU per row (mean ± std over seeds; hatched: partial)")
    if not stats:
        _empty(ax, "no finished trials yet")
        return
    xs = list(range(len(stats)))
    for x, s in zip(xs, stats, strict=True):
        ax.bar(
            x,
            s.miou.mean or 0.0,
            yerr=s.miou.std or 0.0,
            capsize=4,
            color=_colour(x, len(stats)),
            alpha=0.5 if s.partial else 0.9,
            hatch="//" if s.partial else None,
            edgecolor="0.2",
        )
        ax.annotate(
            f"{s.miou.mean:.1f}",
            (x, (s.miou.mean or 0.0) + (s.miou.std or 0.0)),
            textcoords="offset points",
            xytext=(0, 3),
            ha="center",
            va="bottom",
            fontsize="small",
        )
    base = find_row(stats, info.baseline)
    if base is not None and base.miou.mean is not None:
        ax.axhline(
            base.miou.mean, color="0.3", linestyle="--", linewidth=1, label=f"baseline: {base.row.label}"
        )
    published = [(x, published_value(info, stats, s)) for x, s in zip(xs, stats, strict=True)]
    published = [(x, p) for x, p in published if p is not None]
    if published:
        ax.scatter(*zip(*published, strict=True), marker="x", color="black", zorder=3, label="paper")
    ax.set_xticks(xs, [s.row.label for s in stats], rotation=30, ha="right")
    ax.set_ylabel("mIoU (%)")
    ax.grid(axis="y", alpha=0.3)
    if base is not None or published:
        ax.legend(fontsize="small", loc="lower right")


_DRAWERS: dict[str, Callable[[Figure, ExperimentInfo, Sequence[TrialRecord], Sequence[str]], None]] = {
    "miou_curves": _miou_curves,
    "class_curves": _class_curves,
    "ablation_bars": _bars,
}


def _figure_size(
    name: str, info: ExperimentInfo, records: Sequence[TrialRecord], n_classes: int
) -> tuple[float, float]:
    if name == "class_curves":
        n_rows, n_cols = _grid(max(n_classes, 1))
        return (max(6.0, (3.4 if n_classes > N_DEFAULT_CLASSES else 4.5) * n_cols + 2.0), 1.0 + 3.0 * n_rows)
    if name == "ablation_bars":
        return (min(30.0, max(8.0, 0.8 * len(group_rows(records)) + 3)), 5.5)
    return (9.0, 5.5)


def _check_classes(info: ExperimentInfo, records: Sequence[TrialRecord], classes: Sequence[str] | None) -> list[str]:
    if classes is None:
        return default_curve_classes(info, records)
    if list(classes) == [ALL_CLASSES]:
        return list(info.eval_classes)
    unknown = [c for c in classes if c not in info.eval_classes]
    if unknown or not classes:
        raise ValueError(
            f"classes: {unknown or 'none given'} not among the evaluated classes {list(info.eval_classes)} "
            f"(or {ALL_CLASSES!r})"
        )
    return list(classes)


def render_figure(
    name: str,
    fmt: str,
    info: ExperimentInfo,
    records: Sequence[TrialRecord],
    classes: Sequence[str] | None = None,
) -> bytes:
    """The figure ``name`` (one of ``FIGURE_NAMES``) as ``fmt`` ("png" or "svg") bytes.

    ``classes`` picks the classes of ``class_curves`` (``["all"]``: all of them as small multiples;
    default: the three that vary most, see ``default_curve_classes``); the other figures ignore it.
    """
    if name not in _DRAWERS:
        raise ValueError(f"unknown figure {name!r}; expected one of {list(FIGURE_NAMES)}")
    if fmt not in FIGURE_FORMATS:
        raise ValueError(f"unknown figure format {fmt!r}; expected one of {list(FIGURE_FORMATS)}")
    chosen = _check_classes(info, records, classes) if name == "class_curves" else []
    fig = Figure(figsize=_figure_size(name, info, records, len(chosen)), layout="constrained")
    FigureCanvasAgg(fig)
    _DRAWERS[name](fig, info, records, chosen)
    buffer = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else {"Software": None}
    fig.savefig(buffer, format=fmt, dpi=100, metadata=metadata)
    return buffer.getvalue()
