"""`ablate retry / presets / compare / download` and `submit FILE` with a preset file, against the
real API served by uvicorn (SQLite), and a real MLflow store for the checkpoints."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import pytest
import uvicorn

from ablations.presets import PRESETS_DIR, list_presets
from service.app import create_app
from service.cli import run
from service.lifecycle import TrialStatus
from service.settings import Settings
from service.trials import repository as trials

TOKEN = "verbs-token"
SPEC = ("name: rerun\nbase: {run: {iterations: 100}}\n"
        "variants: [{name: dacs, overrides: {uda.rcs.enabled: false}}, {name: rcs}]\nseeds: [0, 1]\n")


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The app on a free loopback port; the CLI's environment points at it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'verbs.db'}", api_token=TOKEN))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    monkeypatch.setenv("ABLATE_API_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("ABLATE_API_TOKEN", TOKEN)
    monkeypatch.chdir(tmp_path)
    yield app
    server.should_exit = True
    thread.join(timeout=10)


def _finish_all(app: Any, experiment_id: int, miou: dict[tuple[str, int], float]) -> list[int]:
    """Finish every trial of the experiment as the dispatcher would, with the given final mIoU."""
    with app.state.sessions.begin() as session:
        ids = []
        for t in trials.list_trials(session, experiment_id):
            trials.set_trial_status(session, t.id, TrialStatus.RUNNING)
            value = miou[(t.variant, t.seed)]
            trials.record_eval_point(session, t.id, 100, {"road": value + 10, "rider": value - 10}, value)
            per_class = {"road": value + 10, "rider": value - 10}
            trials.finish_trial(session, t.id, TrialStatus.SUCCEEDED, final_miou=value,
                                final_per_class=per_class, best_miou=value, best_step=100)
            ids.append(t.id)
    return ids


def test_submit_accepts_a_preset_file(api: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    quickstart = PRESETS_DIR / "quickstart.yaml"
    assert run(["submit", str(quickstart), "--dry-run"]) == 0
    assert "quickstart: 3 trials" in capsys.readouterr().out
    strategies = PRESETS_DIR / "strategies.yaml"
    assert run(["submit", str(strategies), "--dry-run"]) == 2
    assert "choose one with --benchmark" in capsys.readouterr().err
    assert run(["submit", str(strategies), "--benchmark", "synthia", "--dry-run"]) == 0
    assert "strategies_synthia: 30 trials" in capsys.readouterr().out
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    assert run(["submit", str(spec), "--benchmark", "gta"]) == 2
    assert "--benchmark applies to preset files" in capsys.readouterr().err


def test_presets_list_and_show(api: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["presets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "TRIALS", "TABLE"]
    expected = {p.name: (p.n_trials, p.title) for p in list_presets()}
    shown = {line.split()[0]: (int(line.split()[1]), line.split(None, 2)[2]) for line in lines[1:]}
    assert shown == expected
    assert run(["presets", "quickstart"]) == 0
    out = capsys.readouterr().out
    assert "trials: 3" in out and "source_only" in out and "baseline: source_only" in out
    assert run(["presets", "quickstart", "--spec"]) == 0
    (tmp_path / "mine.yaml").write_text(capsys.readouterr().out)
    assert run(["submit", str(tmp_path / "mine.yaml"), "--dry-run"]) == 0
    assert "quickstart: 3 trials" in capsys.readouterr().out
    assert run(["presets", "nope"]) == 2 and "unknown preset 'nope'" in capsys.readouterr().err


def test_retry_requeues_cancelled_trials(api: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "spec.yaml").write_text(SPEC)
    assert run(["submit", "spec.yaml"]) == 0 and run(["cancel", "1"]) == 0
    capsys.readouterr()
    assert run(["retry", "1"]) == 0
    assert capsys.readouterr().out.strip() == "experiment 1 rerun: queued (4 trials queued)"
    assert run(["retry", "99"]) == 2


def test_compare_two_runs_side_by_side(api: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "spec.yaml").write_text(SPEC)
    assert run(["submit", "spec.yaml"]) == 0 and run(["submit", "spec.yaml", "--name", "rerun2"]) == 0
    _finish_all(api, 1, {("dacs", 0): 50.0, ("dacs", 1): 52.0, ("rcs", 0): 55.0, ("rcs", 1): 57.0})
    _finish_all(api, 2, {("dacs", 0): 51.0, ("dacs", 1): 53.0, ("rcs", 0): 54.0, ("rcs", 1): 54.0})
    capsys.readouterr()
    assert run(["compare", "1", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "| Row | A: 1 rerun | B: 2 rerun2 | B − A | p (Welch) |"
    # dacs: A 51.0 ± 1.4 (std of 50, 52), B 52.0 ± 1.4: +1.0; Welch t = 1/sqrt(2/2+2/2) = 0.707,
    # df = 2 -> p = 0.553. rcs: A 56.0 ± 1.4, B 54.0 ± 0.0: -2.0.
    assert out[3] == "| dacs | 51.0 ± 1.4 (n=2) | 52.0 ± 1.4 (n=2) | +1.0 | 0.553 |"
    assert out[4].startswith("| rcs | 56.0 ± 1.4 (n=2) | 54.0 ± 0.0 (n=2) | -2.0 |")


@pytest.mark.slow  # an MLflow SQLite store is created and migrated (~20 s)
def test_download_experiment_and_trial(api: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "spec.yaml").write_text(SPEC)
    assert run(["submit", "spec.yaml"]) == 0
    ids = _finish_all(api, 1, {("dacs", 0): 50.0, ("dacs", 1): 52.0, ("rcs", 0): 55.0, ("rcs", 1): 57.0})
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow_client = mlflow.MlflowClient(tracking_uri=store)
    experiment = mlflow_client.create_experiment("verbs", artifact_location=str(tmp_path / "mlartifacts"))
    run_id = mlflow_client.create_run(experiment).info.run_id
    weights = tmp_path / "model_final.pt"
    weights.write_bytes(b"weights of dacs/seed=0")
    mlflow_client.log_artifact(run_id, str(weights), "checkpoints/final")
    with api.state.sessions.begin() as session:
        trials.get_trial(session, ids[0]).mlflow_run_id = run_id

    assert run(["download", "1", "--mlflow-uri", store]) == 0
    out = tmp_path / "experiment-1"
    for kind in ("ablation", "per_class", "architecture"):
        assert {p.suffix for p in (out / "tables").glob(f"{kind}.*")} == {".md", ".csv", ".tex", ".json"}
    assert len(list((out / "figures").glob("*.png"))) == 3 and len(list((out / "figures").glob("*.svg"))) == 3
    assert (out / "figures" / "miou_curves.png").read_bytes()[:4] == b"\x89PNG"
    name = "dacs_seed=0"
    assert (out / "checkpoints" / name / "checkpoints" / "final" / "model_final.pt").read_bytes() == (
        b"weights of dacs/seed=0")
    assert "no MLflow run" in capsys.readouterr().out  # the other trials have no run: said, not an error

    assert run(["download", str(ids[0]), "--trial", "--out", "t", "--mlflow-uri", store]) == 0
    assert (tmp_path / "t" / "trial.json").is_file()
    assert (tmp_path / "t" / "checkpoints" / name / "checkpoints" / "final" / "model_final.pt").is_file()
    assert run(["download", str(ids[0]), "--trial", "--out", "u", "--mlflow-uri", f"sqlite:///{tmp_path}/none.db"]) == 1
    assert "no checkpoints from MLflow" in capsys.readouterr().err
