"""The `ablate` command line: user errors exit 2 with a message, bodies are built right, and the
HTTP client turns refusals into readable errors (against the real app)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from service.app import create_app
from service.cli import build_parser, run, submission_body
from service.client import ApiClient
from service.settings import Settings


def test_missing_spec_file_is_a_user_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["submit", str(tmp_path / "missing.yaml")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_unreachable_api_is_reported_without_a_trace(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ABLATE_API_URL", "http://127.0.0.1:9")
    assert run(["ls"]) == 1
    err = capsys.readouterr().err
    assert "cannot reach the API" in err and "Traceback" not in err


def test_bad_arguments_exit_2() -> None:
    with pytest.raises(SystemExit) as exc:
        run(["submit", "--preset", "quickstart", "--seeds", "a,b"])
    assert exc.value.code == 2


def test_submission_body_applies_overrides(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: x\nvariants: [{name: a}]\nseeds: [0]\nbase: {run: {eval_interval: 5}}\n")
    args = build_parser().parse_args(["submit", str(spec), "--seeds", "1,2", "--iterations", "9"])
    assert submission_body(args) == {
        "name": "x",
        "variants": [{"name": "a"}],
        "seeds": [1, 2],
        "base": {"run": {"eval_interval": 5, "iterations": 9}},
    }
    args = build_parser().parse_args(["submit", "--preset", "quickstart", "--seeds", "3"])
    assert submission_body(args) == {"preset": "quickstart", "seeds": [3]}


@pytest.fixture
def live_url(tmp_path: Path) -> Iterator[str]:
    """The app served by uvicorn on a free loopback port (the CLI talks real HTTP)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'cli.db'}", api_token="cli-token")
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_cli_against_a_live_server(
    live_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ABLATE_API_URL", live_url)
    monkeypatch.setenv("ABLATE_API_TOKEN", "cli-token")
    assert run(["submit", "--preset", "quickstart", "--seeds", "0", "--iterations", "5"]) == 0
    assert "experiment 1 " in capsys.readouterr().out
    assert run(["ls"]) == 0 and "queued" in capsys.readouterr().out
    assert run(["show", "1"]) == 0 and "0/5" in capsys.readouterr().out
    assert run(["cancel", "1"]) == 0 and "cancelled" in capsys.readouterr().out
    assert run(["submit", "--preset", "nope"]) == 2
    assert "body.preset" in capsys.readouterr().err
    monkeypatch.setenv("ABLATE_API_TOKEN", "wrong")
    assert run(["cancel", "1"]) == 2 and "bearer token" in capsys.readouterr().err
    client = ApiClient(url=live_url, token="cli-token")
    assert client.experiments(status="cancelled")["items"][0]["id"] == 1
    client.close()
