"""Shared fixtures: a real PostgreSQL server for the session, and a fresh database per test.

`db_url` is parametrized over SQLite (the embedded default, a new file per test) and PostgreSQL
(a new database per test on one server started from the system's PostgreSQL 15 binaries with
initdb + pg_ctl on a free loopback port). initdb refuses to run as root, so under root (CI
containers) the server runs as `nobody` from a temporary folder owned by it. Missing binaries
fail the tests with the fix instead of skipping them: the database is part of what is tested.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

PG_BIN = Path(os.environ.get("ABLATE_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_server_user(argv: list[str]) -> list[str]:
    """initdb and postgres refuse root: run them as `nobody` when we are root."""
    return ["runuser", "-u", "nobody", "--", *argv] if os.geteuid() == 0 else argv


@pytest.fixture(scope="session")
def postgresql_server() -> Iterator[str]:
    """A PostgreSQL server for the whole test session; yields its base URL (no database)."""
    if not (PG_BIN / "initdb").is_file() or not (PG_BIN / "pg_ctl").is_file():
        pytest.fail(
            f"PostgreSQL server binaries not found in {PG_BIN}: run `apt-get install postgresql` "
            "(or point ABLATE_TEST_PG_BIN at the folder holding initdb and pg_ctl)"
        )
    root = Path(tempfile.mkdtemp(prefix="ablate-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "nobody", "nogroup")
    data, port = root / "data", _free_port()
    run = {"check": True, "capture_output": True, "text": True, "cwd": root}
    try:
        subprocess.run(
            _as_server_user(
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(data),
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ]
            ),
            **run,
        )  # type: ignore[call-overload]
        options = (
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        subprocess.run(
            _as_server_user(
                [
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(data),
                    "-o",
                    options,
                    "-l",
                    str(root / "server.log"),
                    "-w",
                    "start",
                ]
            ),
            **run,
        )  # type: ignore[call-overload]
    except subprocess.CalledProcessError as exc:
        log = (root / "server.log").read_text() if (root / "server.log").exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"could not start PostgreSQL: {exc.stderr or exc.stdout}\n{log}")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(
            _as_server_user([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
            cwd=root,
        )
        shutil.rmtree(root, ignore_errors=True)


def _admin(server: str, sql: str) -> None:
    import psycopg

    dsn = server.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


@pytest.fixture
def postgresql_url(postgresql_server: str) -> Iterator[str]:
    """A new, empty database on the session's server, dropped after the test."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    _admin(postgresql_server, f"CREATE DATABASE {name}")
    yield f"{postgresql_server}/{name}"
    _admin(postgresql_server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ablate.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh, empty database of each kind the service supports."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
def migrated_url(db_url: str) -> str:
    """`db_url` with the service's schema migrated to head."""
    from service.db.migrate import upgrade_head

    upgrade_head(db_url)
    return db_url


@pytest.fixture
def engine(migrated_url: str) -> Iterator[Any]:
    from service.db.engine import make_engine

    engine = make_engine(migrated_url)
    yield engine
    engine.dispose()


API_TOKEN = "test-token"


@pytest.fixture
def api(db_url: str) -> Iterator[Any]:
    """A TestClient of the service on a fresh database (migrated by the app's own lifespan)."""
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.settings import Settings

    settings = Settings(
        database_url=db_url,
        api_token=API_TOKEN,
        mlflow_ui_url="http://mlflow.test",
        max_trials=50,
        max_body_bytes=64_000,
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {API_TOKEN}"
        yield client


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture
def artifacts_dir() -> Path:
    """tests/artifacts/: screenshots and other files a test run keeps for people to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def chromium_page() -> Iterator[tuple[Any, list[str]]]:
    """A page in Debian's headless Chromium (driven by Playwright) and the console errors it logs.

    Chromium is part of what is tested: without it the test fails with the install command.
    """
    import shutil

    chromium = "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else shutil.which("chromium")
    if chromium is None:
        pytest.fail("Chromium not found: install it with `apt-get update && apt-get install -y chromium "
                    "chromium-driver` (.ci/run does)")
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            yield page, errors
        finally:
            browser.close()
