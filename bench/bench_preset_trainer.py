"""Train every trial of a preset with the trainer alone (no service, Ray or MLflow), one after another.

Example: ``python bench/bench_preset_trainer.py lineage_synthetic --data-root data/synthetic
--out runs/lineage``. Each trial's config is the preset's resolved config with the synthetic data
root replaced by ``--data-root`` and its output under ``--out/TRIAL``; one JSON line per trial
(final mIoU, wall seconds) goes to stdout. Used for the lineage figures of the README.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from ablations.expand import expand
from ablations.presets import load_preset
from trainer.config import TrainConfig
from trainer.engine import train


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("preset")
    parser.add_argument("--data-root", type=Path, default=Path("data/synthetic"))
    parser.add_argument("--out", type=Path, default=Path("runs/preset"))
    parser.add_argument("--variants", nargs="*", help="only these rows")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--iterations", type=int, help="shorter runs (a smoke test); default: the preset's")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    for plan in expand(load_preset(args.preset)):
        if args.variants and plan.variant not in args.variants:
            continue
        text = json.dumps(plan.config).replace('"data/synthetic', f'"{args.data_root}')
        data = json.loads(text)
        data["run"]["output_dir"] = str(args.out / plan.name)
        if args.iterations:
            for key in ("iterations", "eval_interval", "checkpoint_interval", "log_interval"):
                data["run"][key] = min(data["run"][key], args.iterations)
        start = time.perf_counter()
        summary = train(TrainConfig.model_validate(data))
        row = {"trial": plan.name, "final_miou": summary["final_miou"], "seconds": round(time.perf_counter() - start)}
        sys.stdout.write(json.dumps(row) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
