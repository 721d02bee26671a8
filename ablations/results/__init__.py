"""Result tables, figures and the report page of an ablation experiment, from plain trial records.

The service hands over ``TrialRecord``/``ExperimentInfo`` rows; everything here is pure (no
database, no torch): ``render_table`` for JSON/Markdown/CSV/LaTeX tables, ``render_figure`` for
PNG/SVG plots and ``render_report`` for the server-rendered HTML page.
"""

from ablations.results.figures import FIGURE_NAMES, render_figure
from ablations.results.formats import TABLE_FORMATS, render_table
from ablations.results.records import CurvePoint, ExperimentInfo, TrialRecord
from ablations.results.report import ReportPieces, ReportUrls, render_report, report_pieces
from ablations.results.tables import TABLE_BUILDERS

TABLE_KINDS: tuple[str, ...] = tuple(TABLE_BUILDERS)

__all__ = [
    "FIGURE_NAMES",
    "TABLE_FORMATS",
    "TABLE_KINDS",
    "CurvePoint",
    "ExperimentInfo",
    "ReportPieces",
    "ReportUrls",
    "TrialRecord",
    "render_figure",
    "render_report",
    "render_table",
    "report_pieces",
]
