"""``python -m trainer.data.synthetic OUT [--images N] [--size HxW] [--seed S]``.

Writes the synthetic benchmark (see ``writer.py``) and then prepares it: train-id labels and
RCS statistics for ``OUT/gta``, and statistics for ``OUT/cityscapes``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from trainer.data.errors import DataError
from trainer.data.prepare import prepare
from trainer.data.synthetic.writer import write_dataset


def _size(text: str) -> tuple[int, int]:
    try:
        height, width = (int(v) for v in text.lower().split("x"))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"--size {text!r}: expected HxW, e.g. 128x256") from err
    if height < 32 or width < 32:
        raise argparse.ArgumentTypeError(f"--size {text!r}: both sides must be at least 32 pixels")
    return height, width


def _count(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"image count must be at least 1, got {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m trainer.data.synthetic", description="Write and prepare the synthetic benchmark."
    )
    parser.add_argument("out", type=Path)
    parser.add_argument("--images", type=_count, default=300, help="source (GTA-like) images")
    parser.add_argument("--target-images", type=_count, default=200, help="target train images")
    parser.add_argument("--val-images", type=_count, default=100, help="target val images")
    parser.add_argument("--size", type=_size, default=(128, 256), help="HxW of every image")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1, help="processes for the prepare step")
    args = parser.parse_args(argv)
    write_dataset(args.out, (args.images, args.target_images, args.val_images), args.size, args.seed)
    try:
        prepare("gta", args.out / "gta", args.workers)
        prepare("cityscapes", args.out / "cityscapes", args.workers)
    except DataError as err:
        sys.stderr.write(f"error: {err}\n")
        return 2
    sys.stdout.write(f"synthetic benchmark written to {args.out}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
