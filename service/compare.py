"""``ablate compare A B``: two experiments' ablation tables side by side (e.g. a re-run against the
original), matched by row (variant and sweep values), with B − A and Welch's p over their seeds."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ablations.results.stats import welch_p_values
from ablations.results.view import MISSING, fmt_mean_std, fmt_p_value, fmt_signed


def add_compare(subparsers: Any) -> None:
    parser = subparsers.add_parser("compare", help="two experiments' ablation tables side by side (B - A)")
    parser.add_argument("a", type=int, help="experiment id A (e.g. the original)")
    parser.add_argument("b", type=int, help="experiment id B (e.g. the re-run)")
    parser.set_defaults(func=_compare)


def _compare(args: argparse.Namespace) -> int:
    from service.client import ApiClient

    client = ApiClient()
    try:
        first, second = client.table(args.a), client.table(args.b)
    finally:
        client.close()
    sys.stdout.write(compare_markdown(first, second))
    return 0


def compare_markdown(a: dict[str, Any], b: dict[str, Any]) -> str:
    """A Markdown table: row, A's mIoU, B's mIoU, B − A and Welch's p; rows of either, A's order first."""
    rows_a = {r["key"]: r for r in a["rows"]}
    rows_b = {r["key"]: r for r in b["rows"]}
    keys = list(rows_a) + [k for k in rows_b if k not in rows_a]
    name_a = f"A: {a['experiment']['id']} {a['experiment']['name']}"
    name_b = f"B: {b['experiment']['id']} {b['experiment']['name']}"
    pairs = [(rows_a.get(k), rows_b.get(k)) for k in keys]
    p_values = [welch_p_values([rb["final_mious"]], ra["final_mious"])[0] if ra and rb else None for ra, rb in pairs]
    lines = [
        f"**{name_a} vs {name_b}: mIoU (%)**",
        f"| Row | {_md(name_a)} | {_md(name_b)} | B − A | p (Welch) |",
        "|:---|---:|---:|---:|---:|",
    ]
    for key, (ra, rb), p in zip(keys, pairs, p_values, strict=True):
        label = (ra or rb or {}).get("row", key)
        both = ra and rb and ra["miou_mean"] is not None and rb["miou_mean"] is not None
        diff = rb["miou_mean"] - ra["miou_mean"] if both and ra and rb else None
        lines.append(f"| {_md(label)} | {_cell(ra)} | {_cell(rb)} | {fmt_signed(diff)} | "
                     f"{fmt_p_value(p) if ra and rb else MISSING} |")
    lines.append("- mIoU: final iteration, mean ± sample std over finished seeds (n); (partial): not every "
                 "planned seed has finished; — : the row is not in that experiment.")
    lines.append("- p: Welch's two-sided t-test of B's seeds against A's (n/a below two seeds on a side).")
    return "\n".join(lines) + "\n"


def _cell(row: dict[str, Any] | None) -> str:
    if row is None:
        return MISSING
    text = fmt_mean_std(row["miou_mean"], row["miou_std"])
    if row["miou_mean"] is not None:
        text += f" (n={row['seeds_finished']})"
    return text + (" (partial)" if row["partial"] and row["miou_mean"] is not None else "")


def _md(text: str) -> str:
    return text.replace("|", "\\|")
