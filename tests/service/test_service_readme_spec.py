"""The complete spec example in the README is accepted as it is (a dry run through the real API)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_spec_example_is_valid(tmp_path: Path) -> None:
    text = README.read_text()
    after = text[text.index("A complete spec file"):]
    spec = yaml.safe_load(re.search(r"```yaml\n(.*?)```", after, re.S).group(1))  # type: ignore[union-attr]
    with TestClient(create_app(Settings(database_url=f"sqlite:///{tmp_path / 'r.db'}", api_token="t"))) as http:
        answer = http.post("/experiments", json=spec, params={"dry_run": "true"}, headers={"Authorization": "Bearer t"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["trial_count"] == 8  # 2 rows x 2 temperatures x 2 seeds, as the README says
