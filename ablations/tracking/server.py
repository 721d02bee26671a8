"""An embedded MLflow tracking server in a subprocess, for the embedded demo and the tests.

``mlflow server`` with one worker, a SQL (or file) backend store and proxied artifacts
(``--serve-artifacts --artifacts-destination``), so clients only ever need the HTTP address.
MLflow's background job runner is switched off (``MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false``):
it would start extra processes the ablation service has no use for. The server runs in its own
process group so ``stop()`` ends the uvicorn worker with it, and its output (including the
uvicorn access log, one line per request) goes to a log file, which the tests read to count
requests.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class MlflowServer:
    """A running ``mlflow server`` subprocess; ``stop()`` it (or use it as a context manager)."""

    process: subprocess.Popen[bytes]
    host: str
    port: int
    log_path: Path
    _log_file: object = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def is_healthy(self, timeout_s: float = 2.0) -> bool:
        """True when ``GET /health`` answers 200."""
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=timeout_s) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def log_text(self) -> str:
        """Everything the server has written so far (startup messages and the access log)."""
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGTERM the server's process group, SIGKILL it if it has not exited within ``timeout_s``."""
        if self.process.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.process.wait(timeout=timeout_s)
        close = getattr(self._log_file, "close", None)
        if close is not None:
            close()

    def _signal_group(self, sig: signal.Signals) -> None:
        try:
            os.killpg(self.process.pid, sig)
        except ProcessLookupError:
            pass

    def __enter__(self) -> MlflowServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_mlflow_server(
    backend_store_uri: str,
    artifacts_dir: str | Path,
    host: str = "127.0.0.1",
    port: int | None = None,
    *,
    log_path: Path | None = None,
    startup_timeout_s: float = 90.0,
) -> MlflowServer:
    """Start ``mlflow server`` and wait until ``/health`` answers; raise RuntimeError with its log if not.

    ``port=None`` picks a free port. The server binds ``host`` (keep 127.0.0.1 unless it must be
    reached from other machines).
    """
    port = port or free_port(host)
    if log_path is None:
        handle, name = tempfile.mkstemp(prefix=f"mlflow-server-{port}-", suffix=".log")
        os.close(handle)
        log_path = Path(name)
    command = [
        *(sys.executable, "-m", "mlflow", "server"),
        *("--host", host, "--port", str(port), "--workers", "1"),
        *("--backend-store-uri", backend_store_uri),
        *("--artifacts-destination", str(artifacts_dir), "--serve-artifacts"),
    ]
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "PYTHONUNBUFFERED": "1"}
    log_file = log_path.open("ab")
    process = subprocess.Popen(
        command, stdout=log_file, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    server = MlflowServer(process=process, host=host, port=port, log_path=log_path, _log_file=log_file)
    deadline = time.monotonic() + startup_timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            server.stop()
            raise RuntimeError(
                f"mlflow server exited with code {process.returncode}:\n{server.log_text()[-3000:]}"
            )
        if server.is_healthy(timeout_s=1.0):
            return server
        time.sleep(0.3)
    server.stop()
    raise RuntimeError(
        f"mlflow server on port {port} not healthy after {startup_timeout_s} s:\n{server.log_text()[-3000:]}"
    )
