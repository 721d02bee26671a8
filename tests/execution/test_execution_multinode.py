"""Several local Ray nodes (`ray.cluster_utils.Cluster`); the node running a trial is removed
mid-trial and the trial resumes on another node from its last checkpoint. SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from execution_helpers import (
    Background,
    claim,
    raylet_of,
    submit,
    tiny_spec,
    trial_rows,
    trial_worker_processes,
    wait_until,
)

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
    workers = trial_worker_processes()
    assert workers, "no running trial worker"
    raylet = raylet_of(workers[0])
    for node in cluster.worker_nodes:  # type: ignore[attr-defined]
        pids = {p.process.pid for p in node.all_processes.get("raylet", [])}
        if raylet in pids:
            return node
    raise AssertionError(f"the trial's raylet {raylet} is not one of the worker nodes")


def test_trial_survives_the_loss_of_its_node(migrated_url: str, tmp_path: Path, tiny_bench: Path,
                                             cluster: object) -> None:
    while len(cluster.worker_nodes) < 2:  # type: ignore[attr-defined]  # replace a node an earlier test removed
        cluster.add_node(num_cpus=1)  # type: ignore[attr-defined]
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


def test_preflight_checks_its_own_node_in_place_and_the_others_by_task(tmp_path: Path, cluster: object) -> None:
    """Every node is asked about the paths: the dispatcher's own node (the head) directly, each
    other node through a task pinned to it; a missing path is reported once per node."""
    import ray

    from ablations.execution.preflight import alive_nodes, missing_paths

    here = ray.get_runtime_context().get_node_id()
    nodes = alive_nodes()
    assert here in {n.node_id for n in nodes} and len(nodes) >= 2
    present = tmp_path / "present"
    present.mkdir()
    config = {"data": {"source": {"root": str(present)}, "target": {"root": str(tmp_path / "absent")}},
              "uda": {"mode": "uda", "rcs": {"enabled": False}}, "model": {"pretrained": None}}
    found = missing_paths([config], nodes)
    assert set(found) == {str(tmp_path / "absent")}
    assert sorted(found[str(tmp_path / "absent")]) == sorted(f"node {n.address} ({n.node_id[:8]})" for n in nodes)
