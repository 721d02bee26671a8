"""One experiment in its own process: ``python -m service.dispatcher.run_one ID``.

The dispatcher starts one such process per claimed experiment, so experiments run side by side,
each a Ray driver of its own (Tune's driver state is per process), and one crashing takes no
other down. The Ray address comes from the dispatcher (its embedded local Ray, or the cluster).
When the trials have ended it replays the experiment into MLflow (`tracking_sync`);
``--sync-only`` does only that, for an ended experiment whose tracking is still pending.
A watchdog ends the process as soon as its dispatcher or its lease is gone (`watchdog`).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from service.settings import get_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("experiment_id", type=int)
    parser.add_argument("--ray-address", default=None)
    parser.add_argument("--code-version", default="unknown")
    parser.add_argument("--max-failures", type=int, default=2)
    parser.add_argument("--sync-only", action="store_true", help="only replay the ended experiment into MLflow")
    parser.add_argument("--parent-pid", type=int, default=None, help="the dispatcher's pid (default: the parent)")
    parser.add_argument("--dispatcher-id", default=None, help="the lease holder this runner belongs to")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = get_settings()
    from service.dispatcher.watchdog import RunnerWatchdog

    RunnerWatchdog(args.parent_pid or os.getppid(), settings.database_url, args.experiment_id,
                   args.dispatcher_id).start()
    from service.dispatcher.experiment_run import publish_results

    if not args.sync_only:
        from ablations.execution.ray_runtime import connect
        from service.dispatcher.experiment_run import run_claimed_experiment

        connect(args.ray_address or settings.ray_address)
        status = run_claimed_experiment(settings, args.experiment_id, args.code_version, args.max_failures)
        logging.getLogger(__name__).info("experiment %s ended: %s", args.experiment_id, status.value)
    publish_results(settings, args.experiment_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
