"""Label maps of the datasets to the 19 Cityscapes train ids (spec: Data pipelines, "Label maps").

Each map is applied as a lookup table over every valid raw id; ids that are valid in the
dataset but not among the 19 classes become 255 (ignore). Ids outside the dataset's id range
are not a label at all, which is how a corrupt or foreign file shows itself.
"""

from __future__ import annotations

import numpy as np

IGNORE = 255
NUM_CLASSES = 19

GTA_TO_TRAIN: dict[int, int] = {
    7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10, 24: 11, 25: 12,
    26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18,
}  # fmt: skip
"""GTA5 ``labels/*.png`` hold Cityscapes label ids 0..33."""
GTA_MAX_ID = 33

SYNTHIA_TO_TRAIN: dict[int, int] = {
    3: 0, 4: 1, 2: 2, 21: 3, 5: 4, 7: 5, 15: 6, 9: 7, 6: 8, 1: 10, 10: 11, 17: 12, 8: 13, 19: 15,
    12: 17, 11: 18,
}  # fmt: skip
"""SYNTHIA RAND_CITYSCAPES class ids 0..22 (no terrain, truck or train)."""
SYNTHIA_MAX_ID = 22


def lookup_table(mapping: dict[int, int], max_id: int) -> np.ndarray:
    """A (max_id + 1,) uint8 table: raw id -> train id, 255 for valid ids not in the map."""
    table = np.full(max_id + 1, IGNORE, dtype=np.uint8)
    for raw, train in mapping.items():
        table[raw] = train
    return table


GTA_TABLE = lookup_table(GTA_TO_TRAIN, GTA_MAX_ID)
SYNTHIA_TABLE = lookup_table(SYNTHIA_TO_TRAIN, SYNTHIA_MAX_ID)


def to_train_ids(raw: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Map raw ids through ``table``; raises ValueError naming the ids the table does not know."""
    bad = np.unique(raw[raw >= len(table)])
    if bad.size:
        raise ValueError(f"ids outside 0..{len(table) - 1}: {bad[:10].tolist()}")
    return table[raw.astype(np.intp)]


def check_train_ids(label: np.ndarray) -> None:
    """Raise ValueError unless every value is a train id (0..18) or 255."""
    values = np.unique(label)
    bad = values[(values >= NUM_CLASSES) & (values != IGNORE)]
    if bad.size:
        raise ValueError(f"values that are not train ids 0..18 or 255: {bad[:10].tolist()}")


def class_pixel_counts(train_ids: np.ndarray) -> dict[int, int]:
    """Pixels per train id present in the label (255 excluded), as RCS's offline statistics."""
    counts = np.bincount(train_ids.ravel(), minlength=256)[:NUM_CLASSES]
    return {int(c): int(n) for c, n in enumerate(counts) if n > 0}
