"""Several local Ray nodes (`ray.cluster_utils.Cluster`); the node running a trial is removed
mid-trial and the trial resumes on another node from its last checkpoint. SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from execution_helpers import Background, claim, submit, tiny_spec, trial_rows, wait_until

from service.dispatcher.experiment_run import run_claimed_experiment
from service.settings import Settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster() -> Iterator[object]:
    import ray
    from ray.cluster_utils import Cluster

    from ablations.execution.ray_runtime import prepare_environment

    prepare_environment()
    if ray.is_initialized():
        ray.shutdown()
    nodes = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    for _ in range(2):
        nodes.add_node(num_cpus=1)
    ray.init(address=nodes.address, log_to_driver=False)
    yield nodes
    ray.shutdown()
    nodes.shutdown()


def _node_of_running_trial(cluster: object) -> object:
    from ray.util.state import list_actors

    actors = [a for a in list_actors(filters=[("state", "=", "ALIVE")]) if "ImplicitFunc" in a.class_name]
    assert actors, "no running trial actor"
    node_id = actors[0].node_id
    return next(n for n in cluster.worker_nodes if n.node_id == node_id)  # type: ignore[attr-defined]


def test_trial_survives_the_loss_of_its_node(migrated_url: str, tmp_path: Path, tiny_bench: Path,
                                             cluster: object) -> None:
    settings = Settings(database_url=migrated_url, mlflow_tracking_uri="http://127.0.0.1:9",
                        storage_path=str(tmp_path / "tune"))
    spec = tiny_spec(tiny_bench, iterations=60, variants=[{"name": "full"}])
    spec["base"]["run"].update(eval_interval=30, checkpoint_interval=10)
    experiment_id = submit(settings, spec)
    claim(settings, experiment_id)
    run = Background(lambda: run_claimed_experiment(settings, experiment_id, "test-code"))
    wait_until(lambda: trial_rows(settings, experiment_id)[0]["progress"] >= 15, timeout_s=180,
               what="a checkpoint before the node goes")
    cluster.remove_node(_node_of_running_trial(cluster))  # type: ignore[attr-defined]
    assert run.join(timeout_s=400).value == "succeeded"
    row = trial_rows(settings, experiment_id)[0]
    assert row["attempts"] >= 2 and [p["step"] for p in row["curve"]] == [30, 60]
