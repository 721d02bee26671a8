"""Resumable training checkpoints: everything a run needs to continue bit-identically.

A checkpoint holds the UDA step's state (student, teacher, frozen FD encoder unless it comes from
the pretrained file, optimizer, grad scaler, the step's generator), the iteration, every global
RNG state (torch CPU and CUDA, numpy, python), the data streams' position, the evaluation history,
the resolved config and the code version. Files are written to a temporary name then renamed
(``os.replace``), so a crash never leaves a half-written checkpoint, and a failed write removes
its temporary file; pruning keeps the newest ``keep`` and also drops temporary files a killed
process left behind. Loaded with ``weights_only=True``: plain containers and tensors only.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch

FORMAT = "daformer-ablate/train-state"
VERSION = 1
CHECKPOINT_DIR = "checkpoints"
_NAME = re.compile(r"^iter_(\d{8})\.pt$")
TMP_SUFFIX = ".tmp"


def capture_rng_state() -> dict[str, Any]:
    """The global RNG states of torch (CPU and every CUDA device), numpy and python."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached": float(cached),
        },
        "python": random.getstate(),
    }


def restore_rng_state(state: dict[str, Any]) -> None:
    """Inverse of ``capture_rng_state`` (CUDA states only when the machine has the same devices)."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])
    np_state = state["numpy"]
    keys = np_state["keys"].numpy().astype(np.uint32)
    np.random.set_state((np_state["kind"], keys, np_state["pos"], np_state["has_gauss"], np_state["cached"]))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))


def code_version() -> str:
    """``git:<rev>[+dirty]`` of the source tree when it is a checkout, else the package version."""
    root = Path(__file__).resolve().parents[2]
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        return f"git:{rev}{'+dirty' if dirty else ''}"
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        return f"package:{metadata.version('daformer-ablate')}"
    except metadata.PackageNotFoundError:
        return "unknown"


def checkpoint_path(output_dir: str | Path, step: int) -> Path:
    """``<output_dir>/checkpoints/iter_<step:08d>.pt``."""
    return Path(output_dir) / CHECKPOINT_DIR / f"iter_{step:08d}.pt"


def list_checkpoints(output_dir: str | Path) -> list[tuple[int, Path]]:
    """(step, path) of this run's checkpoints, oldest first (temporary files are not listed)."""
    folder = Path(output_dir) / CHECKPOINT_DIR
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name))]
    return sorted(found)


def latest_checkpoint(output_dir: str | Path) -> Path | None:
    """The newest checkpoint of ``output_dir``, or None."""
    found = list_checkpoints(output_dir)
    return found[-1][1] if found else None


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` (tagged with the format and version) atomically; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + TMP_SUFFIX)
    try:
        torch.save({"format": FORMAT, "version": VERSION, **payload}, tmp)
        os.replace(tmp, path)
    except BaseException:  # a full disk or an interrupt: no half-written file stays behind
        tmp.unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read one of our training checkpoints; ValueError naming the file for anything else."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types on foreign or truncated bytes
        raise ValueError(
            f"{path} is not a readable training checkpoint: {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"{path} is not a {FORMAT} checkpoint (a model-only file cannot resume a run)")
    if state.get("version") != VERSION:
        raise ValueError(f"{path}: checkpoint version {state.get('version')!r}, this trainer reads {VERSION}")
    return state


def prune_checkpoints(output_dir: str | Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` checkpoints, and stale temporary files; returns the
    deleted paths. Called right after a checkpoint is complete, so no write is in flight."""
    found = list_checkpoints(output_dir)
    doomed = [path for _, path in found[: max(len(found) - keep, 0)]]
    folder = Path(output_dir) / CHECKPOINT_DIR
    doomed += sorted(folder.glob(f"*{TMP_SUFFIX}")) if folder.is_dir() else []
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed
