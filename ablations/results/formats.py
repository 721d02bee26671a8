"""Renderings of a ``TableView``: JSON (what the API returns), Markdown, CSV and LaTeX (booktabs).

``render_table(kind, fmt, info, records)`` is the one entry point. JSON and CSV carry the raw
numbers (CSV flattens nested fields to dotted columns); Markdown and LaTeX carry the display
cells, best cells in bold and footnotes that say which statistics were used.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ablations.results.records import ExperimentInfo, TrialRecord
from ablations.results.tables import TABLE_BUILDERS
from ablations.results.view import PARTIAL_MARK, TableView, fmt_number

TABLE_FORMATS: tuple[str, ...] = ("json", "markdown", "csv", "latex")


def to_json(view: TableView, info: ExperimentInfo) -> dict[str, Any]:
    """The table as a JSON-ready dict: raw rows, display rows (cells, partial, bold) and notes."""
    return {
        "kind": view.kind,
        "title": view.title,
        "experiment": {
            "id": info.id,
            "name": info.name,
            "status": info.status,
            "baseline": info.baseline,
            "seeds_planned": list(info.seeds_planned),
            "eval_classes": list(info.eval_classes),
        },
        "columns": [{"title": c.title, "highlight": c.highlight} for c in view.columns],
        "rows": [dict(d) for d in view.data],
        "display_rows": [
            {"key": r.key, "cells": list(r.cells), "partial": r.partial, "bold": sorted(r.bold)}
            for r in view.rows
        ],
        "footnotes": list(view.footnotes),
    }


def _md_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*")


def to_markdown(view: TableView) -> str:
    """A GitHub-flavoured Markdown table with a bold title, best cells in bold and the notes below."""
    lines = [f"**{_md_escape(view.title)}**", ""]
    lines.append("| " + " | ".join(_md_escape(h) for h in view.headers) + " |")
    lines.append("|" + "|".join([":---"] + ["---:"] * (len(view.columns) - 1)) + "|")
    for row in view.rows:
        cells = [f"**{_md_escape(c)}**" if i in row.bold else _md_escape(c) for i, c in enumerate(row.cells)]
        lines.append("| " + " | ".join(cells) + " |")
    if view.footnotes:
        lines += ["", *(f"- {_md_escape(note)}" for note in view.footnotes)]
    return "\n".join(lines) + "\n"


def _flatten(value: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, Mapping) and item:
            flat.update(_flatten(item, name + "."))
        elif isinstance(item, list | tuple | Mapping | bool) or item is None:
            flat[name] = "" if item is None else json.dumps(item, default=str)
        else:
            flat[name] = item
    return flat


def to_csv(view: TableView) -> str:
    """The raw numbers, one line per row; nested fields as dotted columns, lists as JSON, None empty."""
    flat_rows = [_flatten(d) for d in view.data]
    fields: dict[str, None] = {}
    for flat in flat_rows:
        fields.update(dict.fromkeys(flat))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(fields), restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(flat_rows)
    return out.getvalue()


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": "$<$",
    ">": "$>$",
    "±": r"$\pm$",
    "Δ": r"$\Delta$",
    "−": "$-$",
    "—": "--",
    "†": r"$^\dagger$",
}
_NEGATIVE_NUMBER = re.compile(r"(?<![\w.])-(?=\d)")
"""A minus sign before a number ("-0.2"): typeset as math minus, not a hyphen."""


def latex_escape(text: str) -> str:
    """Escape LaTeX's special characters and turn the table's symbols into math (± -> $\\pm$)."""
    escaped = "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)
    return _NEGATIVE_NUMBER.sub("$-$", escaped)


def to_latex(view: TableView) -> str:
    """A booktabs table (\\toprule, \\midrule, \\bottomrule) with best cells in \\textbf and notes.

    The per-class table has its own layout (`per_class_latex`): 21 columns do not fit a page."""
    if view.kind == "per_class":
        return per_class_latex(view)
    spec = "l" + "c" * (len(view.columns) - 1)
    lines = [
        r"% requires \usepackage{booktabs}",
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{{latex_escape(view.title)}}}",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        " & ".join(latex_escape(h) for h in view.headers) + r" \\",
        r"\midrule",
    ]
    for row in view.rows:
        cells = [latex_escape(c) for c in row.cells]
        cells = [rf"\textbf{{{c}}}" if i in row.bold else c for i, c in enumerate(cells)]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    lines += [rf"\par\smallskip{{\footnotesize {latex_escape(note)}\par}}" for note in view.footnotes]
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


CLASS_ABBREVIATIONS: dict[str, str] = {
    "road": "Road", "sidewalk": "S.walk", "building": "Build.", "wall": "Wall", "fence": "Fence",
    "pole": "Pole", "traffic light": "Tr.Light", "traffic sign": "Sign", "vegetation": "Veget.",
    "terrain": "Terrain", "sky": "Sky", "person": "Person", "rider": "Rider", "car": "Car", "truck": "Truck",
    "bus": "Bus", "train": "Train", "motorcycle": "M.bike", "bicycle": "Bike",
}
"""The short class headers of DAFormer's per-class tables (paper Tables 1 and 9)."""


def per_class_latex(view: TableView) -> str:
    """The per-class table as papers in the field print it: a `table*` spanning both columns, the
    class headers abbreviated and rotated, the tabular scaled to the text width (`\\resizebox`), and
    the mean IoU in each cell (the std over seeds is in the CSV and JSON; ± in 20 cells is unreadable)."""
    classes = [c.title.rstrip("†*") for c in view.columns[1:-1]]
    marks = [c.title[len(name):] for c, name in zip(view.columns[1:-1], classes, strict=True)]
    headers = [rf"\rotatebox{{90}}{{{latex_escape(CLASS_ABBREVIATIONS.get(c, c) + m)}}}"
               for c, m in zip(classes, marks, strict=True)]
    lines = [
        r"% requires \usepackage{booktabs} and \usepackage{graphicx}",
        r"\begin{table*}[t]",
        r"\centering",
        rf"\caption{{{latex_escape(view.title)}}}",
        r"\resizebox{\textwidth}{!}{%",
        rf"\begin{{tabular}}{{l{'c' * (len(classes) + 1)}}}",
        r"\toprule",
        " & ".join(["Row", *headers, "mIoU"]) + r" \\",
        r"\midrule",
    ]
    for row, data in zip(view.rows, view.data, strict=True):
        cells = [latex_escape(row.cells[0] + (PARTIAL_MARK if row.partial else ""))]
        cells += [latex_escape(fmt_number(data["iou"][c]["mean"])) for c in classes]
        cells.append(latex_escape(fmt_number(data["miou_mean"])))
        lines.append(" & ".join(rf"\textbf{{{c}}}" if i in row.bold else c for i, c in enumerate(cells)) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}}"]
    std_note = "mean (the sample std is in the CSV/JSON)"
    notes = [n.replace("mean ± sample std (ddof=1)", std_note) for n in view.footnotes]
    lines += [rf"\par\smallskip{{\footnotesize {latex_escape(note)}\par}}" for note in notes]
    lines.append(r"\end{table*}")
    return "\n".join(lines) + "\n"


def render_view(view: TableView, fmt: str, info: ExperimentInfo) -> str | dict[str, Any]:
    """Render an already built table in ``fmt`` (one of ``TABLE_FORMATS``)."""
    renderers: dict[str, Callable[[], str | dict[str, Any]]] = {
        "json": lambda: to_json(view, info),
        "markdown": lambda: to_markdown(view),
        "csv": lambda: to_csv(view),
        "latex": lambda: to_latex(view),
    }
    if fmt not in renderers:
        raise ValueError(f"unknown table format {fmt!r}; expected one of {list(TABLE_FORMATS)}")
    return renderers[fmt]()


def build_view(kind: str, info: ExperimentInfo, records: Sequence[TrialRecord]) -> TableView:
    """Compute the table ``kind`` (one of ``TABLE_BUILDERS``) from the records."""
    if kind not in TABLE_BUILDERS:
        raise ValueError(f"unknown table kind {kind!r}; expected one of {sorted(TABLE_BUILDERS)}")
    return TABLE_BUILDERS[kind](info, records)


def render_table(
    kind: str, fmt: str, info: ExperimentInfo, records: Sequence[TrialRecord]
) -> str | dict[str, Any]:
    """The table ``kind`` ("ablation", "per_class", "architecture") in ``fmt`` ("json", "markdown",
    "csv", "latex"): a dict for JSON, text otherwise."""
    if fmt not in TABLE_FORMATS:
        raise ValueError(f"unknown table format {fmt!r}; expected one of {list(TABLE_FORMATS)}")
    return render_view(build_view(kind, info, records), fmt, info)
