"""HRDA's synchronised sub-crop (spec: hrda.md, "Optional synchronised sub-crop", ablations only).

After both loaders crop (1024), one random window of ``sync_crop_size`` is cut at the SAME place
from the source and the target crops (images, labels and the v2 validity mask), so that the
crop-size ablations (Tables 3-5) keep the loaders' 1024 crops, their class-ratio and RCS rules,
and see a smaller training crop. The offsets are uniform integers (no multiple-of-8 rule), as the
reference's ``get_crop_bbox`` with ``divisible=1``; they come from the step's generator.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from trainer.models.hrda import draw_detail_box

Batch = Mapping[str, torch.Tensor]


def sync_crop(
    labelled: Batch, unlabelled: Batch | None, size: tuple[int, int], generator: torch.Generator
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor] | None]:
    """Both batches cut to one shared ``size`` = (h, w) window over their last two dimensions."""
    height, width = labelled["img"].shape[-2:]
    y1, y2, x1, x2 = draw_detail_box((height, width), size, 1, generator)

    def cut(batch: Batch) -> dict[str, torch.Tensor]:
        return {key: value[..., y1:y2, x1:x2] for key, value in batch.items()}

    return cut(labelled), None if unlabelled is None else cut(unlabelled)
