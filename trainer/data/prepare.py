"""``python -m trainer.data.prepare KIND ROOT``: train-id labels and RCS statistics.

Writes the train-id PNG next to every raw annotation and, for the training split, the class
pixel counts RCS samples from (``stats.py``), in parallel over the cores. ACDC and Dark Zurich
ship train-id labels and are only targets: their labelled splits are checked (every image has a
label, every label holds train ids) and nothing is written. Idempotent and
resumable: finished PNGs are kept, every output is moved into place atomically. Any bad input
stops it before the statistics are written, with a message naming the first offending files.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path

from tqdm import tqdm

from trainer.data import adverse
from trainer.data.convert import ConvertResult, convert_pair
from trainer.data.errors import DataError, offending_files_error
from trainer.data.io import TMP_SUFFIX
from trainer.data.layouts import DatasetKind, RawPair, raw_pairs
from trainer.data.stats import FileStats, write_stats

KINDS: tuple[DatasetKind, ...] = ("gta", "synthia", "cityscapes", "acdc", "dark_zurich")


def _splits(kind: DatasetKind) -> tuple[str, ...]:
    """Cityscapes' val labels are needed for evaluation; statistics come from the first split."""
    if kind in adverse.KINDS:
        return adverse.LABELLED_SPLITS[kind]
    return ("train", "val") if kind == "cityscapes" else ("train",)


def _remove_stale_temps(pairs: Sequence[RawPair]) -> None:
    """Drop temp files an interrupted run left next to the outputs."""
    for folder in {p.train_ids.parent for p in pairs}:
        for tmp in folder.glob(f".*{TMP_SUFFIX}"):
            tmp.unlink(missing_ok=True)


def _run(kind: DatasetKind, pairs: Sequence[RawPair], workers: int, desc: str) -> Iterator[ConvertResult]:
    work = partial(convert_pair, kind)
    if workers <= 1:
        yield from tqdm(map(work, pairs), total=len(pairs), desc=desc, unit="img")
        return
    chunk = max(1, min(64, len(pairs) // (workers * 8)))
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        yield from tqdm(pool.imap(work, pairs, chunksize=chunk), total=len(pairs), desc=desc, unit="img")


def prepare(kind: DatasetKind, root: Path, workers: int | None = None) -> list[FileStats]:
    """Prepare one dataset; returns the statistics written (those of the training split)."""
    if kind not in KINDS:
        raise DataError(f"unknown dataset kind {kind!r}; expected one of {', '.join(KINDS)}")
    if not root.is_dir():
        raise DataError(f"dataset root {root} does not exist")
    workers = workers or os.cpu_count() or 1
    split_pairs = {split: raw_pairs(kind, root, split) for split in _splits(kind)}
    train_stats: list[FileStats] = []
    for split, pairs in split_pairs.items():
        _remove_stale_temps(pairs)
        errors: list[str] = []
        stats: list[FileStats] = []
        for label_path, counts, error in _run(kind, pairs, workers, f"{kind} {split}"):
            if error is not None or counts is None:
                errors.append(error or label_path)
            else:
                stats.append((Path(label_path).relative_to(root).as_posix(), counts))
        if errors:
            raise offending_files_error(f"{kind} {split}: bad annotation files", errors)
        if split == "train":
            train_stats = stats
    if kind not in adverse.KINDS:  # targets only: RCS never samples them
        write_stats(root, train_stats)
    return train_stats


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m trainer.data.prepare", description=__doc__.split("\n")[0]
    )
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("root", type=Path)
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    args = parser.parse_args(argv)
    try:
        stats = prepare(args.kind, args.root, args.workers)
    except DataError as err:
        sys.stderr.write(f"error: {err}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("interrupted; finished files are kept, run the same command again to resume\n")
        return 130
    if args.kind in adverse.KINDS:
        sys.stdout.write(f"{args.kind}: labels checked in {args.root} (nothing to write)\n")
    else:
        sys.stdout.write(f"{args.kind}: {len(stats)} labels prepared, statistics in {args.root}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
