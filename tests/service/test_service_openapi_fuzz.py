"""Schemathesis against the app's own OpenAPI schema: no 5xx, and every response conforms to it.

Runs through the ASGI transport on a SQLite database with a few stored experiments so reads hit
real rows; the number of examples per operation is bounded to keep the whole run well under 60 s.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from service.app import create_app
from service.settings import Settings

TOKEN = "fuzz-token"
SPEC = {"name": "fuzz", "base": {"run": {"iterations": 10}}, "variants": [{"name": "a"}], "seeds": [0]}


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    db = Path(tmp_path_factory.mktemp("fuzz")) / "fuzz.db"
    app = create_app(Settings(database_url=f"sqlite:///{db}", api_token=TOKEN, max_trials=20))
    with TestClient(app) as client:  # runs the lifespan: engine and migrations
        for _ in range(2):
            client.post("/experiments", json=SPEC, headers={"Authorization": f"Bearer {TOKEN}"})
        yield app


def test_api_conforms_to_its_schema(fuzz_app: Any) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: Any) -> None:
            case.call_and_validate(
                headers={"Authorization": f"Bearer {TOKEN}"},
                checks=[
                    not_a_server_error,
                    status_code_conformance,
                    content_type_conformance,
                    response_schema_conformance,
                ],
            )

        check()
