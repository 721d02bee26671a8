"""``ablate dispatcher``: run queued experiments on Ray until stopped (Ctrl-C / SIGTERM)."""

from __future__ import annotations

import argparse
import logging
from typing import Any


def add_dispatcher(subparsers: Any) -> None:
    parser = subparsers.add_parser("dispatcher", help="run queued experiments on Ray Tune until stopped")
    parser.add_argument("--poll-interval", type=float, default=2.0, help="seconds between queue polls")
    parser.add_argument("--lease", type=float, default=30.0,
                        help="seconds without a heartbeat after which another dispatcher resumes an experiment")
    parser.add_argument("--max-concurrent", type=int, default=4, help="experiments run side by side")
    parser.add_argument("--max-failures", type=int, default=2,
                        help="restarts of a trial from its checkpoint after its worker died")
    parser.add_argument("--sync-interval", type=float, default=15.0,
                        help="seconds between MLflow replays of an ended experiment whose tracking is pending")
    parser.set_defaults(func=_dispatcher)


def _dispatcher(args: argparse.Namespace) -> int:
    from service.dispatcher.loop import DispatcherOptions, serve
    from service.dispatcher.watchdog import MIN_LEASE_S, POLL_S
    from service.settings import get_settings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    options = DispatcherOptions(poll_interval_s=args.poll_interval, lease_s=args.lease,
                                max_concurrent=args.max_concurrent, max_failures=args.max_failures,
                                sync_interval_s=args.sync_interval)
    if args.lease < MIN_LEASE_S:
        logging.getLogger(__name__).error("ablate dispatcher: --lease must be at least %g s (a runner needs up to "
                                          "%g s to notice its dispatcher is gone), got %g", MIN_LEASE_S, POLL_S,
                                          args.lease)
        return 2
    serve(get_settings(), options)
    return 0
