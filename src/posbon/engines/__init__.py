"""Executors that map a stage function over partitions: in this process, or on a distributed engine.

An engine only moves work and results; what runs is an ordinary module-level function from picklable domain
values to picklable values (see posbon.backfill). Results come back as they finish, not in input order, and
the engine keeps only a bounded number of partitions in flight, so an input of any size streams through.
Another engine (Ray, Spark) is one more class with `map_partitions`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Protocol, TypeVar

P = TypeVar("P")
R = TypeVar("R")


class EngineError(Exception):
    """The engine cannot run here (package missing, scheduler unreachable): one line for the user."""


class Engine(Protocol):
    """Runs `fn` over every partition and yields each result as it completes (in any order)."""

    name: str

    def map_partitions(self, fn: Callable[[P], R], partitions: Iterable[P]) -> Iterator[R]: ...

    def close(self) -> None: ...


class LocalEngine:
    """Every partition in this process, in input order: today's behaviour, and the reference for tests."""

    name = "local"

    def map_partitions(self, fn: Callable[[P], R], partitions: Iterable[P]) -> Iterator[R]:
        for partition in partitions:
            yield fn(partition)

    def close(self) -> None:
        return None


def open_engine(name: str, scheduler: str | None = None) -> Engine:
    """The engine called `name` ("local" or "dask"); dask needs the scheduler's address."""
    if name == "local":
        return LocalEngine()
    if name == "dask":
        if not scheduler:
            raise EngineError("--engine dask needs --scheduler ADDRESS (e.g. tcp://10.0.0.5:8786)")
        from posbon.engines.dask_engine import DaskEngine

        return DaskEngine(scheduler)
    raise EngineError(f"unknown engine {name!r}: use local or dask")


__all__ = ["Engine", "EngineError", "LocalEngine", "open_engine"]
