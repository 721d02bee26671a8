"""How progress leaves the training loop (CONTRACTS.md: trainer.engine; detectron2-style hooks).

The loop calls ``on_train`` every ``run.log_interval`` steps, ``on_eval`` after each evaluation,
``on_checkpoint`` after each checkpoint, ``on_end`` once, and polls ``should_stop`` after every
step. ``JsonlReporter`` is the default record of a run (``metrics.jsonl`` + ``summary.json`` in the
output folder); ``CompositeReporter`` fans out to several. IoU values are percentages.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

METRICS_FILE = "metrics.jsonl"
SUMMARY_FILE = "summary.json"


@runtime_checkable
class Reporter(Protocol):
    """The narrow interface between the loop and whoever watches it (Tune, MLflow, a progress bar)."""

    def on_train(self, step: int, losses: dict[str, float]) -> None: ...

    def on_eval(self, step: int, per_class_iou: dict[str, float], miou: float) -> None: ...

    def on_checkpoint(self, step: int, path: str | os.PathLike[str]) -> None: ...

    def on_end(self, summary: dict[str, Any]) -> None: ...

    def should_stop(self) -> bool: ...


def _finite_or_none(value: Any) -> Any:
    """Strict JSON: NaN and inf become null (a class without IoU, a diverged loss)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_none(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


class JsonlReporter:
    """Appends one JSON object per event to ``metrics.jsonl`` and writes ``summary.json`` at the end.

    ``resume_step``: when a run resumes from the checkpoint of step k, records after k (written by
    the interrupted attempt after its last checkpoint) are dropped, so the file reads as one run.
    """

    def __init__(self, output_dir: str | Path, resume_step: int | None = None) -> None:
        self.output_dir = Path(output_dir)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.metrics_path = self.output_dir / METRICS_FILE
        self.summary_path = self.output_dir / SUMMARY_FILE
        if resume_step is None:
            self.metrics_path.write_text("")
        else:
            self._truncate_after(resume_step)

    def _truncate_after(self, step: int) -> None:
        kept = [line for line in _read_lines(self.metrics_path) if json.loads(line).get("step", 0) <= step]
        _atomic_write(self.metrics_path, "".join(line + "\n" for line in kept))

    def _append(self, record: dict[str, Any]) -> None:
        with self.metrics_path.open("a") as handle:
            handle.write(json.dumps(_finite_or_none(record), allow_nan=False) + "\n")

    def on_train(self, step: int, losses: dict[str, float]) -> None:
        self._append({"kind": "train", "step": step, "losses": losses})

    def on_eval(self, step: int, per_class_iou: dict[str, float], miou: float) -> None:
        self._append({"kind": "eval", "step": step, "miou": miou, "per_class_iou": per_class_iou})

    def on_checkpoint(self, step: int, path: str | os.PathLike[str]) -> None:
        self._append({"kind": "checkpoint", "step": step, "path": os.fspath(path)})

    def on_end(self, summary: dict[str, Any]) -> None:
        _atomic_write(
            self.summary_path, json.dumps(_finite_or_none(summary), indent=2, allow_nan=False) + "\n"
        )

    def should_stop(self) -> bool:
        return False


class CompositeReporter:
    """Forwards every event to each reporter in order; stops when any of them asks to."""

    def __init__(self, reporters: Iterable[Reporter | None]) -> None:
        self.reporters: list[Reporter] = [r for r in reporters if r is not None]

    def on_train(self, step: int, losses: dict[str, float]) -> None:
        for reporter in self.reporters:
            reporter.on_train(step, losses)

    def on_eval(self, step: int, per_class_iou: dict[str, float], miou: float) -> None:
        for reporter in self.reporters:
            reporter.on_eval(step, per_class_iou, miou)

    def on_checkpoint(self, step: int, path: str | os.PathLike[str]) -> None:
        for reporter in self.reporters:
            reporter.on_checkpoint(step, path)

    def on_end(self, summary: dict[str, Any]) -> None:
        for reporter in self.reporters:
            reporter.on_end(summary)

    def should_stop(self) -> bool:
        return any(reporter.should_stop() for reporter in self.reporters)


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """The records of a ``metrics.jsonl`` file, in order."""
    return [json.loads(line) for line in _read_lines(Path(path))]


def _read_lines(path: Path) -> list[str]:
    if not path.is_file():
        return []
    return [line for line in path.read_text().splitlines() if line.strip()]


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
