"""A table as every output format sees it: display cells plus the raw numbers behind them.

Tables are computed once into a ``TableView``; JSON, Markdown, CSV, LaTeX and the report
page's HTML are all renderings of it, so they can never disagree. ``cells`` hold the display
text (mean +- std, deltas, partial marks), ``data`` the unrounded numbers (CSV and JSON).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

PLUS_MINUS = "±"
MISSING = "—"
PARTIAL_MARK = " (partial)"


@dataclass(frozen=True)
class ViewRow:
    """One displayed row: its cells, which cells are bold (best), and whether it is partial."""

    key: str
    cells: tuple[str, ...]
    partial: bool = False
    bold: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Column:
    """A column header; ``highlight`` marks rare classes on the page."""

    title: str
    highlight: bool = False


@dataclass(frozen=True)
class TableView:
    """A finished table: title, headers, display rows, raw data rows and footnotes."""

    kind: str
    title: str
    columns: tuple[Column, ...]
    rows: tuple[ViewRow, ...]
    data: tuple[Mapping[str, Any], ...]
    footnotes: tuple[str, ...] = field(default=())

    @property
    def headers(self) -> list[str]:
        """The column titles as text."""
        return [c.title for c in self.columns]


def fmt_number(value: float | None, digits: int = 1) -> str:
    """A value with ``digits`` decimals, or the missing-value dash."""
    return MISSING if value is None else f"{value:.{digits}f}"


def fmt_signed(value: float | None, digits: int = 1) -> str:
    """A difference with an explicit sign (+1.2 / -0.3), or the dash."""
    return MISSING if value is None else f"{value:+.{digits}f}"


def fmt_mean_std(mean: float | None, std: float | None, digits: int = 1) -> str:
    """``61.2 ± 0.4``; only the mean for a single seed; the dash with no finished seed."""
    if mean is None:
        return MISSING
    if std is None:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} {PLUS_MINUS} {std:.{digits}f}"


def fmt_p_value(p: float | None) -> str:
    """A p-value with three decimals, ``<0.001`` below that, ``n/a`` when undefined."""
    if p is None:
        return "n/a"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def best_index(values: Sequence[float | None]) -> int | None:
    """Index of the largest known value (the row or cell to set in bold); None when no value is
    known or when several rows share the largest (a tie, e.g. every row at 0 IoU, has no best)."""
    known = [(v, i) for i, v in enumerate(values) if v is not None]
    if not known:
        return None
    top = max(v for v, _ in known)
    winners = [i for v, i in known if v == top]
    return winners[0] if len(winners) == 1 else None
