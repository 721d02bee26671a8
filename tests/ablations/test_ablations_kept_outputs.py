"""What a trial keeps of its scratch folder when MLflow did not get its files (the replay uploads them)."""

from __future__ import annotations

from pathlib import Path

from ablations.execution.payload import TrialPayload
from ablations.execution.trainable import KEPT_OUTPUTS, keep_outputs, kept_path


class _Reporter:
    def __init__(self, complete: bool) -> None:
        self.complete = complete


def _scratch(tmp_path: Path) -> Path:
    work = tmp_path / "scratch"
    (work / "checkpoints").mkdir(parents=True)
    for name in (*KEPT_OUTPUTS, "checkpoints/iter_00000100.pt", "summary.json"):
        (work / name).write_bytes(name.encode())
    return work


def _payload(outputs: Path | None) -> TrialPayload:
    return TrialPayload(trial_id=7, name="full/seed=0", train_config={},
                        outputs_dir=None if outputs is None else str(outputs))


def test_untracked_trials_keep_their_weights_and_metrics(tmp_path: Path) -> None:
    work, outputs = _scratch(tmp_path), tmp_path / "storage" / "run" / "outputs" / "7"
    kept = keep_outputs(work, _payload(outputs), [_Reporter(complete=False)])
    assert sorted(p.name for p in kept) == sorted(KEPT_OUTPUTS)
    assert all((outputs / name).read_bytes() == name.encode() for name in KEPT_OUTPUTS)
    assert not (outputs / "checkpoints").exists() and not (outputs / "summary.json").exists()  # resume files go


def test_nothing_is_kept_when_mlflow_got_everything(tmp_path: Path) -> None:
    work, outputs = _scratch(tmp_path), tmp_path / "outputs"
    assert keep_outputs(work, _payload(outputs), [_Reporter(complete=True)]) == []
    assert keep_outputs(work, _payload(None), []) == []
    assert not outputs.exists()


def test_the_reported_summary_names_the_kept_files(tmp_path: Path) -> None:
    work = tmp_path / "scratch"
    assert kept_path(str(work / "model_final.pt"), work, "/store/outputs/7") == "/store/outputs/7/model_final.pt"
    assert kept_path(str(work / "metrics.jsonl"), work, "/store/outputs/7") == "/store/outputs/7/metrics.jsonl"
    resume = str(work / "checkpoints" / "iter_00000100.pt")
    assert kept_path(resume, work, "/store/outputs/7") == resume  # not kept: named as it was
    assert kept_path(0.5, work, "/store/outputs/7") == 0.5
