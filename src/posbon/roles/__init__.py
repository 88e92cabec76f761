"""Roles: the pipeline's stages in one process (`posbon scan`), or split across processes and machines
through a durable queue: `posbon enqueue` (ingest) -> jobs table -> `posbon worker` (media, signals, match,
assess, store). See docs/roles.md."""

from posbon.roles.queue import EnqueueResult, Job, JobQueue, item_from_payload, item_payload
from posbon.roles.worker import Worker, WorkerSummary

__all__ = [
    "EnqueueResult",
    "Job",
    "JobQueue",
    "Worker",
    "WorkerSummary",
    "item_from_payload",
    "item_payload",
]
