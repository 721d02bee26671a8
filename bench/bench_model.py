"""Time the segmentor's forward and forward+backward passes and report peak memory.

Example: ``python bench/bench_model.py --encoder mit_b5 --decoder daformer --crop 512 --batch 2
--device cuda --precision bf16``. On CUDA the peak is ``torch.cuda.max_memory_allocated``; on CPU it
is the process's maximum resident set size (``resource.getrusage``), which includes Python and torch.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

import torch
import torch.nn.functional as F

from trainer.models import DECODER_NAMES, ENCODER_NAMES, Segmentor, build_segmentor

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--encoder", default="mit_b5", choices=ENCODER_NAMES)
    parser.add_argument("--decoder", default="daformer", choices=DECODER_NAMES)
    parser.add_argument("--crop", type=int, default=512, help="square crop side in pixels")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--iters", type=int, default=10, help="timed iterations (after 2 warm-up ones)")
    parser.add_argument("--precision", default="fp32", choices=list(PRECISIONS))
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    args = parser.parse_args(argv)
    if args.crop <= 0 or args.batch <= 0 or args.iters <= 0:
        parser.error("--crop, --batch and --iters must be positive")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("--device cuda asked for, but torch sees no CUDA device")
    return args


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_per_iteration(step: Callable[[], None], iters: int, device: torch.device) -> float:
    """Mean seconds per call after two untimed warm-up calls (allocator, cuDNN autotuning)."""
    for _ in range(2):
        step()
    _synchronize(device)
    start = time.perf_counter()
    for _ in range(iters):
        step()
    _synchronize(device)
    return (time.perf_counter() - start) / iters


def peak_memory_mib(device: torch.device) -> tuple[float, str]:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20, "CUDA max allocated"
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return rss_kib / 1024, "process max RSS"


def run(args: argparse.Namespace) -> None:
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    model: Segmentor = build_segmentor(args.encoder, args.decoder, num_classes=19).to(device)
    images = torch.randn(args.batch, 3, args.crop, args.crop, device=device)
    labels = torch.randint(0, 19, (args.batch, args.crop, args.crop), device=device)
    dtype = PRECISIONS[args.precision]

    def autocast() -> AbstractContextManager[object]:
        return torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext()

    def forward() -> None:
        with torch.no_grad(), autocast():
            model(images)

    def forward_backward() -> None:
        model.zero_grad(set_to_none=True)
        with autocast():
            logits = F.interpolate(model(images), size=images.shape[2:], mode="bilinear", align_corners=False)
            loss = F.cross_entropy(logits.float(), labels)
        loss.backward()

    model.eval()
    forward_s = time_per_iteration(forward, args.iters, device)
    model.train()
    train_s = time_per_iteration(forward_backward, args.iters, device)
    peak, kind = peak_memory_mib(device)
    params = sum(p.numel() for p in model.parameters())
    print(
        f"{args.encoder} + {args.decoder} head, {params:,} parameters, batch {args.batch}, "
        f"crop {args.crop}, {args.precision}, device {device} ({torch.get_num_threads()} CPU threads)"
    )
    print(f"forward:          {forward_s * 1000:9.1f} ms/iter")
    print(f"forward+backward: {train_s * 1000:9.1f} ms/iter")
    print(f"peak memory:      {peak:9.1f} MiB ({kind})")


def main(argv: list[str] | None = None) -> int:
    run(parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
