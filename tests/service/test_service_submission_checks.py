"""Bad input that used to fail late, refused at POST /experiments; idempotency identity; cancelled trials.

Every case here was accepted on the earlier main and only failed inside the trials (three
attempts each) or waited forever; now the API answers 422 naming the field.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.experiments import repository as experiments
from service.lifecycle import ExperimentStatus, TrialStatus
from service.trials import repository as trials

SPEC: dict[str, Any] = {
    "name": "checks",
    "base": {"run": {"iterations": 10}},
    "variants": [{"name": "full"}, {"name": "no_fd", "overrides": {"uda.fd.enabled": False}}],
    "seeds": [0],
}


def _post_raw(api: TestClient, text: str, **kwargs: Any) -> Any:
    """The body as written (``1e309`` and ``Infinity`` are not what ``json.dumps`` would send)."""
    return api.post("/experiments", content=text.encode(), headers={"Content-Type": "application/json"}, **kwargs)


def _spec_text(base_json: str, resources: str = '{"cpus": 1, "gpus": 0}') -> str:
    return (
        '{"name": "checks", "base": ' + base_json + ', "variants": [{"name": "full"}], "seeds": [0], '
        '"resources": ' + resources + "}"
    )


def _messages(response: Any) -> str:
    return json.dumps(response.json()["error"])


@pytest.mark.parametrize(
    ("base", "field"),
    [
        ('{"uda": {"fd": {"fd_lambda": Infinity}}}', "uda.fd.fd_lambda"),
        ('{"uda": {"fd": {"fd_lambda": "inf"}}}', "uda.fd.fd_lambda"),
        ('{"uda": {"fd": {"fd_lambda": 1e309}}}', "uda.fd.fd_lambda"),
        ('{"optim": {"lr": Infinity}}', "optim.lr"),
        ('{"optim": {"lr": "inf"}}', "optim.lr"),
        ('{"optim": {"lr": 1e309}}', "optim.lr"),
        ('{"optim": {"lr": NaN}}', "optim.lr"),
        ('{"optim.betas": [0.9, Infinity]}', "optim.betas"),
    ],
)
def test_non_finite_values_are_refused_naming_the_field(api: TestClient, base: str, field: str) -> None:
    response = _post_raw(api, _spec_text(base))
    assert response.status_code == 422, response.text
    text = _messages(response)
    assert field in text and ("finite" in text or "NaN" in text), text
    assert api.get("/experiments").json()["items"] == []


def test_degenerate_rcs_temperature_is_refused_but_infinity_is_uniform_sampling(api: TestClient) -> None:
    tiny = _post_raw(api, _spec_text('{"uda": {"rcs": {"temperature": 1e-320}}}'))
    assert tiny.status_code == 422 and "uda.rcs.temperature" in _messages(tiny), tiny.text
    assert "NaN" in _messages(tiny)
    for value in ("Infinity", '"inf"', "1e309"):
        uniform = _post_raw(api, _spec_text('{"uda": {"rcs": {"temperature": ' + value + "}}}"))
        assert uniform.status_code == 201, (value, uniform.text)
        assert uniform.json()["trials"][0]["config_hash"]


@pytest.mark.parametrize("cpus", ['"inf"', "1e309", "Infinity", "NaN"])
def test_infinite_resources_are_refused(api: TestClient, cpus: str) -> None:
    response = _post_raw(api, _spec_text("{}", resources='{"cpus": ' + cpus + ', "gpus": 0}'))
    assert response.status_code == 422, response.text
    assert any("resources" in f["path"] and "cpus" in f["path"] for f in response.json()["error"]["fields"])


def test_idempotency_key_covers_owner_and_reuse_results(api: TestClient) -> None:
    key = {"Idempotency-Key": "same"}
    first = api.post("/experiments", json=SPEC, headers={**key, "X-Ablate-Owner": "ana"})
    assert first.status_code == 201
    replay = api.post("/experiments", json=SPEC, headers={**key, "X-Ablate-Owner": "ana"})
    assert replay.status_code == 200 and replay.json()["id"] == first.json()["id"]
    other_owner = api.post("/experiments", json=SPEC, headers={**key, "X-Ablate-Owner": "bob"})
    assert other_owner.status_code == 409 and "owner" in other_owner.json()["error"]["message"]
    no_owner = api.post("/experiments", json=SPEC, headers=key)
    assert no_owner.status_code == 409
    no_reuse = api.post("/experiments?reuse_results=false", json=SPEC, headers={**key, "X-Ablate-Owner": "ana"})
    assert no_reuse.status_code == 409 and "reuse_results" in no_reuse.json()["error"]["message"]
    fresh = api.post("/experiments?reuse_results=false", json=SPEC, headers={"Idempotency-Key": "other"})
    assert fresh.status_code == 201
    again = api.post("/experiments?reuse_results=false", json=SPEC, headers={"Idempotency-Key": "other"})
    assert again.status_code == 200 and again.json()["id"] == fresh.json()["id"]
    assert len(api.get("/experiments").json()["items"]) == 2


def test_cancelling_one_trial_leaves_the_others_outcome(api: TestClient) -> None:
    experiment = api.post("/experiments", json=SPEC).json()
    done, other = (t["id"] for t in experiment["trials"])
    with api.app.state.sessions.begin() as s:  # what a dispatcher writes while it runs the experiment
        experiments.set_experiment_status(s, experiment["id"], ExperimentStatus.RUNNING)
        trials.set_trial_status(s, done, TrialStatus.RUNNING)
        trials.finish_trial(s, done, TrialStatus.SUCCEEDED, final_miou=40.0, final_per_class={"road": 40.0},
                            best_miou=40.0, best_step=10)
    assert api.post(f"/trials/{other}/cancel").json()["status"] == "cancelled"
    detail = api.get(f"/experiments/{experiment['id']}").json()
    assert detail["status"] == "succeeded"
    assert detail["trial_counts"] == {"succeeded": 1, "cancelled": 1}
    table = api.get(f"/experiments/{experiment['id']}/table?format=json").json()
    row = {r["row"]: r for r in table["rows"]}["no_fd"]
    assert (row["cancelled"], row["failed"], row["state"]) == (1, 0, "cancelled")


def test_disk_estimate_is_shown_and_a_grid_the_storage_cannot_hold_is_refused(api: TestClient) -> None:
    experiment = api.post("/experiments", json=SPEC).json()
    disk = api.get(f"/experiments/{experiment['id']}").json()["disk"]
    # MiT-B5 + DAFormer head: 85,163,995 values (85,155,283 trainable), its encoder 81,443,008. fp32:
    # full = 4 x (student + teacher + FD encoder + 2 AdamW moments) + 1 MiB = 1,689,374,832 bytes;
    # no_fd (no frozen encoder) = 4 x (2 x 85,163,995 + 2 x 85,155,283) + 1 MiB = 1,363,602,800 bytes;
    # (K = 1) + 1 checkpoints per trial.
    assert disk["estimated_peak_bytes"] == 2 * (1_689_374_832 + 1_363_602_800), disk
    assert disk["free_bytes"] > 0 and disk["used_bytes"] is None and "keep_checkpoints" in disk["basis"]
    plan = api.post("/experiments?dry_run=true", json=SPEC).json()
    assert plan["disk"]["estimated_peak_bytes"] == disk["estimated_peak_bytes"]
    hoarder = {**SPEC, "name": "hoarder", "base": {"run": {"iterations": 10, "keep_checkpoints": 10**9}}}
    refused = api.post("/experiments", json=hoarder)
    assert refused.status_code == 422, refused.text
    message = refused.json()["error"]["message"]
    assert message.startswith("the storage path") and "free but the experiment's resume checkpoints need" in message
    assert len(api.get("/experiments").json()["items"]) == 1
