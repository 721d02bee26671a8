"""Writes the synthetic benchmark in the real datasets' layouts (spec: Data pipelines, "Layouts").

Source as GTA5: ``gta/images/NNNNN.png`` and ``gta/labels/NNNNN.png`` holding Cityscapes *label*
ids in a palette PNG, so ``prepare gta`` converts it like the real set. Target as Cityscapes:
``cityscapes/leftImg8bit/{train,val}/synth/*_leftImg8bit.png`` with train-id labels
``gtFine/.../*_gtFine_labelTrainIds.png``. Image i of a split is drawn from its own Generator
seeded with (seed, domain, split, i), so the output is a pure function of the arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from trainer.data.labels import GTA_TO_TRAIN
from trainer.data.synthetic.scene import DEFAULT_RATES, SceneParams, draw_scene
from trainer.data.synthetic.styles import SOURCE_STYLE, TARGET_STYLE, DomainStyle, render

SOURCE_SCENE = SceneParams(horizon=0.45, cam_height=1.7)
TARGET_SCENE = SceneParams(
    horizon=0.38, cam_height=1.3, facade_mix=(0.45, 0.1, 0.15, 0.3),
    rates={**DEFAULT_RATES, "car": 5.0, "truck": 0.25, "bus": 0.15, "person": 3.0, "rider": 0.5,
           "bicycle": 0.8, "motorcycle": 0.1, "pole": 4.0},
)
"""Cityscapes-like: a lower camera seen higher in the image, more people, bicycles and trees."""


@dataclass(frozen=True)
class SplitJob:
    domain: int
    split: int
    count: int
    scene: SceneParams
    style: DomainStyle


def _train_to_label_id() -> np.ndarray:
    table = np.zeros(256, dtype=np.uint8)  # 255 (void) -> Cityscapes id 0 "unlabeled"
    for label_id, train_id in GTA_TO_TRAIN.items():
        table[train_id] = label_id
    return table


def _cityscapes_palette() -> list[int]:
    """The official colours of the Cityscapes label ids, as GTA5's palette label PNGs carry."""
    from cityscapesscripts.helpers.labels import labels

    palette = [0] * 768
    for lab in labels:
        if 0 <= lab.id < 256:
            palette[3 * lab.id : 3 * lab.id + 3] = list(lab.color)
    return palette


def draw(job: SplitJob, index: int, size: tuple[int, int], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(RGB image, train-id label) of image ``index`` of a split."""
    rng = np.random.default_rng([seed, job.domain, job.split, index])
    canvas = draw_scene(size[0], size[1], job.scene, rng)
    img = render(canvas.label, canvas.instance, job.style, rng)
    return img, canvas.label


def write_dataset(out: Path, counts: tuple[int, int, int], size: tuple[int, int], seed: int) -> None:
    """Write ``counts`` = (source, target train, target val) images of ``size`` = (H, W)."""
    gta, cs = out / "gta", out / "cityscapes"
    for folder in (gta / "images", gta / "labels", *(cs / k / s / "synth" for k in ("leftImg8bit", "gtFine")
                                                      for s in ("train", "val"))):
        folder.mkdir(parents=True, exist_ok=True)
    to_label_id, palette = _train_to_label_id(), _cityscapes_palette()
    jobs = [SplitJob(0, 0, counts[0], SOURCE_SCENE, SOURCE_STYLE),
            SplitJob(1, 0, counts[1], TARGET_SCENE, TARGET_STYLE),
            SplitJob(1, 1, counts[2], TARGET_SCENE, TARGET_STYLE)]
    with tqdm(total=sum(counts), desc="synthetic", unit="img") as bar:
        for job in jobs:
            for i in range(job.count):
                img, label = draw(job, i, size, seed)
                if job.domain == 0:
                    Image.fromarray(img).save(gta / "images" / f"{i:05d}.png")
                    ids = Image.fromarray(to_label_id[label])
                    ids.putpalette(palette)  # an "L" image becomes "P" with the same indices
                    ids.save(gta / "labels" / f"{i:05d}.png")
                else:
                    split = "train" if job.split == 0 else "val"
                    base = f"synth/synth_{i:06d}_000019"
                    Image.fromarray(img).save(cs / "leftImg8bit" / split / f"{base}_leftImg8bit.png")
                    Image.fromarray(label).save(cs / "gtFine" / split / f"{base}_gtFine_labelTrainIds.png")
                bar.update(1)
