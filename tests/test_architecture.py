"""The import rules of ARCHITECTURE.md, checked on the source and in fresh interpreters.

service -> ablations -> trainer, never backwards; the trainer never touches Ray, MLflow, HTTP or
the database; the trainer's config (and so the whole control plane's validation) needs no torch.
`make lint` runs the same rules through import-linter; this test also fails on imports that are
hidden inside functions, which import-linter sees too, and on a missing package.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "trainer": {"ray", "mlflow", "fastapi", "sqlalchemy", "uvicorn", "starlette", "alembic", "ablations", "service"},
    "ablations": {"service", "fastapi", "sqlalchemy", "uvicorn", "starlette", "alembic"},
}


def _imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_point_one_way(package: str) -> None:
    offenders = []
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = _imported_roots(path) & FORBIDDEN[package]
        if bad:
            offenders.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert not offenders, "imports against the architecture:\n" + "\n".join(offenders)


def _modules_after_import(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_trainer_config_imports_without_torch() -> None:
    loaded = _modules_after_import("trainer.config")
    assert "torch" not in loaded


def test_ablation_specs_validate_without_torch() -> None:
    loaded = _modules_after_import("ablations.spec")
    assert "torch" not in loaded
    assert "ray" not in loaded
