"""The one error type of the data package: bad datasets on disk, named file by file."""

from __future__ import annotations

from collections.abc import Sequence


class DataError(ValueError):
    """A dataset that cannot be used as it is; the message names the files and the fix."""


def offending_files_error(problem: str, items: Sequence[str], shown: int = 5) -> DataError:
    """Build a ``DataError`` naming the first ``shown`` offending files and how many there are."""
    head = "\n  ".join(items[:shown])
    more = f"\n  ... and {len(items) - shown} more" if len(items) > shown else ""
    return DataError(f"{problem}: {len(items)} file(s), first:\n  {head}{more}")
