"""Connecting to Ray: a cluster at an address, or an embedded local instance.

The embedded instance runs on loopback with token auth disabled and usage stats off (set before
Ray is imported anywhere in the process), so a laptop run prints no auth warnings and phones
nowhere. Ray's session files go to its temp dir (/tmp/ray by default), nowhere in $HOME.
"""

from __future__ import annotations

import os

LOCAL_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
"""Ray then advertises 127.0.0.1 instead of the machine's network address (its single-machine
mode, used on macOS/Windows), so an embedded Ray's traffic stays on loopback. Only for a Ray
this process starts itself: a real cluster needs the node's reachable address."""


def prepare_environment(local: bool = True) -> None:
    """Set the embedded-Ray environment unless the user chose otherwise."""
    for key, value in {**LOCAL_ENV, **(LOOPBACK_ENV if local else {})}.items():
        os.environ.setdefault(key, value)


def connect(address: str | None = None, *, num_cpus: int | None = None, num_gpus: int | None = None) -> str:
    """Join the cluster at ``address`` (``host:port`` or ``ray://``), or start a local Ray on
    loopback; returns the GCS address other drivers (the per-experiment runners) connect to.

    Idempotent: an already-initialised Ray in this process is reused.
    """
    prepare_environment(local=not address)
    import ray

    if not ray.is_initialized():
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=num_cpus, num_gpus=num_gpus, include_dashboard=False, log_to_driver=False)
    return str(ray.get_runtime_context().gcs_address)
