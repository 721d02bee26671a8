"""The ``ablate`` command line: ``serve`` the API, and ``submit``/``ls``/``show``/``cancel`` over HTTP.

Adding a subcommand is one function ``add_NAME(subparsers)`` that makes its parser and sets
``func`` (a callable ``(args) -> exit code``), listed in `SUBCOMMANDS`; import heavy modules
(Ray, MLflow) inside ``func`` so ``ablate --help`` stays fast. User errors (bad file, refused
request) print a message and exit 2; nothing prints a traceback.
"""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from service.cli_presets import add_presets
from service.client import ApiClient, ApiError
from service.compare import add_compare
from service.dispatcher.cli import add_dispatcher
from service.download import add_download
from service.results.cli import add_report, add_table, add_watch
from service.spec_file import SpecFileError, read_spec_file

Subparsers = Any  # argparse's _SubParsersAction is private


class UserError(Exception):
    """A mistake of the user's that the message explains; exit status 2."""


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


# --- serve -----------------------------------------------------------------------------------------


def add_serve(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("serve", help="run the REST API (uvicorn)")
    parser.add_argument("--host", help="default: ABLATE_HOST or 127.0.0.1")
    parser.add_argument("--port", type=int, help="default: ABLATE_PORT or 8000")
    parser.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from service.app import create_app
    from service.settings import get_settings

    try:
        settings = get_settings()
    except ValidationError as exc:
        raise UserError(f"invalid ABLATE_* setting: {exc}") from None
    app = create_app(settings)
    # Everything imported so far lives as long as the server: keep it out of the collector's
    # scans, which otherwise walk it on every full collection (a third of a 1,000-trial POST).
    gc.freeze()
    uvicorn.run(app, host=args.host or settings.host, port=args.port or settings.port)
    return 0


# --- submit ----------------------------------------------------------------------------------------


def add_submit(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("submit", help="submit an ablation spec (YAML) or a preset")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("spec", nargs="?", type=Path,
                        help="YAML file: a spec, or a preset file (title, description, spec) to edit")
    source.add_argument("--preset", help="preset name (see GET /presets)")
    parser.add_argument("--seeds", type=_seeds, help="comma-separated seeds, e.g. 0,1,2")
    parser.add_argument("--iterations", type=_positive, help="training iterations of every trial")
    parser.add_argument("--name", help="experiment name")
    parser.add_argument("--benchmark", help="with a preset file holding several benchmarks: which one (e.g. gta)")
    parser.add_argument("--dry-run", action="store_true", help="only expand and estimate GPU-hours")
    parser.add_argument(
        "--idempotency-key", help="resubmitting with the same key returns the same experiment"
    )
    parser.set_defaults(func=_submit)


def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers like 0,1,2, got {text!r}"
        ) from None
    if not seeds:
        raise argparse.ArgumentTypeError("expected at least one seed")
    return seeds


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


def submission_body(args: argparse.Namespace) -> dict[str, Any]:
    """The POST body: the preset form, or the YAML spec with the command-line overrides applied."""
    if args.preset:
        body: dict[str, Any] = {"preset": args.preset}
        for key in ("seeds", "iterations", "name"):
            if getattr(args, key) is not None:
                body[key] = getattr(args, key)
        return body
    try:
        body = read_spec_file(args.spec, args.benchmark)
    except SpecFileError as exc:
        raise UserError(str(exc)) from None
    if args.seeds is not None:
        body["seeds"] = args.seeds
    if args.name is not None:
        body["name"] = args.name
    if args.iterations is not None:
        base = body.setdefault("base", {})
        if not isinstance(base, dict):
            raise UserError(f"{args.spec}: base must be a mapping")
        if "run.iterations" in base or not isinstance(base.get("run", {}), dict):
            base["run.iterations"] = args.iterations
        else:
            base.setdefault("run", {})["iterations"] = args.iterations
    return body


def _submit(args: argparse.Namespace) -> int:
    body = submission_body(args)
    with _client() as client:
        result = client.submit(body, dry_run=args.dry_run, idempotency_key=args.idempotency_key)
    if args.dry_run:
        _out(f"{result['name']}: {result['trial_count']} trials, about {result['gpu_hours']:.1f} GPU-hours")
        for trial in result["trials"]:
            _out(f"  {trial['name']}  {trial['config_hash'][:12]}")
        return 0
    _out(f"experiment {result['id']} {result['name']}: {result['trials_total']} trials {result['status']}")
    return 0


# --- ls / show / cancel / retry ----------------------------------------------------------------------------


def add_ls(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("ls", help="list experiments, newest first")
    parser.add_argument("--status", choices=["queued", "running", "succeeded", "failed", "cancelled"])
    parser.add_argument("--limit", type=_positive, default=50)
    parser.set_defaults(func=_ls)


def _ls(args: argparse.Namespace) -> int:
    with _client() as client:
        page = client.experiments(args.status, args.limit)
    _out(f"{'ID':>5}  {'STATUS':<10} {'DONE':>9}  {'CREATED':<20} NAME")
    for e in page["items"]:
        done = f"{e['trial_counts'].get('succeeded', 0)}/{e['trials_total']}"
        _out(f"{e['id']:>5}  {e['status']:<10} {done:>9}  {e['created_at'][:19]:<20} {e['name']}")
    return 0


def add_show(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("show", help="one experiment and its trials")
    parser.add_argument("id", type=_positive, help="experiment id")
    parser.set_defaults(func=_show)


def _show(args: argparse.Namespace) -> int:
    with _client() as client:
        e = client.experiment(args.id)
    _out(f"experiment {e['id']} {e['name']}: {e['status']}  ({e['trials_total']} trials)")
    if e.get("error"):
        _out(f"error: {e['error']}")
    _out(f"{'ID':>6}  {'STATUS':<10} {'PROGRESS':>13}  {'mIoU':>6}  NAME")
    for t in e["trials"]:
        progress = f"{t['progress']['iteration']}/{t['progress']['total']}"
        miou = "" if t["final_miou"] is None else f"{t['final_miou']:.2f}"
        _out(f"{t['id']:>6}  {t['status']:<10} {progress:>13}  {miou:>6}  {t['name']}")
    return 0


def add_cancel(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("cancel", help="cancel an experiment (or one trial with --trial)")
    parser.add_argument("id", type=_positive, help="experiment id (trial id with --trial)")
    parser.add_argument("--trial", action="store_true", help="the id is a trial's")
    parser.set_defaults(func=_cancel)


def _cancel(args: argparse.Namespace) -> int:
    with _client() as client:
        if args.trial:
            trial = client.cancel_trial(args.id)
            _out(f"trial {trial['id']} {trial['name']}: {trial['status']}")
        else:
            e = client.cancel_experiment(args.id)
            _out(f"experiment {e['id']} {e['name']}: {e['status']}")
    return 0


def add_retry(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("retry", help="re-queue an experiment's failed and cancelled trials")
    parser.add_argument("id", type=_positive, help="experiment id")
    parser.set_defaults(func=_retry)


def _retry(args: argparse.Namespace) -> int:
    with _client() as client:
        e = client.retry_experiment(args.id)
    queued = sum(1 for t in e.get("trials", []) if t["status"] == "queued")
    _out(f"experiment {e['id']} {e['name']}: {e['status']} ({queued} trials queued)")
    return 0


class _client:  # noqa: N801 - used as `with _client() as client`
    def __enter__(self) -> ApiClient:
        self.client = ApiClient()
        return self.client

    def __exit__(self, *exc: object) -> None:
        self.client.close()


# --- entry point -----------------------------------------------------------------------------------

SUBCOMMANDS: tuple[Callable[[Subparsers], None], ...] = (
    add_serve, add_submit, add_ls, add_show, add_cancel, add_retry, add_presets, add_dispatcher, add_watch,
    add_table, add_compare, add_download, add_report,
)
"""One ``add_NAME(subparsers)`` per subcommand; add yours here."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ablate", description="DAFormer ablation studies as a service.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(subparsers)
    return parser


def run(argv: Sequence[str] | None = None) -> int:
    """Parse and run; returns the exit status (argparse itself exits 2 on bad arguments)."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except UserError as exc:
        sys.stderr.write(f"ablate {args.command}: {exc}\n")
        return 2
    except ApiError as exc:
        sys.stderr.write(f"ablate {args.command}: {exc}\n")
        return 2 if 400 <= exc.status < 500 else 1
    except KeyboardInterrupt:
        return 130


def main() -> None:
    sys.exit(run())
