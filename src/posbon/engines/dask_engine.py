"""Dask.distributed as an engine: partitions are submitted to an existing cluster's scheduler.

Submission is bounded (a few partitions per worker thread in flight) so the driver never holds the whole
input, and results are yielded as they complete so the driver can commit them while the cluster works on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from posbon.engines import EngineError

P = TypeVar("P")
R = TypeVar("R")

IN_FLIGHT_PER_THREAD = 2  # partitions queued per worker thread: keeps every thread busy, bounds memory
CONNECT_TIMEOUT = "10s"


class DaskEngine:
    name = "dask"

    def __init__(self, scheduler: str, *, client: Any | None = None) -> None:
        try:
            from distributed import Client
        except ImportError as exc:  # pragma: no cover - distributed is a dependency
            raise EngineError(
                "the dask engine needs dask.distributed: pip install 'dask[distributed]'"
            ) from exc
        self.scheduler = scheduler
        if client is not None:
            self._client = client
            self._own_client = False
        else:
            try:
                self._client = Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
            except (OSError, TimeoutError, ValueError) as exc:
                raise EngineError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from exc
            self._own_client = True

    def threads(self) -> int:
        """Worker threads in the cluster now (at least 1)."""
        info = self._client.scheduler_info(n_workers=-1)
        return max(1, sum(int(w.get("nthreads", 1)) for w in info.get("workers", {}).values()))

    def map_partitions(self, fn: Callable[[P], R], partitions: Iterable[P]) -> Iterator[R]:
        from distributed import as_completed

        limit = self.threads() * IN_FLIGHT_PER_THREAD
        source = iter(partitions)
        # pure=False: each partition is new work, never deduplicated against an earlier key
        first = [self._client.submit(fn, p, pure=False) for _, p in zip(range(limit), source, strict=False)]
        pending = as_completed(first, loop=self._client.loop)
        for future in pending:
            try:
                result: R = future.result()
            finally:
                future.release()
            following = next(source, None)
            if following is not None:
                pending.add(self._client.submit(fn, following, pure=False))
            yield result

    def close(self) -> None:
        if self._own_client:
            self._client.close()
