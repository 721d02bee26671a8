"""Throughput and latency of the API on loopback: POST /experiments (a 63-trial grid) and
GET /experiments/{id}/results with 1,000 trials stored, on SQLite and PostgreSQL.

    .venv/bin/python bench/bench_api.py [--clients 8] [--requests 200] [--seconds 30]

uvicorn serves `create_app` on a free 127.0.0.1 port in this process (one worker, the default
deployment); `--clients` threads each with its own HTTP connection send requests until
`--requests` are done or `--seconds` pass. PostgreSQL is a throwaway server started from
/usr/lib/postgresql/15/bin (as `nobody` under root), or `--postgresql-url` of an existing one.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn

from service.app import create_app
from service.settings import Settings

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
GRID_1000 = {
    "name": "bench1000",
    "base": {"run": {"iterations": 1000}},
    "variants": [
        {"name": f"v{i}", "overrides": {"uda.pseudo_label.threshold": 0.9 + i / 100}} for i in range(10)
    ],
    "sweeps": [{"key": "uda.rcs.temperature", "values": [0.01, 0.1, 1.0, 10.0]}],
    "seeds": list(range(25)),
}


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
    subprocess.run(
        [*wrap, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"],
        check=True,
        capture_output=True,
        cwd=root,
    )
    subprocess.run(
        [
            *wrap,
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(root / "log"),
            "-w",
            "-o",
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections=100",
            "start",
        ],
        check=True,
        capture_output=True,
        cwd=root,
    )
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*wrap, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
            capture_output=True,
            cwd=root,
        )
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def serve(database_url: str) -> Iterator[str]:
    settings = Settings(database_url=database_url, api_token=TOKEN, max_trials=1000)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def load(
    url: str, send: Callable[[httpx.Client], httpx.Response], clients: int, requests: int, seconds: float
) -> dict[str, float]:
    latencies: list[float] = []
    errors = [0]
    lock, deadline = threading.Lock(), time.monotonic() + seconds
    remaining = [requests]

    def worker() -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60) as client:
            while time.monotonic() < deadline:
                with lock:
                    if remaining[0] <= 0:
                        return
                    remaining[0] -= 1
                start = time.perf_counter()
                ok = send(client).status_code < 300
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
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [latencies[0]] * 99
    return {
        "n": len(latencies),
        "errors": errors[0],
        "rps": len(latencies) / wall,
        "p50_ms": q[49] * 1000,
        "p99_ms": q[98] * 1000,
    }


def bench(name: str, database_url: str, args: argparse.Namespace) -> None:
    with serve(database_url) as url:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120) as client:
            big = client.post("/experiments", json=GRID_1000)
            big.raise_for_status()
            big_id = big.json()["id"]
        post = load(
            url, lambda c: c.post("/experiments", json=GRID_63), args.clients, args.requests, args.seconds
        )
        get = load(
            url, lambda c: c.get(f"/experiments/{big_id}/results"), args.clients, args.requests, args.seconds
        )
    for label, r in (("POST /experiments (63 trials)", post), ("GET results (1000 trials)", get)):
        print(
            f"{name:<10} {label:<32} n={r['n']:<5} err={r['errors']:<3} {r['rps']:7.1f} req/s  "
            f"p50 {r['p50_ms']:7.1f} ms  p99 {r['p99_ms']:7.1f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--postgresql-url", help="an empty database to use instead of a throwaway server")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench("sqlite", f"sqlite:///{tmp}/bench.db", args)
    if args.postgresql_url:
        bench("postgresql", args.postgresql_url, args)
    else:
        with postgresql() as url:
            bench("postgresql", url, args)


if __name__ == "__main__":
    main()
