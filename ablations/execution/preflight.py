"""Before Tune starts: can any node ever hold a trial, and do its data and weights exist there?

Without these checks a GPU preset on a CPU-only cluster waited forever with the experiment
"running", and a missing dataset or weights file failed (three times per trial) only once a
trial got its turn. `cluster_problem` compares one trial's resources with every alive node;
`missing_paths` runs a zero-CPU Ray task pinned to each node that could hold a trial (where the
trials will run, not where the dispatcher runs) and lists the paths that node lacks.
`WaitingWatch` is a Tune callback that says, while trials wait, what they need and what is free.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ray.tune import Callback

log = logging.getLogger(__name__)

STATS_FILE = "sample_class_stats.json"
"""Written by ``python -m trainer.data.prepare``; RCS cannot sample without it."""


@dataclass(frozen=True)
class NodeCapacity:
    """What one alive Ray node offers (its total, not what is free now)."""

    node_id: str
    address: str
    cpus: float
    gpus: float


def alive_nodes() -> list[NodeCapacity]:
    """Every alive node of the connected Ray cluster."""
    import ray

    return [
        NodeCapacity(n["NodeID"], str(n.get("NodeManagerAddress", "?")), float(n["Resources"].get("CPU", 0.0)),
                     float(n["Resources"].get("GPU", 0.0)))
        for n in ray.nodes() if n.get("Alive")
    ]


def _needs(cpus: float, gpus: float) -> str:
    return f"{cpus:g} CPU" + (f" and {gpus:g} GPU" if gpus else "")


def fits(node: NodeCapacity, cpus: float, gpus: float) -> bool:
    return node.cpus >= cpus and node.gpus >= gpus


def cluster_problem(nodes: Sequence[NodeCapacity], cpus: float, gpus: float) -> str | None:
    """Why no node can ever hold a trial of ``cpus`` CPUs and ``gpus`` GPUs (None when one can)."""
    if any(fits(n, cpus, gpus) for n in nodes):
        return None
    total_gpus = sum(n.gpus for n in nodes)
    largest = max(nodes, key=lambda n: (n.gpus, n.cpus), default=None)
    has = "no alive node" if largest is None else f"its largest node has {largest.cpus:g} CPU and {largest.gpus:g} GPU"
    return (
        f"no node can ever hold a trial: each needs {_needs(cpus, gpus)}, the cluster has "
        f"{len(nodes)} node(s) with {total_gpus:g} GPU in all and {has}; lower resources.cpus / "
        f"resources.gpus or add a node that has them"
    )


def required_paths(config: Mapping[str, Any]) -> list[str]:
    """The dataset roots, their RCS statistics and the pretrained weights one trial reads."""
    data, uda = config["data"], config["uda"]
    paths = []
    if uda.get("mode", "uda") != "target_only":
        paths.append(str(data["source"]["root"]))
        if uda.get("rcs", {}).get("enabled", False):
            paths.append(os.path.join(str(data["source"]["root"]), STATS_FILE))
    paths.append(str(data["target"]["root"]))
    pretrained = config["model"].get("pretrained")
    if pretrained:
        paths.append(str(pretrained))
    return paths


def _missing(paths: Sequence[str]) -> list[str]:
    return [p for p in paths if not os.path.exists(p)]


def missing_paths(
    configs: Sequence[Mapping[str, Any]], nodes: Sequence[NodeCapacity], timeout_s: float = 60.0
) -> dict[str, list[str]]:
    """``{path: ["node <address> (<id>)" of each node that lacks it]}`` over every node in ``nodes``.

    One zero-CPU task per node (so it runs even while trials hold every CPU), except the
    dispatcher's own node, checked in place; a node that does not answer within ``timeout_s`` is
    skipped with a warning rather than failing the experiment.
    """
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    paths = sorted({p for config in configs for p in required_paths(config)})
    found: dict[str, list[str]] = {}
    from ray.util.client import ray as ray_client

    # The dispatcher's own node is checked in place: a task there would only start a worker
    # process (about a second) to look at the same disk. A Ray Client driver (ray://) runs
    # elsewhere than its node, so there every node gets its task.
    here = None if ray_client.is_connected() else ray.get_runtime_context().get_node_id()
    for node in nodes:
        if node.node_id == here:
            for path in _missing(paths):
                found.setdefault(path, []).append(f"node {node.address} ({node.node_id[:8]})")
    task = ray.remote(num_cpus=0)(_missing)
    pin = NodeAffinitySchedulingStrategy
    refs = [(node, task.options(scheduling_strategy=pin(node.node_id, soft=False)).remote(paths))
            for node in nodes if node.node_id != here]
    ready, _ = ray.wait([ref for _, ref in refs], num_returns=len(refs), timeout=timeout_s)
    for node, ref in refs:
        where = f"node {node.address} ({node.node_id[:8]})"
        if ref not in ready:
            log.warning("preflight: %s did not answer within %.0f s; not checked", where, timeout_s)
            continue
        for path in ray.get(ref):
            found.setdefault(path, []).append(where)
    return found


Notify = Callable[[str | None], None]
"""Writes (or with None clears) the experiment's notice; must be picklable (Tune pickles callbacks)."""


class WaitingWatch(Callback):
    """While trials are pending, say what one needs and what the cluster has free now.

    Checked at most every ``interval_s`` from Tune's driver loop; once nothing waits the notice
    goes back to ``idle_message`` (the preflight's). Only messages that changed are written.
    """

    def __init__(self, notify: Notify, cpus: float, gpus: float, interval_s: float = 10.0,
                 idle_message: str | None = None) -> None:
        self.notify, self.cpus, self.gpus, self.interval_s = notify, cpus, gpus, interval_s
        self.idle_message = idle_message
        self._checked_at = 0.0
        self._said = idle_message

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_checked_at": 0.0, "_said": self.idle_message}

    def on_step_end(self, iteration: int, trials: list, **info: Any) -> None:
        now = time.monotonic()
        if now - self._checked_at < self.interval_s:
            return
        self._checked_at = now
        pending = sum(1 for t in trials if t.status == "PENDING")
        message = self._message(pending) if pending else self.idle_message
        if message != self._said:
            try:
                self.notify(message)
                self._said = message
            except Exception:  # a bookkeeping failure never stops the run
                log.exception("could not write the waiting notice")

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        """Nothing waits any more: put the idle message back (the last check may be up to
        ``interval_s`` old, taken while a trial still waited)."""
        if self._said != self.idle_message:
            try:
                self.notify(self.idle_message)
                self._said = self.idle_message
            except Exception:  # a bookkeeping failure never stops the run
                log.exception("could not write the idle notice")

    def _message(self, pending: int) -> str:
        import ray

        free, total = ray.available_resources(), ray.cluster_resources()
        return (
            f"waiting for resources: {pending} trial(s) wait, each needs {_needs(self.cpus, self.gpus)}; "
            f"free now {free.get('CPU', 0.0):g} of {total.get('CPU', 0.0):g} CPU, "
            f"{free.get('GPU', 0.0):g} of {total.get('GPU', 0.0):g} GPU"
        )
