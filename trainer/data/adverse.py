"""ACDC and Dark Zurich on disk: the adverse-condition targets of the reference's experiment 8.

Both ship images as ``*_rgb_anon.png`` under ``rgb_anon/`` and labels already in the 19 Cityscapes
train ids as ``*_gt_labelTrainIds.png`` at the same relative place under ``gt/`` (the reference's
``ACDCDataset`` / ``DarkZurichDataset``: Cityscapes readers with these two suffixes). Layouts:

- ACDC as downloaded (``rgb_anon_trainvaltest.zip``, ``gt_trainval.zip``):
  ``rgb_anon/{fog,night,rain,snow}/{train,val,test}/GOPRxxxx/B_rgb_anon.png`` and
  ``gt/{fog,night,rain,snow}/{train,val}/GOPRxxxx/B_gt_labelTrainIds.png``; or flattened as the
  reference's README does with rsync: ``rgb_anon/{train,val}/B_rgb_anon.png``, ``gt/{train,val}/...``.
  A split is every condition's images of that split (the ``*_ref`` folders are not used).
- Dark Zurich (``Dark_Zurich_train_anon.zip``, ``Dark_Zurich_val_anon.zip``):
  ``rgb_anon/train/{night,day,twilight}/GOPRxxxx/B_rgb_anon.png``, ``rgb_anon/val/night/GOPRxxxx/...``,
  ``gt/val/night/GOPRxxxx/B_gt_labelTrainIds.png``. Training uses ``rgb_anon/train/night`` only,
  as the reference's config (``img_dir='rgb_anon/train/night/'``); it has no training labels.
"""

from __future__ import annotations

from pathlib import Path

from trainer.data.errors import DataError, offending_files_error

KINDS = ("acdc", "dark_zurich")
IMAGE_SUFFIX = "_rgb_anon.png"
LABEL_SUFFIX = "_gt_labelTrainIds.png"
ACDC_CONDITIONS = ("fog", "night", "rain", "snow")
LABELLED_SPLITS = {"acdc": ("train", "val"), "dark_zurich": ("val",)}
"""The splits whose labels ``prepare`` checks (Dark Zurich has labels for val only)."""


def image_dirs(kind: str, root: Path, split: str) -> list[Path]:
    """The folders a split's images are searched in (recursively); a clear error when none exists."""
    base = root / "rgb_anon"
    if kind == "dark_zurich":
        candidates = [base / split / "night"] if split == "train" else [base / split]
    elif (base / split).is_dir():  # the reference README's flattened layout
        candidates = [base / split]
    else:  # as downloaded: one folder per condition
        candidates = [base / c / split for c in ACDC_CONDITIONS]
    found = [d for d in candidates if d.is_dir()]
    if not found:
        expected = " or ".join(str(c) for c in candidates)
        raise DataError(f"{kind}: folder {expected} does not exist (expected the {kind} layout, see "
                        f"trainer/data/adverse.py)")
    return found


def images(kind: str, root: Path, split: str) -> list[Path]:
    """Every visible ``*_rgb_anon.png`` of the split, sorted; an error naming the folders when empty."""
    dirs = image_dirs(kind, root, split)
    found = sorted(p for d in dirs for p in d.rglob(f"*{IMAGE_SUFFIX}") if not p.name.startswith("."))
    if not found:
        raise DataError(f"{kind}: no *{IMAGE_SUFFIX} images found in {', '.join(str(d) for d in dirs)}")
    return found


def label_path(root: Path, image: Path) -> Path:
    """``rgb_anon/REL/B_rgb_anon.png`` -> ``gt/REL/B_gt_labelTrainIds.png``."""
    rel = image.relative_to(root / "rgb_anon")
    return root / "gt" / rel.parent / (image.name[: -len(IMAGE_SUFFIX)] + LABEL_SUFFIX)


def labelled_pairs(kind: str, root: Path, split: str) -> list[tuple[Path, Path]]:
    """(image, train-id label) of a labelled split; every image must have its label."""
    if split not in LABELLED_SPLITS[kind]:
        raise DataError(f"{kind}: the {split} split has no labels (labelled: {', '.join(LABELLED_SPLITS[kind])})")
    pairs = [(image, label_path(root, image)) for image in images(kind, root, split)]
    missing = [str(label) for _, label in pairs if not label.is_file()]
    if missing:
        raise offending_files_error(f"{kind} {split}: images without a *{LABEL_SUFFIX} label", missing)
    return pairs
