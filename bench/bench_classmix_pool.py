"""The ClassMix class pool on the synthetic benchmark: the paper's per-image rule vs the reference's batch pool.

Trains the same tiny UDA run (the synthetic_gap preset's settings: MiT-B0 from random init,
64-channel DAFormer head, 128x128 crops, lr 1e-3, all DAFormer strategies) with
``run.numerics: default`` (per-image ClassMix classes, 255 excluded) and ``run.numerics:
reference`` (classes drawn from the whole batch's labels, 255 included, and fp32 everywhere,
which on a CPU is the default anyway), for several seeds; prints each final target-val mIoU, the
means +- sample std and Welch's t-test of the difference. Data: ``python -m trainer.data.synthetic
data/synthetic`` first.

    .venv/bin/python bench/bench_classmix_pool.py --seeds 0 1 2 --iterations 200

``--masks N`` trains nothing: it draws N batches of the same source crops (RCS on) and reports
how the two pools' masks differ (share of an image's own classes mixed, images with an empty
mask, share of mixed pixels that are ignore pixels), seconds on a CPU.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import torch
from scipy.stats import ttest_ind

from ablations.presets import load_preset
from ablations.spec import override_items, resolve_config
from trainer.config import TrainConfig
from trainer.data import build_train_streams
from trainer.engine.loop import train
from trainer.uda.classmix import class_masks

RANDOM_INIT = {"model": {"pretrained": None}, "uda": {"ema": {"alpha": 0.999}},
               "optim": {"lr": 1.0e-3, "warmup_iters": 50}}
"""The settings this comparison was measured with: the synthetic_gap preset as it was before the
ImageNet stand-in (random MiT-B0, lr 1e-3, warmup 50, alpha 0.999), so no pretraining is needed."""


def _config(data: Path, out: Path, numerics: str, seed: int, iterations: int) -> TrainConfig:
    config = resolve_config([override_items(load_preset("synthetic_gap").base), override_items(RANDOM_INIT)])
    data_cfg = config.data.model_copy(update={
        "source": config.data.source.model_copy(update={"root": str(data / "gta")}),
        "target": config.data.target.model_copy(update={"root": str(data / "cityscapes")}),
    })
    run = config.run.model_copy(update={
        "numerics": numerics, "seed": seed, "iterations": iterations, "eval_interval": iterations,
        "checkpoint_interval": iterations, "output_dir": str(out / f"{numerics}_s{seed}"), "device": "cpu",
    })
    return TrainConfig.model_validate({**config.model_dump(), "data": data_cfg.model_dump(),
                                       "run": run.model_dump()})


def mask_statistics(cfg: TrainConfig, batches: int) -> None:
    """Per pool: mean share of each image's own classes that get mixed, empty masks, ignore pixels mixed."""
    stream = build_train_streams(cfg).labelled
    labels = [next(stream)["label"] for _ in range(batches)]
    for pool in ("image", "batch"):
        gen = torch.Generator().manual_seed(0)
        shares, empty, ignore_mixed, mixed = [], 0, 0, 0
        for lbl in labels:
            for label, mask in zip(lbl, class_masks(lbl, gen, pool=pool), strict=True):
                own = torch.unique(label[label != 255])
                chosen = torch.unique(label[mask.bool() & (label != 255)])
                shares.append(len(chosen) / max(len(own), 1))
                empty += int(mask.sum() == 0)
                ignore_mixed += int((mask.bool() & (label == 255)).sum())
                mixed += int(mask.sum())
        n = len(shares)
        print(f"pool={pool:5s}: own classes mixed {100 * statistics.mean(shares):.1f}% per image, "  # noqa: T201
              f"empty masks {100 * empty / n:.1f}% of {n} images, "
              f"ignore pixels {100 * ignore_mixed / max(mixed, 1):.2f}% of mixed pixels")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("data/synthetic"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--masks", type=int, default=0, help="only the mask statistics over N batches")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.masks:
        with tempfile.TemporaryDirectory() as tmp:
            mask_statistics(_config(args.data, Path(tmp), "default", args.seeds[0], 1), args.masks)
        return 0
    results: dict[str, list[float]] = {"default": [], "reference": []}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            for numerics in results:
                summary = train(_config(args.data, Path(tmp), numerics, seed, args.iterations))
                results[numerics].append(float(summary["final_miou"]))
                print(f"{numerics:9s} seed {seed}: mIoU {results[numerics][-1]:.2f}", flush=True)  # noqa: T201
    for numerics, values in results.items():
        std = statistics.stdev(values) if len(values) > 1 else float("nan")
        print(f"{numerics:9s}: {statistics.mean(values):.2f} +- {std:.2f} over seeds {args.seeds}")  # noqa: T201
    diff = statistics.mean(results["reference"]) - statistics.mean(results["default"])
    p = ttest_ind(results["reference"], results["default"], equal_var=False).pvalue if len(args.seeds) > 1 else None
    print(f"reference - default: {diff:+.2f} mIoU (Welch p = {p})")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
