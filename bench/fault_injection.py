"""Fault injection: one small experiment through the faults of days of unattended training.

The real stack in processes, as `make demo` runs it (API, dispatcher with its local Ray, MLflow
server, SQLite), on a tiny synthetic benchmark (MiT-B0, 64x64 crops), and in order:

1. MLflow is down when the experiment starts (the trials train without live tracking);
2. MLflow comes back;
3. the dispatcher is killed (kill -9, alone) while its trial writes a checkpoint; its runner
   must stop at once; a second dispatcher resumes the experiment after the lease;
4. the trial's Ray worker is killed (kill -9); Tune restarts it from its last checkpoint;
5. the API is killed (kill -9) and restarted;

then it waits until the experiment has ended and its tracking is complete, and counts: every
metric point the database holds in MLflow exactly once, every run ended, the storage size within the
experiment's disk budget (its estimated peak).

    .venv/bin/python bench/fault_injection.py            # about 8 minutes on 2 CPU cores
    .venv/bin/python bench/fault_injection.py --iterations 200 --keep /tmp/faults
"""

from __future__ import annotations

import argparse
import glob
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "execution"))

from execution_helpers import tiny_spec  # noqa: E402

from ablations.tracking import free_port, start_mlflow_server  # noqa: E402
from service.client import ApiClient  # noqa: E402

TOKEN = "fault-injection"
TRACKED_PREFIXES = ("val/", "final/", "best/")


def wait(predicate: Callable[[], bool], timeout_s: float, what: str, interval_s: float = 0.5) -> float:
    """Seconds until ``predicate`` held; SystemExit naming ``what`` after ``timeout_s``."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout_s:
            raise SystemExit(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(interval_s)
    return time.monotonic() - started


class Stack:
    """The processes of the embedded stack, each in its own session, logging under ``root/logs``."""

    def __init__(self, root: Path, database_url: str) -> None:
        self.root = root
        self.api_port, self.mlflow_port = free_port(), free_port()
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        self.mlflow_url = f"http://127.0.0.1:{self.mlflow_port}"
        self.env = {**os.environ, "ABLATE_DATABASE_URL": database_url, "ABLATE_MLFLOW_TRACKING_URI": self.mlflow_url,
                    "ABLATE_STORAGE_PATH": str(root / "tune"), "ABLATE_API_TOKEN": TOKEN,
                    "ABLATE_PORT": str(self.api_port), "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0",
                    "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        (root / "logs").mkdir(parents=True, exist_ok=True)
        self.processes: list[subprocess.Popen[bytes]] = []
        self.mlflow: Any = None

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = (self.root / "logs" / f"{name}.log").open("ab")
        process = subprocess.Popen([sys.executable, "-m", "service", *args], cwd=ROOT, env=self.env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(process)
        return process

    def api(self) -> subprocess.Popen[bytes]:
        process = self.start("api", "serve")
        wait(lambda: _healthy(f"{self.api_url}/healthz"), 120, "the API")
        return process

    def dispatcher(self, name: str) -> subprocess.Popen[bytes]:
        return self.start(name, "dispatcher", "--lease", "5", "--poll-interval", "0.5", "--sync-interval", "3")

    def start_mlflow(self) -> None:
        store = self.root / "mlflow"
        self.mlflow = start_mlflow_server(f"sqlite:///{store / 'mlflow.db'}", store / "artifacts",
                                          port=self.mlflow_port, log_path=self.root / "logs" / "mlflow.log")

    def stop(self) -> None:
        for process in self.processes:
            kill_session(process.pid)
        if self.mlflow is not None:
            self.mlflow.stop()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def session_processes(sid: int) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["pid"]):
        try:
            if os.getsid(process.pid) == sid:
                found.append(process)
        except (ProcessLookupError, psutil.NoSuchProcess, PermissionError):
            continue
    return found


def kill_session(sid: int) -> int:
    """SIGKILL what is left of a process session; returns how many processes that was."""
    left = [p for p in session_processes(sid) if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    for process in left:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            continue
    return len(left)


def trial_workers(sid: int) -> list[psutil.Process]:
    out = []
    for process in session_processes(sid):
        try:
            if "ImplicitFunc" in " ".join(process.cmdline()) + process.name():
                out.append(process)
        except psutil.NoSuchProcess:
            continue
    return out


def runner_of(dispatcher: subprocess.Popen[bytes]) -> psutil.Process | None:
    for child in psutil.Process(dispatcher.pid).children():
        if "service.dispatcher.run_one" in " ".join(child.cmdline()):
            return child
    return None


def kill_during_checkpoint_write(dispatcher: subprocess.Popen[bytes], storage: Path, timeout_s: float) -> str:
    """kill -9 the dispatcher while its trial writes a resume checkpoint (``iter_*.pt.tmp`` in the
    trial's ``train/checkpoints``: in the Ray session's trial folder, or in the Tune storage)."""
    patterns = [f"{tempfile.gettempdir()}/ablate-trials/*/*/checkpoints/iter_*.pt.tmp",  # the trial's scratch
                f"/tmp/ray/session_*_{dispatcher.pid}/artifacts/*/*/*/*/train/checkpoints/iter_*.pt.tmp",
                f"{storage}/*/*/train/checkpoints/iter_*.pt.tmp"]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        writing = [path for pattern in patterns for path in glob.glob(pattern)]
        if writing:
            os.kill(dispatcher.pid, signal.SIGKILL)
            return f"while writing {Path(writing[0]).name}"
        time.sleep(0.005)
    os.kill(dispatcher.pid, signal.SIGKILL)
    return "no write caught in time: killed between checkpoints"


def mlflow_counts(mlflow_url: str, experiment: dict[str, Any], trials: list[dict[str, Any]],
                  details: list[dict[str, Any]]) -> dict[str, Any]:
    """(key, step) pairs the database implies vs what MLflow holds, duplicates, run statuses."""
    from mlflow import MlflowClient

    client = MlflowClient(mlflow_url)
    expected = logged = duplicates = train_points = 0
    missing: list[str] = []
    for trial, detail in zip(trials, details, strict=True):
        run_id = trial["mlflow_run_id"]
        want = Counter()
        for point in detail["curve"]:
            want[("val/mIoU", point["step"])] += 1
            for name, value in point["per_class_iou"].items():
                if value is not None:
                    want[(f"val/iou/{name.replace(' ', '_')}", point["step"])] += 1
        if trial["status"] == "succeeded":
            want[("final/mIoU", trial["progress"]["total"])] += 1
            want[("best/mIoU", trial["progress"]["total"])] += 1
        expected += len(want)
        have: Counter[tuple[str, int]] = Counter()
        for key in client.get_run(run_id).data.metrics:
            for metric in client.get_metric_history(run_id, key):
                have[(key, metric.step)] += 1
        tracked = {k: n for k, n in have.items() if k[0].startswith(TRACKED_PREFIXES)}
        logged += sum(tracked.values())
        train_points += sum(n for k, n in have.items() if not k[0].startswith(TRACKED_PREFIXES))
        duplicates += sum(n - 1 for n in have.values() if n > 1)
        missing += [f"{trial['name']} {key}@{step}" for key, step in want if (key, step) not in have]
    runs = client.search_runs([experiment["mlflow_experiment_id"]])
    statuses = Counter(run.info.status for run in runs)
    return {"expected": expected, "logged": logged, "duplicates": duplicates, "missing": missing,
            "train_points": train_points, "runs": len(runs), "run_statuses": dict(statuses)}


def folder_bytes(path: Path) -> int:
    """Bytes of a file, or of every file under a folder."""
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0


def run(root: Path, iterations: int) -> int:
    from trainer.data.prepare import prepare
    from trainer.data.synthetic.writer import write_dataset

    bench = root / "data"
    write_dataset(bench, (12, 8, 3), (64, 128), seed=0)
    prepare("gta", bench / "gta", workers=1)
    prepare("cityscapes", bench / "cityscapes", workers=1)
    spec = tiny_spec(bench, name="faults", iterations=iterations, variants=[{"name": "full"}])
    spec["base"]["run"].update(eval_interval=20, checkpoint_interval=20, log_interval=5)
    stack = Stack(root, f"sqlite:///{root / 'ablate.db'}")
    facts: dict[str, str] = {}
    steps = tqdm(total=6, desc="faults", unit="fault", dynamic_ncols=True)
    started = time.monotonic()
    try:
        api = stack.api()
        client = ApiClient(stack.api_url, TOKEN)
        first = stack.dispatcher("dispatcher-1")
        experiment_id = int(client.submit(spec)["id"])

        def trial() -> dict[str, Any]:
            return dict(client.trials(experiment_id)[0])

        steps.set_description_str("1 MLflow down at start")
        wait(lambda: trial()["progress"]["iteration"] >= 1, 300, "the trial to start")
        facts["tracking while MLflow was down"] = str(client.experiment(experiment_id)["tracking_status"])
        steps.update()

        steps.set_description_str("2 MLflow back")
        stack.start_mlflow()
        steps.update()

        steps.set_description_str("3 kill -9 dispatcher in a checkpoint write")
        wait(lambda: trial()["progress"]["iteration"] >= 25, 300, "the trial past its first checkpoint")
        runner = runner_of(first)
        facts["dispatcher killed"] = kill_during_checkpoint_write(first, root / "tune", timeout_s=60)
        killed_at = time.monotonic()
        if runner is not None:
            psutil.wait_procs([runner], timeout=30)
            facts["its runner stopped after (s)"] = f"{time.monotonic() - killed_at:.1f}"
        time.sleep(2)
        facts["its trial workers left after 2 s"] = str(len(trial_workers(first.pid)))
        facts["other processes of its session (its local Ray) killed"] = str(kill_session(first.pid))
        progress_at_kill = trial()["progress"]["iteration"]
        second = stack.dispatcher("dispatcher-2")
        facts["resumed after (s)"] = f"{wait(lambda: trial()['attempts'] >= 2, 300, 'the resumption'):.1f}"
        steps.update()

        steps.set_description_str("4 kill -9 the trial's worker")
        wait(lambda: trial()["progress"]["iteration"] >= min(progress_at_kill + 15, iterations - 10), 300,
             "progress after the resumption")
        workers = trial_workers(second.pid)
        if workers:
            workers[0].kill()
            facts["worker killed at iteration"] = str(trial()["progress"]["iteration"])
        steps.update()

        steps.set_description_str("5 kill -9 and restart the API")
        api.kill()
        api.wait()
        stack.api()
        steps.update()

        steps.set_description_str("6 wait for the end and MLflow")
        wait(lambda: client.experiment(experiment_id)["status"] in ("succeeded", "failed", "cancelled"), 600,
             "the experiment to end")
        facts["published to MLflow after the end (s)"] = (
            f"{wait(lambda: client.experiment(experiment_id)['tracking_status'] == 'complete', 300, 'MLflow'):.1f}")
        steps.update()
        steps.close()

        experiment = client.experiment(experiment_id)
        trials = client.trials(experiment_id)
        details = [client.request("GET", f"/trials/{t['id']}") for t in trials]
        counts = mlflow_counts(stack.mlflow_url, experiment, trials, details)
        sizes = {"Tune storage": folder_bytes(root / "tune"), "MLflow store + artifacts": folder_bytes(root / "mlflow"),
                 "service database": sum(folder_bytes(p) for p in root.glob("ablate.db*"))}
        budget = (experiment.get("disk") or {}).get("estimated_peak_bytes")
        within = budget is not None and sizes["Tune storage"] <= budget
        facts["disk budget (estimated peak of the resume checkpoints)"] = (
            f"{budget / 1e6:.2f} MB, Tune storage within it: {'yes' if within else 'NO'}" if budget else "none")
        report(experiment, trials, facts, counts, sizes, time.monotonic() - started)
        ok = (experiment["status"] == "succeeded" and not counts["missing"] and counts["duplicates"] == 0
              and counts["logged"] == counts["expected"] and set(counts["run_statuses"]) == {"FINISHED"}
              and within)
        return 0 if ok else 1
    finally:
        steps.close()
        stack.stop()


def report(experiment: dict[str, Any], trials: list[dict[str, Any]], facts: dict[str, str],
           counts: dict[str, Any], sizes: dict[str, int], seconds: float) -> None:
    lines = [f"experiment {experiment['id']}: {experiment['status']}, tracking {experiment['tracking_status']}",
             *(f"trial {t['name']}: {t['status']}, attempts {t['attempts']}, mIoU {t['final_miou']}" for t in trials),
             *(f"{name}: {value}" for name, value in facts.items()),
             f"metric points (val/, final/, best/) the database holds: {counts['expected']}",
             f"  in MLflow: {counts['logged']}, missing {len(counts['missing'])}, logged twice {counts['duplicates']}",
             f"  training values in MLflow: {counts['train_points']}",
             f"MLflow runs: {counts['runs']} ({', '.join(f'{k} {v}' for k, v in counts['run_statuses'].items())})",
             *(f"storage, {name}: {size / 1e6:.2f} MB" for name, size in sizes.items()),
             f"wall time: {seconds:.0f} s"]
    sys.stdout.write("\n== fault injection summary\n" + "\n".join(lines) + "\n")
    for item in counts["missing"][:10]:
        sys.stdout.write(f"  missing: {item}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=300, help="training iterations of the trial")
    parser.add_argument("--keep", type=Path, default=None, help="a folder to keep the stack's files and logs in")
    args = parser.parse_args(argv)
    if args.iterations < 200:
        parser.error("--iterations must be at least 200 (the trial must outlive the faults)")
    root = args.keep or Path(tempfile.mkdtemp(prefix="ablate-faults-"))
    root.mkdir(parents=True, exist_ok=True)
    sys.stdout.write(f"stack files and logs: {root}\n")
    return run(root.resolve(), args.iterations)


if __name__ == "__main__":
    sys.exit(main())
