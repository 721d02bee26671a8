"""Numeric precision of a run (``cfg.run.precision``): the autocast dtype and its context.

``auto`` is bf16 autocast on CUDA (no loss scaling needed) and plain fp32 on the CPU; ``fp16``
needs a ``GradScaler``, which the UDA step enables only then.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype, or None for plain fp32."""
    if precision == "auto":
        return torch.bfloat16 if device.type == "cuda" else None
    options = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
    if precision not in options:
        raise ValueError(f"run.precision: {precision!r}; expected 'auto', 'fp32', 'bf16' or 'fp16'")
    return options[precision]


@contextlib.contextmanager
def autocast(device: torch.device, dtype: torch.dtype | None) -> Iterator[None]:
    """``torch.autocast`` when ``dtype`` is set, else nothing."""
    if dtype is None:
        yield
        return
    with torch.autocast(device_type=device.type, dtype=dtype):
        yield
