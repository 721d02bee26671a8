"""What can be checked of the docker deployment without a Docker engine.

No engine runs on the development and CI machines, so these tests read docker-compose.yml and the
Dockerfiles and check their promises against the project: the commands exist, the environment
matches Settings, ports and volumes are consistent, and everything others wait on has a
healthcheck.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict = COMPOSE["services"]
BIN = Path(sys.executable).parent


def _command(service: dict) -> list[str]:
    command = service.get("command")
    return shlex.split(command) if isinstance(command, str) else list(command or [])


def _mount(spec: str) -> tuple[str, str, str]:
    """(source, target, mode) of a short-syntax volume; the source may hold ``${VAR:-default}``."""
    mode = ""
    if spec.endswith((":ro", ":rw")):
        spec, mode = spec[:-3], spec[-2:]
    source, _, target = spec.rpartition(":")
    return source, target, mode


def _dockerfile(service: dict) -> Path | None:
    build = service.get("build")
    return ROOT / build["dockerfile"] if build else None


def test_expected_services_exist() -> None:
    assert {"postgres", "mlflow", "ray-head", "ray-worker", "dispatcher", "api"} <= set(SERVICES)


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_command_exists_in_the_project(name: str) -> None:
    argv = _command(SERVICES[name])
    if not argv:
        return
    program = argv[0]
    if program == "ablate":
        result = subprocess.run([str(BIN / "ablate"), argv[1], "--help"], capture_output=True, text=True)
        assert result.returncode == 0, f"{name}: `ablate {argv[1]}` is not a command: {result.stderr}"
    elif program in {"ray", "mlflow"}:
        result = subprocess.run([str(BIN / program), argv[1], "--help"], capture_output=True, text=True)
        assert result.returncode == 0, f"{name}: `{program} {argv[1]}` does not exist: {result.stderr[-500:]}"
        if program == "mlflow":
            flags = {a.split("=")[0] for a in argv if a.startswith("--")}
            unknown = [f for f in flags if f not in result.stdout]
            assert not unknown, f"{name}: mlflow server has no {unknown}"
    else:
        pytest.fail(f"{name}: unexpected program {program!r}")


def test_environment_matches_settings() -> None:
    from service.settings import Settings

    prefix = Settings.model_config.get("env_prefix", "")
    fields = {f"{prefix}{field}".upper() for field in Settings.model_fields}
    for name, service in SERVICES.items():
        env = service.get("environment") or {}
        ours = {key for key in env if key.startswith(prefix.upper())}
        unknown = ours - fields
        assert not unknown, f"{name}: {sorted(unknown)} are not Settings fields ({sorted(fields)})"


def test_dependencies_wait_on_healthchecks() -> None:
    for name, service in SERVICES.items():
        for dep, cond in (service.get("depends_on") or {}).items():
            assert dep in SERVICES, f"{name} depends on unknown service {dep}"
            if cond.get("condition") == "service_healthy":
                assert "healthcheck" in SERVICES[dep], f"{name} waits for {dep}, which has no healthcheck"


def test_volumes_are_declared_and_data_is_read_only() -> None:
    declared = set(COMPOSE.get("volumes") or {})
    for name, service in SERVICES.items():
        for mount in service.get("volumes") or []:
            source, target, mode = _mount(mount)
            if not source.startswith((".", "/", "$")):
                assert source in declared, f"{name}: volume {source} is not declared"
            if target in {"/app/data", "/app/pretrained"}:
                assert mode == "ro", f"{name}: datasets and weights must be mounted read-only"


def test_storage_is_shared_by_ray_nodes_and_dispatcher() -> None:
    for name in ("ray-head", "ray-worker", "dispatcher"):
        env = SERVICES[name]["environment"]
        mounts = {_mount(m)[1] for m in SERVICES[name]["volumes"]}
        assert env["ABLATE_STORAGE_PATH"].startswith("/shared/") and "/shared" in mounts


def test_datasets_reach_every_node_where_relative_paths_resolve() -> None:
    """Specs name data/gta etc. relative to the dispatcher's working directory (the image's /app)."""
    assert "WORKDIR /app" in (ROOT / "docker/trainer.Dockerfile").read_text()
    for name in ("ray-head", "ray-worker", "dispatcher"):
        mounts = {_mount(m)[1] for m in SERVICES[name]["volumes"]}
        assert {"/app/data", "/app/pretrained"} <= mounts, name


def test_gpu_workers_reserve_a_gpu() -> None:
    devices = SERVICES["ray-worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert any("gpu" in d["capabilities"] and d["driver"] == "nvidia" for d in devices)


def test_api_port_matches_its_image() -> None:
    api = SERVICES["api"]
    assert "8000:8000" in api["ports"]
    assert "--port 8000" in api["command"]
    assert "EXPOSE 8000" in (ROOT / "docker/api.Dockerfile").read_text()


@pytest.mark.parametrize("dockerfile", sorted((ROOT / "docker").glob("*.Dockerfile")), ids=lambda p: p.name)
def test_dockerfile_copies_exist(dockerfile: Path) -> None:
    for line in dockerfile.read_text().splitlines():
        match = re.match(r"COPY\s+(?!--from)(.+)\s+\S+$", line.strip())
        if match:
            for src in match.group(1).split():
                assert (ROOT / src).exists(), f"{dockerfile.name}: COPY {src} does not exist"


def test_docker_client_can_validate_compose_when_present() -> None:
    """`docker compose config` parses the file without an engine; run it when the client has it."""
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"], capture_output=True).returncode:
        pytest.skip("the docker compose client plugin is not installed")
    result = subprocess.run([docker, "compose", "config", "-q"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


AUTH_OVERRIDE = yaml.safe_load((ROOT / "docker/compose.mlflow-auth.yml").read_text())
LOOPBACK_ONLY = {"mlflow": "5000", "ray-head": "8265"}
"""MLflow has no auth and Ray's dashboard runs arbitrary jobs: never published beyond the host by default."""


def _default(text: str) -> str:
    """``${VAR:-default}`` -> ``default`` (what compose substitutes when VAR is unset)."""
    return re.sub(r"\$\{[A-Za-z_]+:-([^}]*)\}", r"\1", text)


@pytest.mark.parametrize("name", sorted(LOOPBACK_ONLY))
def test_unauthenticated_ports_bind_to_loopback_by_default(name: str) -> None:
    ports = [_default(str(p)) for p in SERVICES[name].get("ports") or []]
    assert ports == [f"127.0.0.1:{LOOPBACK_ONLY[name]}:{LOOPBACK_ONLY[name]}"], ports


def test_only_the_token_protected_api_is_published_on_all_interfaces() -> None:
    for name, service in SERVICES.items():
        for port in service.get("ports") or []:
            if not _default(str(port)).startswith("127.0.0.1:"):
                assert name == "api", f"{name} publishes {port} on every interface"


def test_every_long_running_service_restarts() -> None:
    for name, service in SERVICES.items():
        assert service.get("restart") in {"unless-stopped", "always"}, f"{name} has no restart policy"


def test_the_gpu_worker_takes_every_gpu_of_its_host_and_is_not_scaled() -> None:
    """`count: 1` with `--scale ray-worker=N` gave every copy the same GPU; one worker per host
    with all its GPUs lets Ray give each trial its own (CUDA_VISIBLE_DEVICES)."""
    devices = SERVICES["ray-worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert all(d.get("count") == "all" or d.get("device_ids") for d in devices), devices
    readme = (ROOT / "README.md").read_text()
    assert "--scale ray-worker" not in readme.replace("Do not `--scale ray-worker`", "")
    assert "--scale ray-worker" not in (ROOT / "docker-compose.yml").read_text().replace(
        "Do not `--scale ray-worker`", "")


def test_mlflow_auth_override_is_complete() -> None:
    mlflow = AUTH_OVERRIDE["services"]["mlflow"]
    argv = _command(mlflow)
    assert "--app-name" in argv and argv[argv.index("--app-name") + 1] == "basic-auth"
    result = subprocess.run([str(BIN / "mlflow"), "server", "--help"], capture_output=True, text=True)
    flags = {a for a in argv if a.startswith("--")}
    assert not [f for f in flags if f not in result.stdout]
    base_argv = _command(SERVICES["mlflow"])
    assert [a for a in argv if a not in ("--app-name", "basic-auth")] == base_argv, "same server otherwise"
    env = mlflow["environment"]
    for key in ("MLFLOW_AUTH_ADMIN_PASSWORD", "MLFLOW_FLASK_SERVER_SECRET_KEY"):
        assert ":?" in env[key], f"{key} must be required, never defaulted"
    source, target, mode = _mount(mlflow["volumes"][0])
    assert (ROOT / source).is_file() and target == env["MLFLOW_AUTH_CONFIG_PATH"] and mode == "ro"
    assert "mlflow[auth]" in (ROOT / "docker/mlflow.Dockerfile").read_text()
    for name in ("ray-head", "ray-worker", "dispatcher", "api"):
        login = AUTH_OVERRIDE["services"][name]["environment"]
        assert login["MLFLOW_TRACKING_USERNAME"] == "admin" and "MLFLOW_AUTH_ADMIN_PASSWORD" in login[
            "MLFLOW_TRACKING_PASSWORD"]


def test_the_api_sees_the_storage_it_reports_on() -> None:
    mounts = {_mount(m)[1]: _mount(m)[2] for m in SERVICES["api"]["volumes"]}
    assert mounts.get("/shared") == "ro"
    assert SERVICES["api"]["environment"]["ABLATE_STORAGE_PATH"].startswith("/shared/")
