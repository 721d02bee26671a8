"""Rendered answers of the results routes, kept until the experiment's results change.

A table of a 1,000-trial experiment takes tens of milliseconds to compute and the same bytes are
asked for again and again (the report page, `ablate watch`, every table download) while trials
write progress. Each answer is stored with the *stamp* it was computed under: the experiment's
optimistic-lock ``version`` and ``status`` (its own changes), ``results_version`` (bumped by
every status change or final result of a trial) and ``progress_version`` (bumped by every
progress row and curve point), read with one primary-key query per request. An answer is served
only while the stamp it depends on is unchanged, so it is always the answer a fresh computation
in the same transaction would give; there is no expiry time to tune.

Requests for the same missing answer wait for the one that computes it (one computation per
change, not one per waiting client); the locks are a fixed set of stripes, reentrant because an
answer may be built from another cached one (the report page from the table views). Memory is
bounded: least recently used answers are dropped beyond ``max_bytes``, and only the newest stamp
of each (experiment, answer) is kept.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import datetime
from typing import Any, NamedTuple

DEFAULT_MAX_BYTES = 64 * 2**20
STRIPES = 64


class Stamp(NamedTuple):
    """What an experiment's results depend on; every field only ever moves forward on a change."""

    experiment_version: int
    status: str
    results_version: int
    progress_version: int
    created_at: datetime
    """Tells apart an experiment that was deleted and another that got the same id."""

    @property
    def results(self) -> tuple[Any, ...]:
        """The part tables and final results depend on (not progress nor curves)."""
        return self.experiment_version, self.status, self.results_version, self.created_at


class Answer(NamedTuple):
    """A rendered response body and its media type."""

    body: bytes
    media_type: str


class ResultsCache:
    """Answers keyed by (experiment id, answer name), each valid for one stamp; thread-safe."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[int, Hashable], tuple[Hashable, Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._computing = [threading.RLock() for _ in range(STRIPES)]
        self.hits = self.misses = 0

    def get(self, experiment_id: int, name: Hashable, stamp: Hashable, compute: Callable[[], Any],
            size: Callable[[Any], int] = len) -> Any:
        """The answer ``name`` for ``stamp``: cached, or computed once by ``compute()`` and kept."""
        key = (experiment_id, name)
        found, value = self._lookup(key, stamp)
        if found:
            return value
        with self._computing[hash(key) % STRIPES]:
            found, value = self._lookup(key, stamp)
            if found:
                return value
            value = compute()
            self._store(key, stamp, value, size(value))
            with self._lock:
                self.misses += 1
            return value

    def _lookup(self, key: tuple[int, Hashable], stamp: Hashable) -> tuple[bool, Any]:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] != stamp:
                return False, None
            self._entries.move_to_end(key)
            self.hits += 1
            return True, entry[1]

    def _store(self, key: tuple[int, Hashable], stamp: Hashable, value: Any, size: int) -> None:
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[2]
            if size > self.max_bytes:
                return
            self._entries[key] = (stamp, value, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, _, dropped) = self._entries.popitem(last=False)
                self._bytes -= dropped

    @property
    def size_bytes(self) -> int:
        """Bytes of the answers held now (as counted by each entry's ``size``)."""
        return self._bytes
