"""The preflight's rules as plain functions: which trial no node can hold, which paths a trial reads."""

from __future__ import annotations

import json

from ablations.execution.preflight import NodeCapacity, cluster_problem, required_paths
from trainer.config import TrainConfig

CPU_NODE = NodeCapacity("a" * 56, "10.0.0.1", cpus=16, gpus=0)
GPU_NODE = NodeCapacity("b" * 56, "10.0.0.2", cpus=8, gpus=2)


def test_no_node_can_hold_the_trial() -> None:
    problem = cluster_problem([CPU_NODE], cpus=1, gpus=1)
    assert problem is not None and problem.startswith("no node can ever hold a trial: each needs 1 CPU and 1 GPU")
    assert "1 node(s) with 0 GPU in all" in problem and "largest node has 16 CPU and 0 GPU" in problem
    # 12 CPUs fit node a, 2 GPUs node b, but no node has both: the sums of the cluster do not count.
    assert cluster_problem([CPU_NODE, GPU_NODE], cpus=12, gpus=2) is not None
    assert cluster_problem([CPU_NODE, GPU_NODE], cpus=8, gpus=0.5) is None
    assert "no alive node" in str(cluster_problem([], cpus=1, gpus=0))


def test_required_paths_follow_the_training_mode() -> None:
    config = json.loads(TrainConfig().model_dump_json())
    config["model"]["pretrained"] = "pretrained/mit_b5.pth"
    assert required_paths(config) == ["data/gta", "data/gta/sample_class_stats.json", "data/cityscapes",
                                      "pretrained/mit_b5.pth"]
    config["uda"]["rcs"]["enabled"] = False
    config["model"]["pretrained"] = None
    assert required_paths(config) == ["data/gta", "data/cityscapes"]
    config["uda"]["mode"] = "target_only"
    assert required_paths(config) == ["data/cityscapes"]
