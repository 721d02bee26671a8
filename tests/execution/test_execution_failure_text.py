"""The stored error of a failed trial: a headline, no terminal colours, the traceback's end."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ablations.execution.failures import format_error, headline, is_deterministic
from trainer.config import TrainConfig
from trainer.data.errors import DataError
from trainer.uda import TrainingDiverged

RAY_ERROR = (
    "Failure # 1 (occurred at 2026-11-29_20-39-31)\n"
    "\x1b[36mray::ImplicitFunc.train()\x1b[39m (pid=1, ip=127.0.0.1)\n"
    "Traceback (most recent call last):\n"
    '  File "trainer/engine/loop.py", line 140, in _ensure_finite\n'
    "    raise TrainingDiverged(\n"
    "trainer.uda.step.TrainingDiverged: a loss became NaN at or before step 2\n"
)


def test_headline_and_colours() -> None:
    text = format_error(RAY_ERROR)
    first, blank, *rest = text.splitlines()
    assert first == "training failed: TrainingDiverged: a loss became NaN at or before step 2" and blank == ""
    assert "\x1b" not in text and rest[-1].endswith("a loss became NaN at or before step 2")
    assert headline("no exception line here\n\n") == "no exception line here"


def test_long_tracebacks_keep_the_headline_and_the_end() -> None:
    long = "Traceback (most recent call last):\n" + "  frame\n" * 2000 + "ValueError: the end\n"
    text = format_error(long, limit=500)
    assert len(text) <= 500 and text.startswith("training failed: ValueError: the end")
    assert text.endswith("ValueError: the end")


def test_which_failures_are_not_retried() -> None:
    with pytest.raises(ValidationError) as invalid:
        TrainConfig.model_validate({"optim": {"lr": -1}})
    assert is_deterministic(invalid.value) and is_deterministic(TrainingDiverged("nan"))
    assert is_deterministic(DataError("missing"))
    wrapped = RuntimeError("outer")
    wrapped.__cause__ = TrainingDiverged("nan")
    assert is_deterministic(wrapped)
    assert not is_deterministic(RuntimeError("worker died")) and not is_deterministic(OSError("disk"))
