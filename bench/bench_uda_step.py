"""Time one DAFormer UDA iteration (EMA, source CE + FD, pseudo-labels, ClassMix, mixed CE, AdamW).

Example: ``python bench/bench_uda_step.py --encoder mit_b5 --crop 512 --batch 2 --device cuda``.
Reports the median step time, the peak memory (CUDA: ``max_memory_allocated``; CPU: the process's
maximum resident set size), the time of the network's own passes inside a step (two student
forward+backward, one teacher forward, one frozen-encoder forward) and the step's overhead over
them. On CUDA also the achieved FLOP/s of a step (``FlopCounterMode``) as a fraction of the bf16
matmul rate measured in the same process. Inputs are random tensors: no dataset needed.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from collections.abc import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

from trainer.config import TrainConfig, config_from_dict
from trainer.models import ENCODER_NAMES, build_network_from_config
from trainer.optim.precision import autocast
from trainer.uda import UDAStep
from trainer.uda.losses import pixel_cross_entropy


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--encoder", default="mit_b5", choices=ENCODER_NAMES)
    parser.add_argument("--crop", type=int, default=512, help="square crop side in pixels (multiple of 32)")
    parser.add_argument("--batch", type=int, default=2, help="crops per domain")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--iters", type=int, default=5, help="timed iterations (after 2 warm-up ones)")
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16", "fp16"))
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    parser.add_argument(
        "--method", default="daformer", choices=("daformer", "hrda", "mic", "mic_hrda"),
        help="hrda: --crop is the full-resolution crop (HRDA: 1024), detail crop = crop / 2",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.crop <= 0 or args.crop % 32 or args.batch <= 0 or args.iters <= 0:
        parser.error("--crop must be a positive multiple of 32; --batch and --iters positive")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("--device cuda asked for, but torch sees no CUDA device")
    return args


def make_config(args: argparse.Namespace) -> TrainConfig:
    hrda = args.method in ("hrda", "mic_hrda")
    mic = args.method in ("mic", "mic_hrda")
    return config_from_dict(
        {
            "model": {"encoder": args.encoder, "hrda": {"enabled": hrda, "hr_crop_size": [args.crop // 2] * 2}},
            "data": {"crop_size": [args.crop, args.crop], "batch_size": args.batch},
            "uda": {
                "pseudo_label": {
                    "crop_bottom": min(120, args.crop // 4),
                    "crop_top": min(15, args.crop // 32),
                },
                "mic": {"enabled": mic, "mask_block_size": args.crop // 16},
            },
            "run": {"device": args.device, "precision": args.precision, "iterations": 1000},
        }
    )


def random_batch(batch: int, crop: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Normalised-looking images and labels made of vertical bands of a few classes (things included)."""
    img = torch.randn(batch, 3, crop, crop, generator=generator)
    bands = torch.tensor([0, 2, 8, 10, 11, 13, 255])[torch.arange(crop) * 7 // crop]
    label = bands.view(1, 1, crop).expand(batch, crop, crop).clone()
    return {"img": img, "label": label}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], device: torch.device, iters: int) -> float:
    """Median seconds of ``fn`` over ``iters`` runs after two warm-up runs."""
    times = []
    for i in range(iters + 2):
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        if i >= 2:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def network_passes(step: UDAStep, src: dict[str, torch.Tensor], tgt: dict[str, torch.Tensor]) -> None:
    """The network compute of one iteration alone: 2 student fwd+bwd, teacher fwd, frozen-encoder fwd."""
    img, label = src["img"].to(step.device), src["label"].to(step.device)
    for _ in range(2):
        with autocast(step.device, step.amp_dtype):
            logits = step.student(img)
        pixel_cross_entropy(logits, label).backward()
    with torch.no_grad(), autocast(step.device, step.amp_dtype):
        assert step.teacher is not None
        step.teacher(tgt["img"].to(step.device))
        if step.frozen_encoder is not None:
            step.frozen_encoder(img)
    step.student.zero_grad(set_to_none=True)


def bf16_matmul_rate(device: torch.device, size: int = 8192, iters: int = 20) -> float:
    a = torch.randn(size, size, device=device, dtype=torch.bfloat16)
    b = torch.randn(size, size, device=device, dtype=torch.bfloat16)
    seconds = timed(lambda: a @ b, device, iters)
    return 2 * size**3 / seconds


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = make_config(args)
    device = torch.device(args.device)
    torch.manual_seed(0)
    step = UDAStep(cfg, build_network_from_config(cfg.model), device)
    gen = torch.Generator().manual_seed(0)
    src, tgt = random_batch(args.batch, args.crop, gen), random_batch(args.batch, args.crop, gen)
    counter = iter(range(10**9))
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    step_s = timed(lambda: step(next(counter), src, tgt), device, args.iters)
    peak = (
        torch.cuda.max_memory_allocated(device)
        if device.type == "cuda"
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    )
    print(
        f"UDA step  {args.method} {args.encoder} crop {args.crop} batch {args.batch}+{args.batch} on {device} "
        f"({torch.get_num_threads()} threads), precision {args.precision}"
    )
    print(f"  step time          {step_s * 1e3:9.1f} ms   ({1 / step_s:.2f} it/s)")
    if args.method != "daformer":  # the pass breakdown below is DAFormer's
        print(f"  peak memory        {peak / 2**30:9.2f} GiB")
        return 0
    net_s = timed(lambda: network_passes(step, src, tgt), device, args.iters)
    print(f"  network passes     {net_s * 1e3:9.1f} ms   (2 student fwd+bwd, teacher fwd, FD encoder fwd)")
    overhead = step_s - net_s
    print(f"  step overhead      {overhead * 1e3:9.1f} ms   ({100 * overhead / step_s:.1f}% of the step)")
    kind = "CUDA allocated" if device.type == "cuda" else "max RSS"
    print(f"  peak memory        {peak / 2**30:9.2f} GiB  ({kind})")
    if device.type == "cuda":
        with FlopCounterMode(display=False) as flops:
            step(next(counter), src, tgt)
        achieved = flops.get_total_flops() / step_s
        peak_rate = bf16_matmul_rate(device)
        print(f"  FLOPs per step     {flops.get_total_flops() / 1e12:9.2f} TFLOP")
        print(
            f"  achieved           {achieved / 1e12:9.1f} TFLOP/s = {100 * achieved / peak_rate:.1f}% of "
            f"the measured bf16 matmul rate ({peak_rate / 1e12:.0f} TFLOP/s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
