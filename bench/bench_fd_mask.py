"""How often FD's thing mask is empty, by image and crop size, on the synthetic world's source scenes.

FD (spec: Thing-Class ImageNet Feature Distance) only acts on stride-32 cells whose label is a
thing class with a share >= 0.75; with no such cell in a batch, L_FD is exactly 0. This draws the
source (GTA-like) scenes' label maps at a given size (the scene geometry scales with the image, so
drawing at 720x1280 is the paper's resize of GTA5 to 1280x720), takes random crops with the
pipeline's cat_max_ratio rule (no single class over 75%, up to 10 tries), and counts, per batch of
2 crops (the paper's batch), whether the thing mask is empty and what share of cells it keeps.
RCS is off (images drawn uniformly), so this is the geometry alone.

    .venv/bin/python bench/bench_fd_mask.py --images 60 --batches 200
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from trainer.config.schema import FDConfig
from trainer.data.synthetic.scene import draw_scene
from trainer.data.synthetic.writer import SOURCE_SCENE
from trainer.uda.feature_distance import fd_mask_stats

SETTINGS = [  # (label, image (H, W), crop)
    ("paper: GTA5 resized to 1280x720, 512 crops", (720, 1280), 512),
    ("demo: 128x256, 128 crops", (128, 256), 128),
    ("256x512, 128 crops", (256, 512), 128),
    ("256x512, 256 crops", (256, 512), 256),
]


def _crop(label: np.ndarray, size: int, rng: np.random.Generator, max_ratio: float = 0.75) -> np.ndarray:
    height, width = label.shape
    for _ in range(10):
        y, x = int(rng.integers(0, height - size + 1)), int(rng.integers(0, width - size + 1))
        crop = label[y : y + size, x : x + size]
        counts = np.bincount(crop[crop != 255].ravel(), minlength=256)
        if counts.sum() and counts.max() / counts.sum() < max_ratio:
            break
    return crop


def measure(image: tuple[int, int], crop: int, images: int, batches: int, seed: int) -> tuple[float, float]:
    """(share of batches with an empty thing mask, mean share of cells the mask keeps)."""
    rng = np.random.default_rng(seed)
    labels = [
        draw_scene(image[0], image[1], SOURCE_SCENE, np.random.default_rng([seed, i])).label for i in range(images)
    ]
    fd = FDConfig()
    empty, share = 0.0, 0.0
    for _ in range(batches):
        pair = np.stack([_crop(labels[int(rng.integers(len(labels)))], crop, rng) for _ in range(2)])
        s, e = fd_mask_stats(
            torch.from_numpy(pair).long(), (crop // 32, crop // 32), 19, fd.thing_classes, fd.scale_min_ratio
        )
        empty, share = empty + float(e), share + float(s)
    return empty / batches, share / batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=60)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print("| setting | FD mask empty (batches of 2) | cells masked |")
    print("|---|---|---|")
    for name, image, crop in SETTINGS:
        empty, share = measure(image, crop, args.images, args.batches, args.seed)
        print(f"| {name} | {empty:.2f} | {share:.3f} |")


if __name__ == "__main__":
    main()
