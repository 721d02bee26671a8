"""``python -m trainer.pretrain OUT [--steps N] [--batch-size B] [--pool P] [--seed S] [--encoder E]``.

Pretrains a MiT on the ImageNet stand-in (``standin.py``) and writes OUT in SegFormer's
``mit_b*.pth`` layout (plus OUT.json: the arguments and the held-out accuracy). The demo's file:
``python -m trainer.pretrain data/pretrained/mit_b0_standin.pth`` (what ``make demo`` runs when
the file is missing).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from trainer.models.mix_transformer import ENCODER_NAMES
from trainer.pretrain.standin import CLASSES
from trainer.pretrain.train import PretrainConfig, run


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from err
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    defaults = PretrainConfig()
    parser = argparse.ArgumentParser(prog="python -m trainer.pretrain", description=__doc__.split("\n\n")[1])
    parser.add_argument("out", type=Path, help="the .pth file to write")
    parser.add_argument("--encoder", choices=ENCODER_NAMES, default=defaults.encoder)
    parser.add_argument("--steps", type=_positive, default=defaults.steps)
    parser.add_argument("--batch-size", type=_positive, default=defaults.batch_size)
    parser.add_argument("--pool", type=_positive, default=defaults.pool, help="training images generated")
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    args = parser.parse_args(argv)
    if args.out.suffix != ".pth":
        parser.error(f"OUT {args.out}: expected a .pth file name")
    try:
        cfg = PretrainConfig(
            encoder=args.encoder,
            steps=args.steps,
            batch_size=args.batch_size,
            pool=args.pool,
            lr=args.lr,
            seed=args.seed,
        )
    except ValueError as err:
        parser.error(str(err))
    metrics = run(cfg, args.out)
    sys.stdout.write(f"wrote {args.out}: held-out top-1 {metrics['heldout_top1']:.3f} ({len(CLASSES)} classes)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
