"""Numeric precision of a run (``cfg.run.precision``, ``cfg.run.numerics``): autocast dtype and context.

``auto`` is bf16 autocast on CUDA (no loss scaling needed) and plain fp32 on the CPU; ``fp16``
needs a ``GradScaler``, which the UDA step enables only then. ``numerics="reference"`` is the
reference's maths (fp32 on an RTX 2080 Ti, which has no TF32): no autocast whatever the device,
and TF32 off for matmuls and cuDNN convolutions (PyTorch enables it for cuDNN by default on
Ampere and newer GPUs).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


def autocast_dtype(precision: str, device: torch.device, numerics: str = "default") -> torch.dtype | None:
    """The autocast dtype, or None for plain fp32 (always under ``numerics="reference"``)."""
    if numerics == "reference":
        if precision not in ("auto", "fp32"):
            raise ValueError(f"run.precision: {precision!r} contradicts run.numerics='reference' (fp32)")
        return None
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


def apply_numerics(numerics: str) -> None:
    """Process-wide matmul/convolution settings of ``run.numerics`` ("reference": TF32 off)."""
    if numerics == "reference":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
