"""``ablate table ID``, ``ablate report ID`` and ``ablate watch ID`` (over HTTP, like the rest)."""

from __future__ import annotations

import argparse
import sys
import webbrowser
from typing import Any


def add_table(subparsers: Any) -> None:
    parser = subparsers.add_parser("table", help="print an experiment's ablation table")
    parser.add_argument("experiment_id", type=int)
    parser.add_argument("--format", choices=["markdown", "csv", "latex", "json"], default="markdown")
    parser.add_argument("--kind", choices=["ablation", "per_class", "architecture"], default="ablation")
    parser.set_defaults(func=_table)


def _table(args: argparse.Namespace) -> int:
    from service.client import ApiClient

    client = ApiClient()
    path = f"/experiments/{args.experiment_id}/table"
    sys.stdout.write(client.text(path, format=args.format, kind=args.kind).rstrip() + "\n")
    return 0


def add_report(subparsers: Any) -> None:
    parser = subparsers.add_parser("report", help="open (or print the URL of) an experiment's report page")
    parser.add_argument("experiment_id", type=int)
    parser.add_argument("--print", dest="print_only", action="store_true", help="only print the URL")
    parser.set_defaults(func=_report)


def _report(args: argparse.Namespace) -> int:
    from service.client import ApiClient

    client = ApiClient()
    client.experiment(args.experiment_id)  # a clear error for an unknown id or a stopped API
    url = f"{client.url}/experiments/{args.experiment_id}/report"
    sys.stdout.write(url + "\n")
    if not args.print_only and sys.stdout.isatty():
        webbrowser.open(url)
    return 0


def add_watch(subparsers: Any) -> None:
    parser = subparsers.add_parser("watch", help="live progress bars of an experiment's trials")
    parser.add_argument("experiment_id", type=int)
    parser.add_argument("--interval", type=float, default=2.0)
    parser.set_defaults(func=_watch)


def _watch(args: argparse.Namespace) -> int:
    from service.client import ApiClient
    from service.watch import watch

    status = watch(ApiClient(), args.experiment_id, interval_s=args.interval)
    sys.stdout.write(f"experiment {args.experiment_id}: {status}\n")
    return 0 if status == "succeeded" else 1
