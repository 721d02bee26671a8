"""What a run of ``python -m trainer train`` leaves beside its metrics log for people to read:
figures of its curves (``figures/*.png``, at the end) and TensorBoard event files
(``tensorboard/``, as it goes), both as ``Reporter``s the CLI adds to the run.

TensorBoard needs the ``tensorboard`` package (pinned in pyproject.toml); ``torch.utils.tensorboard``
is imported when the reporter is made, and without the package the run goes on without events
(one warning). A resumed run purges the events the interrupted attempt wrote after its checkpoint:
the writer's ``purge_step`` is the first step this attempt logs.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from trainer.engine.figures import FIGURES_DIR, write_run_figures
from trainer.engine.reporting import read_metrics

log = logging.getLogger(__name__)
TENSORBOARD_DIR = "tensorboard"


class FiguresReporter:
    """Writes the run's curve figures from its ``metrics.jsonl`` when the run ends."""

    def __init__(self, output_dir: str | Path, title: str = "") -> None:
        self.out_dir, self.title = Path(output_dir) / FIGURES_DIR, title

    def on_train(self, step: int, losses: dict[str, float]) -> None:
        """Nothing until the end: the figures are drawn once from the whole log."""

    def on_eval(self, step: int, per_class_iou: dict[str, float], miou: float) -> None:
        """Nothing until the end."""

    def on_checkpoint(self, step: int, path: str | os.PathLike[str]) -> None:
        """Nothing until the end."""

    def on_end(self, summary: dict[str, Any]) -> None:
        metrics = summary.get("metrics_path")
        if metrics:
            written = write_run_figures(read_metrics(metrics), self.out_dir, self.title)
            log.info("figures: %s", ", ".join(str(p) for p in written))

    def should_stop(self) -> bool:
        return False


class TensorBoardReporter:
    """Scalars for TensorBoard: ``train/<loss>``, ``train/lr``, ``val/mIoU``, ``val/iou/<class>``."""

    def __init__(self, output_dir: str | Path) -> None:
        self.log_dir = Path(output_dir) / TENSORBOARD_DIR
        self._writer: Any = None
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:  # the package is optional for a bare PyTorch machine
            log.warning("no TensorBoard event files (%s): pip install tensorboard", exc)
            self._factory = None
        else:
            self._factory = SummaryWriter

    def _at(self, step: int) -> Any:
        if self._writer is None and self._factory is not None:
            self._writer = self._factory(log_dir=str(self.log_dir), purge_step=step)
        return self._writer

    def on_train(self, step: int, losses: dict[str, float]) -> None:
        writer = self._at(step)
        if writer is not None:
            for name, value in losses.items():
                writer.add_scalar(f"train/{name}", value, step)

    def on_eval(self, step: int, per_class_iou: dict[str, float], miou: float) -> None:
        writer = self._at(step)
        if writer is not None:
            writer.add_scalar("val/mIoU", miou, step)
            for name, value in per_class_iou.items():
                writer.add_scalar(f"val/iou/{name.replace(' ', '_')}", value, step)

    def on_checkpoint(self, step: int, path: str | os.PathLike[str]) -> None:
        """Checkpoints are not scalars."""

    def on_end(self, summary: dict[str, Any]) -> None:
        if self._writer is not None:
            self._writer.flush()
            self._writer.close()
            self._writer = None

    def should_stop(self) -> bool:
        return False
