"""Source-crop throughput of the data pipeline on full-size GTA5-like PNGs (this machine's CPU).

Writes a few 1914x1052 synthetic GTA5 images (or uses --root), prepares them, then times the
whole source pipeline of the paper's config: PNG decode, resize to 1280x720, RCS (T=0.01) with
the 512x512 cat_max_ratio crop and re-crop loop, flip, normalisation, batching. Prints crops/s.

    .venv/bin/python bench/bench_data.py --crops 200 --workers 0
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from trainer.config import config_from_dict
from trainer.data import build_train_streams
from trainer.data.labels import GTA_TO_TRAIN
from trainer.data.prepare import prepare
from trainer.data.synthetic.styles import SOURCE_STYLE
from trainer.data.synthetic.writer import SOURCE_SCENE, SplitJob, draw


def write_gta(root: Path, count: int) -> None:
    """``count`` 1914x1052 images with Cityscapes label ids, as GTA5 ships them."""
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir(parents=True)
    to_id = np.zeros(256, np.uint8)
    for label_id, train_id in GTA_TO_TRAIN.items():
        to_id[train_id] = label_id
    job = SplitJob(0, 0, count, SOURCE_SCENE, SOURCE_STYLE)
    for i in tqdm(range(count), desc="writing 1914x1052 PNGs"):
        img, label = draw(job, i, (1052, 1914), seed=0)
        Image.fromarray(img).save(root / "images" / f"{i:05d}.png")
        Image.fromarray(to_id[label]).save(root / "labels" / f"{i:05d}.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=None, help="a prepared GTA5 folder (default: generate)")
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--crops", type=int, default=200)
    parser.add_argument("--workers", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.root
        if root is None:
            root = Path(tmp) / "gta"
            write_gta(root, args.images)
            prepare("gta", root, workers=1)
        cfg = config_from_dict({"data": {"source": {"kind": "gta", "root": str(root), "resize": [1280, 720]},
                                         "num_workers": args.workers, "batch_size": 2},
                                "uda": {"mode": "source_only"}})
        stream = build_train_streams(cfg).labelled
        next(stream)  # start the workers outside the timing
        batches = args.crops // cfg.data.batch_size
        start = time.perf_counter()
        for _ in tqdm(range(batches), desc="source crops", unit="batch"):
            next(stream)
        elapsed = time.perf_counter() - start
    crops = batches * cfg.data.batch_size
    print(f"{crops} source crops (512x512 from 1914x1052 PNGs, RCS on) in {elapsed:.1f} s: "
          f"{crops / elapsed:.1f} crops/s with num_workers={args.workers}")


if __name__ == "__main__":
    main()
