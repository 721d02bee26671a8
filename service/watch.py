"""Live progress of an experiment's trials in the terminal: one progress bar per trial.

Used by `ablate watch ID` and `make demo`. Polls the API (the database's truth), so it shows
the same thing as the report page, and can be stopped and restarted at any time.
"""

from __future__ import annotations

import time
from typing import Any

from tqdm import tqdm

from service.client import ApiClient

TERMINAL = {"succeeded", "failed", "cancelled"}


def _describe(trial: dict[str, Any]) -> str:
    miou = trial.get("final_miou")
    tail = f" mIoU {miou:.1f}" if miou is not None else ""
    return f"{trial['name'][:28]:<28} {trial['status']:<9}{tail}"


def watch(client: ApiClient, experiment_id: int, interval_s: float = 2.0, timeout_s: float | None = None) -> str:
    """Show bars until the experiment ends (or ``timeout_s``); returns its last status."""
    bars: dict[int, tqdm] = {}
    started = time.monotonic()
    try:
        while True:
            experiment = client.experiment(experiment_id)
            for position, trial in enumerate(client.trials(experiment_id)):
                progress = trial["progress"]
                bar = bars.get(trial["id"])
                if bar is None:
                    bar = bars[trial["id"]] = tqdm(total=max(progress["total"], 1), position=position,
                                                   unit="it", dynamic_ncols=True, leave=True)
                bar.set_description_str(_describe(trial), refresh=False)
                bar.n = min(progress["iteration"], bar.total)
                bar.refresh()
            if experiment["status"] in TERMINAL:
                return str(experiment["status"])
            if timeout_s is not None and time.monotonic() - started > timeout_s:
                return str(experiment["status"])
            time.sleep(interval_s)
    finally:
        for bar in bars.values():
            bar.close()
