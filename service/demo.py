"""``make demo``: the quickstart ablation end to end on this machine, driven as a user would.

Generates the synthetic benchmark (once), starts the embedded stack (SQLite database, a local
MLflow server with its UI, the API and the dispatcher with its local Ray), submits the
quickstart preset over HTTP, shows live progress per trial, prints the ablation table and the
URLs, then keeps serving until Ctrl-C (or exits with ``--exit``, or without a terminal, once
the experiment's runs, tables and figures are in MLflow: its ``tracking_status`` is complete).
A second run reuses the data, the database and the finished experiment (Idempotency-Key).
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx

STATE = Path(".ablate")
DATA = Path("data/synthetic")
PRETRAINED = Path("data/pretrained/mit_b0_standin.pth")
"""The synthetic presets' encoder weights (``model.pretrained``), pretrained on the ImageNet stand-in."""


def say(text: str) -> None:
    sys.stdout.write(f"\n== {text}\n")
    sys.stdout.flush()


def _port(preferred: int) -> int:
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", preferred)) != 0:
            return preferred
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        return int(free.getsockname()[1])


def ensure_data() -> None:
    if (DATA / "gta" / "sample_class_stats.json").is_file() and (DATA / "cityscapes" / "leftImg8bit" / "val").is_dir():
        say(f"synthetic benchmark: reusing {DATA}")
        return
    say(f"synthetic benchmark: generating {DATA} (about 20 s)")
    subprocess.run([sys.executable, "-m", "trainer.data.synthetic", str(DATA), "--workers", "2"], check=True)


def ensure_pretrained() -> None:
    """Pretrain the demo's MiT-B0 on the ImageNet stand-in once (``python -m trainer.pretrain``), cached."""
    if PRETRAINED.is_file():
        say(f"pretrained encoder: reusing {PRETRAINED}")
        return
    say(f"pretrained encoder: MiT-B0 on the ImageNet stand-in -> {PRETRAINED} (a few minutes, once)")
    subprocess.run([sys.executable, "-m", "trainer.pretrain", str(PRETRAINED)], check=True)


def _token() -> str:
    path = STATE / "demo_token"
    if not path.is_file():
        STATE.mkdir(exist_ok=True)
        path.write_text(secrets.token_urlsafe(24))
        path.chmod(0o600)
    return path.read_text().strip()


@contextmanager
def _process(name: str, argv: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """A background process of the stack, logging to .ablate/logs/NAME.log, stopped on exit."""
    logs = STATE / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with (logs / f"{name}.log").open("ab") as log:
        process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)


def _wait_healthy(url: str, process: subprocess.Popen[bytes], name: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{name} exited (code {process.returncode}); see {STATE}/logs/{name}.log")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{name} did not become healthy in {timeout_s:.0f} s; see {STATE}/logs/{name}.log")


PUBLISH_TIMEOUT_S = 300.0
"""How long the demo waits for the dispatcher to publish to MLflow before it stops the stack."""


def wait_published(client: Any, experiment_id: int, timeout_s: float = PUBLISH_TIMEOUT_S) -> bool:
    """Wait until the experiment's tracking is complete (runs ended, tables and figures in MLflow).

    Stopping the stack before that would cut the dispatcher off mid-publication; what is left is
    kept in the database and published by the next dispatcher, which the message says.
    """
    deadline = time.monotonic() + timeout_s
    experiment = client.experiment(experiment_id)
    while experiment["tracking_status"] != "complete" and time.monotonic() < deadline:
        time.sleep(1.0)
        experiment = client.experiment(experiment_id)
    if experiment["tracking_status"] == "complete":
        say(f"experiment {experiment_id}: published to MLflow (every run ended, curves, checkpoints, tables, "
            "figures)")
        return True
    say(f"experiment {experiment_id}: MLflow publication still pending after {timeout_s:.0f} s "
        f"({experiment['tracking_detail']}); the next `make demo` (its dispatcher) finishes it")
    return False


def run(preset: str, stay: bool) -> int:
    from ablations.tracking import start_mlflow_server
    from service.client import ApiClient
    from service.watch import watch

    ensure_data()
    ensure_pretrained()
    token = _token()
    api_port, mlflow_port = _port(8000), _port(5000)
    api_url, mlflow_url = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{mlflow_port}"
    env = {**os.environ, "ABLATE_API_TOKEN": token, "ABLATE_PROTECT_READS": "false",
           "ABLATE_MLFLOW_TRACKING_URI": mlflow_url, "ABLATE_PORT": str(api_port),
           "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    with ExitStack() as stack:
        say(f"MLflow server (UI) on {mlflow_url}")
        (STATE / "logs").mkdir(parents=True, exist_ok=True)
        stack.enter_context(start_mlflow_server(f"sqlite:///{STATE / 'mlflow.db'}", STATE / "mlartifacts",
                                                port=mlflow_port, log_path=STATE / "logs" / "mlflow.log"))
        say(f"API on {api_url} (SQLite {STATE / 'ablate.db'})")
        api = stack.enter_context(_process("api", [sys.executable, "-m", "service", "serve"], env))
        _wait_healthy(f"{api_url}/healthz", api, "api")
        say("dispatcher with a local Ray")
        stack.enter_context(_process("dispatcher", [sys.executable, "-m", "service", "dispatcher"], env))

        client = ApiClient(api_url, token)
        experiment = client.submit({"preset": preset}, idempotency_key=f"demo-{preset}-v1")
        experiment_id = experiment["id"]
        if experiment["status"] in ("failed", "cancelled"):
            say(f"experiment {experiment_id} was {experiment['status']}: retrying its failed and cancelled trials")
            client.request("POST", f"/experiments/{experiment_id}/retry")
        say(f"experiment {experiment_id} '{experiment['name']}': {experiment['trials_total']} trials "
            f"(POST /experiments, preset {preset})")
        status = watch(client, experiment_id)
        say(f"experiment {experiment_id}: {status}")
        wait_published(client, experiment_id)
        sys.stdout.write(client.text(f"/experiments/{experiment_id}/table", format="markdown") + "\n")
        say("where to look")
        sys.stdout.write(
            f"API docs:     {api_url}/docs\n"
            f"report page:  {api_url}/experiments/{experiment_id}/report\n"
            f"MLflow UI:    {mlflow_url}\n"
            f"CLI:          export ABLATE_API_URL={api_url} ABLATE_API_TOKEN=$(cat {STATE}/demo_token)\n"
            f"              .venv/bin/ablate table {experiment_id} --format latex\n"
        )
        if stay:
            say("serving until Ctrl-C")
            signal.pause()
    return 0 if status == "succeeded" else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__)
    parser.add_argument("--exit", action="store_true", help="stop the stack after printing the table")
    parser.add_argument("--preset", default="quickstart", help="the preset to run (default: quickstart)")
    args = parser.parse_args(argv)
    stay = not args.exit and sys.stdin.isatty() and os.environ.get("CI") is None
    try:
        return run(args.preset, stay)
    except KeyboardInterrupt:
        say("stopped (Ctrl-C); a second `make demo` resumes where this one left off")
        return 130


if __name__ == "__main__":
    sys.exit(main())
