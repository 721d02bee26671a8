"""Live progress of an experiment in the terminal: one line per trial and the experiment's ETA.

Used by `ablate watch ID` and `make demo`. Polls the API (the database's truth), so it shows
the same thing as the report page, and can be stopped and restarted at any time.

Rates and ETAs come from progress measured while watching (`TrialClock`: iterations between
polls of the current attempt), never from the time `watch` started: a trial that was already
half done, or a retried trial resuming from a checkpoint, gets no invented rate. The experiment's
ETA is the iterations left in every unfinished trial over the summed rate of the running ones
(the cluster's measured throughput). In a terminal the block of lines is redrawn in place;
otherwise (logs, pipes) a trial's line is printed once per change of status, so a finished
trial appears exactly once, and the experiment's line once a minute.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from service.client import ApiClient

TERMINAL = {"succeeded", "failed", "cancelled"}
BAR_WIDTH = 10  # with a 22-character name, a running trial's line fits 80 columns
SUMMARY_S = 60.0  # without a terminal, the experiment's line (with its ETA) once a minute
WINDOW = 30  # polls kept per attempt for the rate: about a minute at the default interval


@dataclass
class TrialClock:
    """Progress samples ``(time, iteration)`` of one trial's current attempt, for its rate."""

    attempts: int = -1
    samples: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=WINDOW))

    def observe(self, now: float, trial: dict[str, Any]) -> None:
        """Record a poll; a new attempt (retry, restart) or going backwards starts afresh."""
        iteration = int(trial["progress"]["iteration"])
        if trial["attempts"] != self.attempts or (self.samples and iteration < self.samples[-1][1]):
            self.attempts, self.samples = trial["attempts"], deque(maxlen=WINDOW)
        if trial["status"] == "running":
            self.samples.append((now, iteration))

    def rate(self) -> float | None:
        """Iterations per second over the samples kept; None before progress was seen to move."""
        if len(self.samples) < 2:
            return None
        (t0, i0), (t1, i1) = self.samples[0], self.samples[-1]
        return (i1 - i0) / (t1 - t0) if t1 > t0 and i1 > i0 else None


def experiment_eta(trials: Sequence[dict[str, Any]], rates: dict[int, float | None]) -> float | None:
    """Seconds until every unfinished trial is done at the measured total rate, or None unknown.

    Running trials without a measured rate yet count at the mean of those with one.
    """
    running = [t for t in trials if t["status"] == "running"]
    known = [r for t in running if (r := rates.get(t["id"])) is not None]
    if not known:
        return None
    throughput = sum(known) / len(known) * len(running)
    left = sum(max(t["progress"]["total"] - t["progress"]["iteration"], 0) for t in trials
               if t["status"] not in TERMINAL)
    return left / throughput


def fmt_duration(seconds: float | None) -> str:
    """``1:02:03``, ``4:05`` or ``?`` when unknown."""
    if seconds is None:
        return "?"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def fmt_rate(rate: float | None) -> str:
    if rate is None:
        return "? it/s"
    return f"{rate:.2f} it/s" if rate >= 1 else f"{1 / rate:.1f} s/it"


def trial_line(trial: dict[str, Any], rate: float | None) -> str:
    """``name  status  [#####-----] 150/300 1.50 it/s ETA 1:40`` (``mIoU 17.7`` once finished)."""
    done, total = trial["progress"]["iteration"], max(trial["progress"]["total"], 1)
    if trial["status"] == "queued":
        done = 0  # a retried trial's old progress is not this attempt's
    filled = int(BAR_WIDTH * min(done, total) / total)
    line = f"{trial['name'][:22]:<22} {trial['status']:<9} [{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {done}/{total}"
    if trial["status"] == "running":
        eta = (total - done) / rate if rate else None
        line += f" {fmt_rate(rate)} ETA {fmt_duration(eta)}"
    if trial.get("final_miou") is not None:
        line += f"  mIoU {trial['final_miou']:.1f}"
    return line


def experiment_line(experiment: dict[str, Any], trials: Sequence[dict[str, Any]], eta: float | None) -> str:
    done = sum(1 for t in trials if t["status"] in TERMINAL)
    tail = "" if experiment["status"] in TERMINAL else f"  ETA {fmt_duration(eta)}"
    return f"experiment {experiment['id']} {experiment['status']}: {done}/{len(trials)} trials done{tail}"


def watch(client: ApiClient, experiment_id: int, interval_s: float = 2.0, timeout_s: float | None = None,
          out: TextIO | None = None, now: Callable[[], float] = time.monotonic) -> str:
    """Show progress until the experiment ends (or ``timeout_s``); returns its last status."""
    stream = out or sys.stdout
    live = stream.isatty()
    clocks: dict[int, TrialClock] = {}
    printed: dict[int, str] = {}
    drawn, summary_at = 0, None
    started = now()
    while True:
        experiment = client.experiment(experiment_id)
        trials = client.trials(experiment_id)
        moment = now()
        for trial in trials:
            clocks.setdefault(trial["id"], TrialClock()).observe(moment, trial)
        rates = {t["id"]: clocks[t["id"]].rate() for t in trials}
        lines = [trial_line(t, rates[t["id"]]) for t in trials]
        lines.append(experiment_line(experiment, trials, experiment_eta(trials, rates)))
        if live:  # lines cut to the terminal's width: a wrapped line would break the redraw
            width = shutil.get_terminal_size().columns - 1
            stream.write((f"\x1b[{drawn}F" if drawn else "") + "".join(f"\x1b[2K{line[:width]}\n" for line in lines))
            drawn = len(lines)
        else:
            for trial, line in zip(trials, lines, strict=False):
                if printed.get(trial["id"]) != trial["status"]:
                    printed[trial["id"]] = trial["status"]
                    stream.write(line + "\n")
            if experiment["status"] not in TERMINAL and (summary_at is None or moment - summary_at >= SUMMARY_S):
                summary_at = moment
                stream.write(lines[-1] + "\n")
        stream.flush()
        if experiment["status"] in TERMINAL or (timeout_s is not None and now() - started > timeout_s):
            return str(experiment["status"])
        time.sleep(interval_s)
