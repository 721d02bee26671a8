"""RCS's offline class statistics files, as the reference writes them (spec: RCS).

``sample_class_stats.json``: a list of ``{"file": label path relative to the root, "<train id>":
pixels, ...}`` for the classes present. ``samples_with_class.json``: ``{"<train id>": [[file,
pixels], ...]}`` for pixels > 0 (the ``min_pixels`` filter is applied when sampling). Both are
written to a temp file and moved into place, so an interrupted run leaves no partial file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trainer.data.errors import DataError

SAMPLE_CLASS_STATS = "sample_class_stats.json"
SAMPLES_WITH_CLASS = "samples_with_class.json"

FileStats = tuple[str, dict[int, int]]
"""(label path relative to the dataset root, {train id: pixel count})."""


def samples_with_class(stats: Sequence[FileStats]) -> dict[int, list[tuple[str, int]]]:
    """Invert per-file counts into, per class, the files holding it and how many pixels."""
    out: dict[int, list[tuple[str, int]]] = {}
    for file, counts in stats:
        for cls, n in sorted(counts.items()):
            if n > 0:
                out.setdefault(cls, []).append((file, n))
    return dict(sorted(out.items()))


def _dump_atomic(path: Path, payload: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload, indent=2))
    os.replace(tmp, path)


def write_stats(root: Path, stats: Sequence[FileStats]) -> None:
    """Write both JSON files next to the dataset."""
    listing = [{"file": f, **{str(c): n for c, n in sorted(counts.items())}} for f, counts in stats]
    _dump_atomic(root / SAMPLE_CLASS_STATS, listing)
    inverted = {str(c): [[f, n] for f, n in files] for c, files in samples_with_class(stats).items()}
    _dump_atomic(root / SAMPLES_WITH_CLASS, inverted)


def read_stats(root: Path) -> list[FileStats]:
    """Per-file counts from ``sample_class_stats.json``; a clear error when prepare has not run."""
    path = root / SAMPLE_CLASS_STATS
    if not path.is_file():
        raise DataError(f"{path} not found: Rare Class Sampling needs the class statistics; run "
                        f"`python -m trainer.data.prepare <gta|synthia|cityscapes> {root}`")
    try:
        listing = json.loads(path.read_text())
        return [(str(e["file"]), {int(k): int(v) for k, v in e.items() if k != "file"}) for e in listing]
    except (ValueError, KeyError, TypeError) as err:
        raise DataError(f"{path}: not a class statistics file ({err}); re-run prepare") from err
