"""Operations routes: `/metrics` (Prometheus text format) and `/readyz` (readiness for a load balancer).

- `/metrics` needs an admin login or an API key with the `matcher` role (posbon's rule: every route but
  login and the health checks needs a role; put the scraper's key in its `authorization` setting). It
  exports the lookup counter and latency histogram of posbon.match.service, and gauges read at scrape
  time: the review queue's open entries, the job queue's queued jobs, and the match index's version
  (bank change id applied), age (seconds since the last applied change) and size per signal type.
- `/readyz` is public like `/healthz`: 200 once the database answers and the match index is loaded (it is
  built on the first probe), else 503 with the reason. `/healthz` says only that the process is up.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from posbon.match.service import METRICS, MatchService
from posbon.store import Store
from posbon.store.db import StoreError
from posbon.store.queue_models import JobRow
from posbon.store.review_models import QueueEntryRow
from posbon.web.hma import ServiceRole, match_service

log = logging.getLogger("posbon.web")

router = APIRouter()
METRICS_READ = ServiceRole("admin", "matcher")


class _StateCollector(Collector):
    """Gauges read from the store and the index when Prometheus scrapes."""

    def __init__(self, store: Store, service: MatchService) -> None:
        self.store = store
        self.service = service

    def collect(self) -> Iterator[Metric]:
        with self.store.session() as s:
            review = s.scalar(
                select(func.count()).select_from(QueueEntryRow).where(QueueEntryRow.state == "open")
            )
            jobs = s.scalar(select(func.count()).select_from(JobRow).where(JobRow.status == "queued"))
        yield GaugeMetricFamily(
            "posbon_review_queue_depth", "Open entries in the review queue", value=review or 0
        )
        yield GaugeMetricFamily("posbon_job_queue_depth", "Jobs queued for workers", value=jobs or 0)
        snap = self.service.snapshot()
        yield GaugeMetricFamily(
            "posbon_index_version", "Highest bank change id the match index applied", value=snap.version
        )
        yield GaugeMetricFamily(
            "posbon_index_age_seconds",
            "Seconds since the match index applied a change (or was built)",
            value=max(0.0, time.time() - snap.changed_at),
        )
        sizes = GaugeMetricFamily(
            "posbon_index_entries", "Entries in the match index", labels=["signal_type"]
        )
        for kind, size in sorted(snap.sizes.items()):
            sizes.add_metric([kind], size)
        yield sizes
        yield GaugeMetricFamily(
            "posbon_index_rebuilds", "Full rebuilds of the match index", value=self.service.rebuilds
        )


@router.get("/metrics", include_in_schema=False, dependencies=[Depends(METRICS_READ)])
def metrics(request: Request) -> Response:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_StateCollector(request.app.state.web.store, match_service(request)))
    body = _process_metrics() + generate_latest(registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


@router.get("/readyz", include_in_schema=False)
def readyz(request: Request) -> Response:
    store: Store = request.app.state.web.store
    try:
        with store.session() as s:
            s.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        # the route is public: the driver's message (host, port, role name) goes to the log only
        log.warning("readiness: database unreachable: %s", _first_line(exc))
        return JSONResponse({"status": "not ready", "reason": "database unreachable"}, 503)
    try:
        snap = match_service(request).snapshot()
    except (StoreError, SQLAlchemyError) as exc:
        log.warning("readiness: index not loaded: %s", _first_line(exc))
        return JSONResponse({"status": "not ready", "reason": "index not loaded"}, 503)
    return JSONResponse({"status": "ready", "index_version": snap.version})


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _process_metrics() -> bytes:
    """Lookup counters and histograms: this process's, or under `serve --workers N` (which sets
    PROMETHEUS_MULTIPROC_DIR for its processes) the sum over every process, the dead ones included, so
    the totals only grow whichever process a scrape reaches."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return generate_latest(METRICS)
    combined = CollectorRegistry()
    multiprocess.MultiProcessCollector(combined)
    return generate_latest(combined)
