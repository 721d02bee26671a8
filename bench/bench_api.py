"""Latency of the control plane on loopback, on SQLite and PostgreSQL, while a dispatcher writes.

    .venv/bin/python bench/bench_api.py [--clients 8] [--requests 200] [--seconds 30]
        [--sizes 100,1000,10000] [--mlflow-trials 1000] [--databases sqlite,postgresql]

The API (`create_app`, one uvicorn worker, the default deployment) runs in its own process;
`--clients` threads each with its own HTTP connection send requests until `--requests` are done
or `--seconds` pass. Per database:
- POST /experiments of a 63-trial grid (8 clients), and of a grid of each size (one at a time);
- for each size, an experiment of that many trials (19 per-class IoUs and a 10-point curve
  each, 16 still running, see api_data.py), then GET results, tables (every kind and format in
  turn), status and the report page, each under load *while a second process writes progress
  for the 16 running trials* (a row per trial and second, an evaluation every 10th), as the
  dispatcher does; "cold" is the first request after the experiment was stored (nothing cached;
  the tables' figure is the first kind and format, the other eleven are then asked once each);
- the API process's resident memory (peak) after each size.
`--mlflow-trials N` also starts a real local `mlflow server`, logs N trials to it and rebuilds
the GET results answer from it (search_runs + one metric history per run), timed side by side.
PostgreSQL is a throwaway server from /usr/lib/postgresql/15/bin (as `nobody` under root), or
`--postgresql-url` of an existing empty database.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from api_data import create_experiment, grid, write_progress

from service.db.engine import make_engine
from service.db.migrate import upgrade_head

TOKEN = "bench"
GRID_63 = {
    "name": "bench63",
    "base": {"run": {"iterations": 1000}},
    "variants": [
        {"name": f"v{i}", "overrides": {"uda.pseudo_label.threshold": 0.9 + i / 100}} for i in range(7)
    ],
    "sweeps": [{"key": "uda.rcs.temperature", "values": [0.01, 0.1, 1.0]}],
    "seeds": [0, 1, 2],
}


def grid_63(index: int) -> dict[str, object]:
    """GRID_63 with its own iteration count per request: every POST resolves its cells afresh (the
    service keeps resolved configs, and identical grids would measure that cache, not a new grid)."""
    return {**GRID_63, "base": {"run": {"iterations": 1000 + index}}}
TABLES = [(kind, fmt) for kind in ("ablation", "per_class", "architecture")
          for fmt in ("json", "markdown", "csv", "latex")]
Send = Callable[[httpx.Client, int], httpx.Response]
ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def postgresql(bin_dir: Path = Path("/usr/lib/postgresql/15/bin")) -> Iterator[str]:
    root = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    wrap = ["runuser", "-u", "nobody", "--"] if os.geteuid() == 0 else []
    if wrap:
        shutil.chown(root, "nobody", "nogroup")
    port, data = _free_port(), root / "data"
    run = {"check": True, "capture_output": True, "cwd": root}
    subprocess.run([*wrap, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"],
                   **run)  # type: ignore[call-overload]
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections=100"
    subprocess.run([*wrap, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-o", options,
                    "start"], **run)  # type: ignore[call-overload]
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*wrap, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
                       capture_output=True, cwd=root)
        shutil.rmtree(root, ignore_errors=True)


SERVER = """
import gc
import uvicorn
import api_data
from service.app import create_app
api_data.roomy_storage()
from service.settings import Settings
settings = Settings(database_url={url!r}, api_token={token!r}, max_trials={max_trials}, max_body_bytes=10_000_000)
app = create_app(settings)
gc.freeze()  # as `ablate serve` does
uvicorn.run(app, host="127.0.0.1", port={port}, log_level="warning")
"""


@contextmanager
def serve(database_url: str, max_trials: int) -> Iterator[tuple[str, int]]:
    """The API in its own process; yields (base URL, pid)."""
    port = _free_port()
    code = SERVER.format(url=database_url, token=TOKEN, max_trials=max_trials, port=port)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "bench")])}
    process = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the API did not start")
            time.sleep(0.2)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def memory_mib(pid: int) -> tuple[float, float]:
    """(resident, peak resident) MiB of process ``pid``."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def load(url: str, send: Send, clients: int, requests: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    errors = [0]
    lock, deadline = threading.Lock(), time.monotonic() + seconds
    sent = [0]

    def worker() -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120) as client:
            while time.monotonic() < deadline:
                with lock:
                    if sent[0] >= requests:
                        return
                    index = sent[0]
                    sent[0] += 1
                start = time.perf_counter()
                ok = send(client, index).status_code < 300
                elapsed = time.perf_counter() - start
                with lock:
                    latencies.append(elapsed)
                    errors[0] += 0 if ok else 1

    began = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - began
    q = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else [latencies[0]] * 99
    return {"n": len(latencies), "errors": errors[0], "rps": len(latencies) / wall,
            "p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000}


def row(db: str, label: str, r: dict[str, float], extra: str = "") -> None:
    print(f"{db:<10} {label:<40} n={r['n']:<5} err={r['errors']:<3} {r['rps']:7.1f} req/s  "
          f"p50 {r['p50_ms']:8.1f} ms  p99 {r['p99_ms']:8.1f} ms {extra}", flush=True)


def timed(url: str, method: str, path: str, **kwargs: object) -> float:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=600) as client:
        start = time.perf_counter()
        client.request(method, path, **kwargs).raise_for_status()  # type: ignore[arg-type]
        return (time.perf_counter() - start) * 1000


def reads(eid: int) -> dict[str, Send]:
    base = f"/experiments/{eid}"
    return {
        "GET results": lambda c, i: c.get(f"{base}/results"),
        "GET table (12 kinds x formats)": lambda c, i: c.get(
            f"{base}/table", params={"kind": TABLES[i % 12][0], "format": TABLES[i % 12][1]}),
        "GET status": lambda c, i: c.get(f"{base}/status"),
        "GET report": lambda c, i: c.get(f"{base}/report"),
    }


def bench_size(db: str, database_url: str, url: str, pid: int, size: int, args: argparse.Namespace) -> dict[str, float]:
    repeats = 3 if size <= 1000 else 1
    bodies = [{**grid(size, f"post{size}-{k}"), "base": {"run": {"iterations": 2000 + k}}} for k in range(repeats)]
    posts = [timed(url, "POST", "/experiments", json=body) for body in bodies]  # distinct grids: resolved afresh
    print(f"{db:<10} {f'POST /experiments ({size} trials), 1 client':<40} median {statistics.median(posts):8.1f} ms  "
          f"({len(posts)} posts: {', '.join(f'{p:.0f}' for p in posts)})", flush=True)
    engine = make_engine(database_url)
    eid = create_experiment(engine, size)
    engine.dispose()
    cold: dict[str, tuple[Send, float]] = {}
    for label, send in reads(eid).items():
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=600) as client:
            start = time.perf_counter()
            send(client, 0).raise_for_status()
            cold[label] = (send, (time.perf_counter() - start) * 1000)
            for i in range(1, 12 if label.startswith("GET table") else 1):  # every kind and format once
                send(client, i).raise_for_status()
    context = multiprocessing.get_context("spawn")
    stop, writes = context.Event(), context.Value("i", 0)
    writer = context.Process(target=write_progress, args=(database_url, eid, stop, writes), daemon=True)
    writer.start()
    measured: dict[str, float] = {}
    try:
        deadline = time.monotonic() + 120
        while writes.value < 16 and time.monotonic() < deadline:  # the writer process is up and writing
            time.sleep(0.2)
        for label, (send, cold_ms) in cold.items():
            before, began = writes.value, time.perf_counter()
            r = load(url, send, args.clients, args.requests, args.seconds)
            rate = (writes.value - before) / (time.perf_counter() - began)
            row(db, f"{label} ({size} trials)", r, f"cold {cold_ms:7.1f} ms  writer {rate:4.1f} writes/s")
            measured[label] = r["p50_ms"]
    finally:
        stop.set()
        writer.join(timeout=30)
    rss, peak = memory_mib(pid)
    label = f"API process memory after {size} trials"
    print(f"{db:<10} {label:<40} rss {rss:7.1f} MiB  peak {peak:7.1f} MiB", flush=True)
    return measured


def bench(db: str, database_url: str, args: argparse.Namespace) -> dict[int, dict[str, float]]:
    if db == "postgresql":
        upgrade_head(database_url)
    measured = {}
    with serve(database_url, max(args.sizes)) as (url, pid):
        send: Send = lambda c, i: c.post("/experiments", json=grid_63(i))  # noqa: E731
        post = load(url, send, args.clients, args.requests, args.seconds)
        row(db, "POST /experiments (63 trials)", post)
        for size in args.sizes:
            measured[size] = bench_size(db, database_url, url, pid, size, args)
    return measured


def compare_mlflow(trials: int, ours: dict[str, dict[int, dict[str, float]]]) -> None:
    from api_mlflow import log_trials, mlflow_server, results_from_mlflow

    with mlflow_server() as url:
        experiment_id, logging_s = log_trials(url, trials)
        times = []
        for _ in range(3):
            start = time.perf_counter()
            rows = results_from_mlflow(url, experiment_id)
            times.append((time.perf_counter() - start) * 1000)
    assert len(rows) == trials
    best = min(times)
    print(f"mlflow     GET results rebuilt from MLflow ({trials} trials)    best of 3 {best:9.1f} ms "
          f"(logging them took {logging_s:.0f} s)")
    for db, sizes in ours.items():
        if trials in sizes:
            p50 = sizes[trials]["GET results"]
            print(f"{db:<10} GET results p50 {p50:.1f} ms under load: {best / p50:,.0f}x faster than MLflow")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--sizes", default="1000", help="comma-separated trial counts (multiples of 4)")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--mlflow-trials", type=int, default=0, help="0: no MLflow comparison")
    parser.add_argument("--postgresql-url", help="an empty database to use instead of a throwaway server")
    args = parser.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(",")]
    print(f"machine: {os.cpu_count()} CPUs, load average {_load()} at the start", flush=True)
    ours: dict[str, dict[int, dict[str, float]]] = {}
    for db in args.databases.split(","):
        if db == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                ours[db] = bench(db, f"sqlite:///{tmp}/bench.db", args)
        elif args.postgresql_url:
            ours[db] = bench(db, args.postgresql_url, args)
        else:
            with postgresql() as url:
                ours[db] = bench(db, url, args)
    if args.mlflow_trials:
        compare_mlflow(args.mlflow_trials, ours)
    print(f"load average {_load()} at the end (1, 5, 15 min)", flush=True)


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
