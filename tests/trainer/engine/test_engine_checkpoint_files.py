"""Resume checkpoint files: pruning to the newest K, and no temporary file after a failed write."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from trainer.engine.checkpoint import checkpoint_path, list_checkpoints, prune_checkpoints, save_checkpoint


def test_a_failed_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = checkpoint_path(tmp_path, 4)
    with pytest.raises(Exception):  # noqa: B017 - pickle refuses a lambda; which error type is torch's choice
        save_checkpoint(path, {"iteration": 4, "unpicklable": lambda: None})
    assert list(path.parent.iterdir()) == []


def test_prune_keeps_the_newest_k_and_drops_stale_temporary_files(tmp_path: Path) -> None:
    for step in (2, 4, 6):
        save_checkpoint(checkpoint_path(tmp_path, step), {"iteration": step, "w": torch.zeros(3)})
    stale = checkpoint_path(tmp_path, 8).with_name("iter_00000008.pt.tmp")
    stale.write_bytes(b"")  # what a process killed mid-write left
    deleted = prune_checkpoints(tmp_path, keep=2)
    assert sorted(p.name for p in deleted) == ["iter_00000002.pt", "iter_00000008.pt.tmp"]
    assert [step for step, _ in list_checkpoints(tmp_path)] == [4, 6]
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["iter_00000004.pt", "iter_00000006.pt"]
