"""Which trial failures are worth a retry, and how a failure reads where people see it.

Tune retries a failed trial ``max_failures`` times, which helps when a worker died or a node left;
it only wastes hours when the failure is a property of the trial itself: its config does not
validate, its data or weights are missing, or its loss became NaN (`TrainingDiverged`). Those fail
at once. Every stored error starts with one line saying what failed, carries no terminal colour
codes (Ray's tracebacks have them), and ends with the useful end of the traceback.
"""

from __future__ import annotations

import re
import traceback

from pydantic import ValidationError

from trainer.config.loading import ConfigError
from trainer.data.errors import DataError
from trainer.uda import TrainingDiverged

DETERMINISTIC: tuple[type[BaseException], ...] = (TrainingDiverged, ConfigError, ValidationError, DataError)
"""Failures that would happen again on every attempt: retrying them only burns GPU time."""

ERROR_LIMIT = 2000
"""Characters of an error kept on a trial row (the headline plus the end of the traceback)."""

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Diverged|Interrupt|Exit)\b.*")


def is_deterministic(exc: BaseException) -> bool:
    """Whether ``exc`` (or the error it was raised from) would fail every retry the same way."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, DETERMINISTIC):
            return True
        seen = seen.__cause__
    return False


def strip_ansi(text: str) -> str:
    """``text`` without terminal escape sequences (colours, cursor moves)."""
    return _ANSI.sub("", text)


def headline(text: str) -> str:
    """The one line that says what failed: the last ``SomeError: message`` line of a traceback."""
    lines = [line.strip() for line in strip_ansi(text).splitlines() if line.strip()]
    for line in reversed(lines):
        if _EXCEPTION_LINE.match(line):
            name, sep, message = line.partition(":")
            return name.rsplit(".", 1)[-1] + sep + message  # TrainingDiverged, not trainer.uda.step.…
    return lines[-1] if lines else "the trial failed without an error message"


def format_error(text: str, limit: int = ERROR_LIMIT, what: str = "training failed") -> str:
    """``what: <headline>`` on the first line, then as much of the traceback's end as fits."""
    clean = strip_ansi(text).strip()
    first = f"{what}: {headline(clean)}"[: min(400, limit)]
    room = limit - len(first) - 5
    if room <= 0:
        return first
    tail = clean if len(clean) <= room else "…" + clean[-(room - 1):]
    return f"{first}\n\n{tail}"


def describe_exception(exc: BaseException, what: str = "training failed") -> str:
    """`format_error` of a caught exception's traceback (in the worker, where it happened)."""
    return format_error("".join(traceback.format_exception(exc)), what=what)
