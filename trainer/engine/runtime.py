"""Device and seeding of a run (``cfg.run``), resolved once at the entry point."""

from __future__ import annotations

import random

import numpy as np
import torch


def resolve_device(name: str) -> torch.device:
    """``auto`` -> cuda when available else cpu; ``cpu``; ``cuda`` / ``cuda:N`` (must exist)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ValueError(
            f"run.device: {name!r} is not a device; expected 'auto', 'cpu' or 'cuda[:N]'"
        ) from exc
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"run.device: {name!r}; expected 'auto', 'cpu' or 'cuda[:N]'")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"run.device: {name!r} was asked for but CUDA is not available on this machine")
    return device


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (all devices): model initialisation is then reproducible."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
