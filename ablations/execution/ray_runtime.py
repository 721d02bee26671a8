"""Connecting to Ray: a cluster at an address, or an embedded local instance.

The embedded instance runs on loopback with token auth disabled and usage stats off (set before
Ray is imported anywhere in the process), so a laptop run prints no auth warnings and phones
nowhere. Ray's session files go to its temp dir (/tmp/ray by default), nowhere in $HOME.
"""

from __future__ import annotations

import os
from typing import Any

LOCAL_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}


def prepare_environment() -> None:
    """Set the embedded-Ray environment unless the user chose otherwise."""
    for key, value in LOCAL_ENV.items():
        os.environ.setdefault(key, value)


def connect(address: str | None = None, *, num_cpus: int | None = None, num_gpus: int | None = None) -> Any:
    """Join the cluster at ``address`` (``host:port`` or ``ray://``), or start a local Ray.

    Idempotent: an already-initialised Ray in this process is reused.
    """
    prepare_environment()
    import ray

    if ray.is_initialized():
        return ray.get_runtime_context()
    if address:
        return ray.init(address=address, log_to_driver=False)
    return ray.init(
        num_cpus=num_cpus,
        num_gpus=num_gpus,
        include_dashboard=False,
        log_to_driver=False,
        _node_ip_address="127.0.0.1",
    )
