"""Where each dataset keeps its images and labels on disk, and how they pair up.

GTA5: ``images/X.png`` + ``labels/X.png`` (Cityscapes label ids) -> ``labels/X_labelTrainIds.png``.
SYNTHIA: ``RGB/X.png`` + ``GT/LABELS/X.png`` (16-bit) -> ``GT/LABELS/X_labelTrainIds.png``.
Cityscapes: ``leftImg8bit/SPLIT/CITY/B_leftImg8bit.png`` + ``gtFine/SPLIT/CITY/B_gtFine_labelTrainIds.png``
(made from ``B_gtFine_polygons.json``). Names starting with '.' are temp files and are skipped.
ACDC and Dark Zurich (targets; their labels ship as train ids, see ``adverse.py``):
``rgb_anon/.../B_rgb_anon.png`` + ``gt/.../B_gt_labelTrainIds.png``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from trainer.data import adverse
from trainer.data.errors import DataError, offending_files_error

DatasetKind = Literal["gta", "synthia", "cityscapes", "acdc", "dark_zurich"]
TRAIN_ID_SUFFIX = "_labelTrainIds.png"
CS_IMAGE_SUFFIX = "_leftImg8bit.png"
CS_LABEL_SUFFIX = "_gtFine_labelTrainIds.png"
CS_POLYGON_SUFFIX = "_gtFine_polygons.json"
_FLAT_DIRS = {"gta": ("images", "labels"), "synthia": ("RGB", "GT/LABELS")}


@dataclass(frozen=True)
class Sample:
    """One image and its train-id label (None: an unlabelled target image)."""

    image: Path
    label: Path | None


@dataclass(frozen=True)
class RawPair:
    """One image and the raw annotation prepare converts (a label PNG or a polygons JSON)."""

    image: Path
    raw: Path
    train_ids: Path


def _require_dir(path: Path, kind: str) -> Path:
    if not path.is_dir():
        raise DataError(f"{kind}: folder {path} does not exist (expected the {kind} layout, see "
                        f"trainer/data/layouts.py)")
    return path


def _pngs(folder: Path, suffix: str = ".png") -> dict[str, Path]:
    """Visible files in ``folder`` (recursively) ending with ``suffix``, keyed by name minus suffix."""
    return {
        str(p.relative_to(folder))[: -len(suffix)]: p
        for p in sorted(folder.rglob(f"*{suffix}"))
        if not p.name.startswith(".")
    }


def _check_pairs(kind: str, images: dict[str, Path], labels: dict[str, Path]) -> None:
    """Every image needs a label and every label an image; name the first strays otherwise."""
    lonely_images = [str(images[k]) for k in sorted(images.keys() - labels.keys())]
    if lonely_images:
        raise offending_files_error(f"{kind}: images without a label", lonely_images)
    lonely_labels = [str(labels[k]) for k in sorted(labels.keys() - images.keys())]
    if lonely_labels:
        raise offending_files_error(f"{kind}: labels without an image", lonely_labels)
    if not images:
        raise DataError(f"{kind}: no images found")


def raw_pairs(kind: DatasetKind, root: Path, split: str = "train") -> list[RawPair]:
    """The (image, raw annotation, train-id output) triples that ``prepare`` processes."""
    if kind in adverse.KINDS:
        pairs = adverse.labelled_pairs(kind, root, split)
        return [RawPair(image, label, label) for image, label in pairs]
    if kind == "cityscapes":
        return _cityscapes_raw_pairs(root, split)
    image_dir, label_dir = (_require_dir(root / d, kind) for d in _FLAT_DIRS[kind])
    images = _pngs(image_dir)
    labels = {k: p for k, p in _pngs(label_dir).items() if not p.name.endswith(TRAIN_ID_SUFFIX)}
    _check_pairs(kind, images, labels)
    return [RawPair(images[k], labels[k], labels[k].with_name(labels[k].stem + TRAIN_ID_SUFFIX))
            for k in sorted(images)]


def _cityscapes_raw_pairs(root: Path, split: str) -> list[RawPair]:
    image_dir = _require_dir(root / "leftImg8bit" / split, "cityscapes")
    label_dir = _require_dir(root / "gtFine" / split, "cityscapes")
    images = _pngs(image_dir, CS_IMAGE_SUFFIX)
    train_ids = _pngs(label_dir, CS_LABEL_SUFFIX)
    polygons = _pngs(label_dir, CS_POLYGON_SUFFIX)
    raws = {**polygons, **train_ids}  # an existing train-id PNG is used as it is
    _check_pairs(f"cityscapes {split}", images, raws)
    return [RawPair(images[k], raws[k], label_dir / f"{k}{CS_LABEL_SUFFIX}") for k in sorted(images)]


def list_samples(kind: DatasetKind, root: Path, split: str = "train", labels: bool = True) -> list[Sample]:
    """Images with their prepared train-id labels, for training and evaluation.

    ``labels=False`` (unlabelled target images) pairs an image with its label only when present.
    """
    if kind in adverse.KINDS:
        image_dir = adverse.image_dirs(kind, root, split)[0]
        found = {str(i): adverse.label_path(root, i) for i in adverse.images(kind, root, split)}
        images = {k: Path(k) for k in found}
    elif kind == "cityscapes":
        image_dir = _require_dir(root / "leftImg8bit" / split, "cityscapes")
        images = _pngs(image_dir, CS_IMAGE_SUFFIX)
        label_dir = root / "gtFine" / split
        found = {k: label_dir / f"{k}{CS_LABEL_SUFFIX}" for k in images}
    else:
        image_dir, label_dir = (_require_dir(root / d, kind) for d in _FLAT_DIRS[kind])
        images = _pngs(image_dir)
        found = {k: label_dir / f"{k}{TRAIN_ID_SUFFIX}" for k in images}
    if not images:
        raise DataError(f"{kind}: no images found in {image_dir}")
    missing = [str(p) for p in found.values() if not p.is_file()]
    if labels and missing:
        fix = (f"they ship with the dataset's gt archive ({split} split)" if kind in adverse.KINDS
               else f"run `python -m trainer.data.prepare {kind} {root}`")
        raise offending_files_error(f"{kind}: train-id labels missing; {fix}", missing)
    return [Sample(images[k], found[k] if found[k].is_file() else None) for k in sorted(images)]
