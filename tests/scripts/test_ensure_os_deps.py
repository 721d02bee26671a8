"""scripts/ensure-os-deps.sh: `make test` sets up the OS packages itself, or stops with the command.

Chromium and PostgreSQL cannot be uninstalled on the machines that run this suite, so a missing
package is simulated by pointing the script at a path that does not exist (ABLATE_TEST_CHROMIUM,
ABLATE_TEST_PG_BIN); the install branch runs a stand-in apt-get (ABLATE_APT_GET) that records
its arguments instead of touching the system.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "ensure-os-deps.sh"


def _executable(path: Path, body: str = "exit 0") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/usr/bin/env bash\n{body}\n")
    path.chmod(0o755)
    return path


def _run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    pg_bin = tmp_path / "pg" / "bin"
    _executable(pg_bin / "initdb")
    _executable(pg_bin / "pg_ctl")
    base = {"ABLATE_TEST_PG_BIN": str(pg_bin), "ABLATE_TEST_CHROMIUM": str(_executable(tmp_path / "chromium"))}
    return subprocess.run(
        ["bash", str(SCRIPT), *args], env={**os.environ, **base, **env}, capture_output=True, text=True, timeout=30
    )


def test_nothing_to_do_when_both_are_present(tmp_path: Path) -> None:
    done = _run(tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_missing_chromium_stops_with_the_one_command(tmp_path: Path) -> None:
    done = _run(tmp_path, ABLATE_TEST_CHROMIUM=str(tmp_path / "no-chromium"), ABLATE_OS_DEPS_INSTALL="0")
    assert done.returncode == 1
    assert "apt-get update && apt-get install -y chromium chromium-driver" in done.stderr


def test_missing_postgresql_named_alone(tmp_path: Path) -> None:
    done = _run(tmp_path, "postgresql", ABLATE_TEST_PG_BIN=str(tmp_path / "nowhere"), ABLATE_OS_DEPS_INSTALL="0")
    assert done.returncode == 1
    assert "apt-get install -y postgresql\n" in done.stderr


def test_only_the_named_dependency_is_checked(tmp_path: Path) -> None:
    done = _run(tmp_path, "postgresql", ABLATE_TEST_CHROMIUM=str(tmp_path / "no-chromium"), ABLATE_OS_DEPS_INSTALL="0")
    assert done.returncode == 0


def test_root_installs_with_apt_get(tmp_path: Path) -> None:
    log = tmp_path / "apt.log"
    apt = _executable(tmp_path / "fake-apt-get", f'echo "$*" >> {log}')
    done = _run(tmp_path, ABLATE_TEST_CHROMIUM=str(tmp_path / "no-chromium"), ABLATE_APT_GET=str(apt))
    if os.geteuid() != 0:  # not root: never installs, says what to run
        assert done.returncode == 1 and not log.exists()
        return
    assert done.returncode == 0, done.stderr
    assert log.read_text().splitlines() == ["update -qq", "install -y -qq chromium chromium-driver"]


def test_unknown_dependency_is_refused(tmp_path: Path) -> None:
    done = _run(tmp_path, "mysql")
    assert done.returncode == 2 and "unknown dependency 'mysql'" in done.stderr


def test_make_test_checks_the_os_first_and_ci_calls_it() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}  # not a sub-make
    dry = subprocess.run(["make", "--no-print-directory", "-n", "test"], cwd=ROOT, capture_output=True, text=True,
                         timeout=30, env=env)
    assert dry.stdout.splitlines()[0] == "scripts/ensure-os-deps.sh postgresql chromium"
    assert (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1] == "make test"
