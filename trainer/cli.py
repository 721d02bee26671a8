"""``python -m trainer train|evaluate``: the trainer alone, on a CPU or a GPU machine.

    python -m trainer train --config run.yaml [--set uda.fd.fd_lambda=0.01 ...] [--resume PATH|auto]
    python -m trainer evaluate --config run.yaml --checkpoint PATH [--which model|ema_model]

``evaluate`` reads our training checkpoints (student = ``model``, teacher = ``ema_model``) and the
reference's mmseg / UDA checkpoints (``--which`` picks the ``model.`` or ``ema_model.`` prefix).
Bad input (config, data, checkpoint) prints one clear message and exits 2, never a traceback
(``--debug`` re-raises); a diverged run exits 3.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trainer.config import TrainConfig, load_config
from trainer.config.loading import ConfigError

log = logging.getLogger("trainer")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m trainer", description="DAFormer training and evaluation."
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train (or resume) one run")
    evaluate = commands.add_parser("evaluate", help="score a checkpoint on the target validation set")
    for sub in (train, evaluate):
        sub.add_argument("--config", type=Path, help="YAML config (defaults: the paper's full DAFormer)")
        sub.add_argument(
            "--set",
            dest="overrides",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="override one field, e.g. --set uda.rcs.temperature=inf (repeatable)",
        )
    train.add_argument(
        "--resume", help="checkpoint file to continue from, or 'auto' (newest in run.output_dir)"
    )
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.add_argument("--no-tensorboard", action="store_true", help="no TensorBoard event files")
    evaluate.add_argument("--checkpoint", type=Path, required=True)
    evaluate.add_argument(
        "--which",
        choices=("model", "ema_model"),
        default="model",
        help="student ('model') or EMA teacher ('ema_model')",
    )
    evaluate.add_argument(
        "--allow-pickle",
        action="store_true",
        help="let torch unpickle arbitrary objects (only for files you trust, e.g. mmcv ones)",
    )
    evaluate.add_argument("--output", type=Path, help="also write the result as JSON here")
    evaluate.add_argument(
        "--save-dir",
        type=Path,
        help="write the predicted label maps (Cityscapes colours, trainIds, labelIds for the official "
        "evaluation) and the confusion matrix (PNG, CSV) here",
    )
    return parser


def _format_iou(per_class: dict[str, float], miou: float | None) -> str:
    lines = [f"  {name:<14} {value:6.2f}" for name, value in per_class.items()]
    lines.append(f"  {'mIoU':<14} {miou:6.2f}" if miou is not None else "  mIoU           n/a")
    return "\n".join(lines)


def _print_summary(summary: dict[str, Any]) -> None:
    state = "stopped early" if summary.get("stopped") else "finished"
    out = [f"run {state} at step {summary['final_step']}/{summary.get('total_steps')}"]
    if summary.get("final_per_class_iou") is not None:
        out.append("final per-class IoU (%):")
        out.append(_format_iou(summary["final_per_class_iou"], summary["final_miou"]))
        out.append(f"best mIoU {summary['best_miou']:.2f} at step {summary['best_step']}")
    out.append(f"checkpoint: {summary['checkpoint']}")
    out.append(f"metrics:    {summary['metrics_path']}")
    sys.stdout.write("\n".join(out) + "\n")


def _train(cfg: TrainConfig, args: argparse.Namespace) -> int:
    from trainer.engine import train
    from trainer.engine.reporting import CompositeReporter
    from trainer.engine.run_outputs import FiguresReporter, TensorBoardReporter

    outputs = CompositeReporter([FiguresReporter(cfg.run.output_dir),
                                 None if args.no_tensorboard else TensorBoardReporter(cfg.run.output_dir)])
    summary = train(cfg, reporter=outputs, resume=args.resume, progress=not args.no_progress)
    _print_summary(summary)
    return 0


def _evaluate(cfg: TrainConfig, args: argparse.Namespace) -> int:
    from trainer.engine.evaluate_checkpoint import evaluate_checkpoint

    result = evaluate_checkpoint(cfg, args.checkpoint, args.which, args.allow_pickle, progress=True,
                                 save_dir=args.save_dir)
    sys.stdout.write(f"{args.checkpoint} ({args.which}) per-class IoU (%):\n")
    sys.stdout.write(_format_iou(result.per_class_iou, result.miou) + "\n")
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "checkpoint": str(args.checkpoint),
            "which": args.which,
            "miou": result.miou,
            "per_class_iou": result.per_class_iou,
        }
        args.output.write_text(json.dumps(record, indent=2) + "\n")
    if args.save_dir is not None:
        sys.stdout.write(f"label maps and confusion matrix in {args.save_dir}\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m trainer`` and ``daformer-trainer``; returns the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from trainer.data import DataError
    from trainer.uda import TrainingDiverged

    try:
        cfg = load_config(args.config, args.overrides)
        return _train(cfg, args) if args.command == "train" else _evaluate(cfg, args)
    except (ConfigError, DataError, FileNotFoundError, ValueError) as exc:
        if args.debug:
            raise
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except TrainingDiverged as exc:
        if args.debug:
            raise
        sys.stderr.write(f"training diverged: {exc}\n")
        return 3
    except KeyboardInterrupt:
        sys.stderr.write("interrupted; resume with --resume auto\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
