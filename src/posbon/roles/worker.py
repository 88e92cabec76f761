"""`posbon worker`: take items off the durable queue and run media, signals, match and assess on them.

The worker calls the same stage function as `posbon scan` (`assess_item`, with detectors built once), so an
item assessed by a worker is stored exactly as an in-process scan stores it. Per job:

    claim (lease) -> heartbeat while working -> assess -> store (idempotent upsert) -> mark done

A crash between "store" and "mark done" leaves the job leased; its lease expires, another worker does it
again and the upsert stores it once. SIGTERM (or Ctrl-C) drains: the current job is finished, no new one is
claimed, the process exits 0. Database errors (a restarted PostgreSQL, a locked SQLite) are retried with
backoff instead of ending the worker; an outage is logged in one line when it starts and one when it ends.

POSBON_WORKER_TEST_DELAY (seconds, test-only): sleep that long after claiming each job, so tests can kill a
worker in the middle of an item. Never set it in production.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError

from posbon.domain import Problem
from posbon.match.service import MatchService
from posbon.media.reading import MediaReader, MediaText
from posbon.review import active_policy, sync_queue
from posbon.roles.queue import (
    DEFAULT_LEASE_SECONDS,
    DEFAULT_MAX_ATTEMPTS,
    Job,
    JobQueue,
    PayloadError,
    item_from_payload,
)
from posbon.scan import Detectors, assess_item
from posbon.settings import Settings
from posbon.store import Store

log = logging.getLogger("posbon.worker")

TEST_DELAY_ENV = "POSBON_WORKER_TEST_DELAY"
BACKOFF_FIRST = 0.5  # seconds before the first retry after a database error; doubles up to BACKOFF_MAX
BACKOFF_MAX = 30.0
STOPPING_RETRIES = 3  # a stopping worker gives up on the database after this many retries
STILL_DOWN_LOG_SECONDS = 60.0  # during a long outage, one reminder line this often
SYNC_SECONDS = 5.0  # flagged items reach the review queue at least this often
DEFAULT_BATCH = 20  # jobs claimed, stored and marked done per transaction

T = TypeVar("T")


@dataclass
class WorkerSummary:
    scan_id: int = 0
    done: int = 0  # jobs whose result was stored and marked done
    items_new: int = 0
    retried: int = 0  # jobs given back after an error, to be tried again
    failed: int = 0  # jobs given up on (bad payload, or out of attempts)
    lost: int = 0  # jobs whose lease another worker took over before this one finished
    verdicts: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0


class Worker:
    """One worker process: `concurrency` loops (threads) sharing detectors built once."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        poll_seconds: float = 1.0,
        ocr: bool = True,
        batch: int = DEFAULT_BATCH,
        on_problem: Callable[[Problem], None] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.queue = JobQueue(store, lease_seconds=lease_seconds, max_attempts=max_attempts)
        self.heartbeat_seconds = max(lease_seconds / 3, 0.05)
        self.poll_seconds = poll_seconds
        self.ocr = ocr
        self.batch = max(1, batch)
        # the banks, kept current from the bank change log like a match server's (docs/live-index.md)
        self.banks = MatchService(store, settings)
        self.on_problem = on_problem
        self.name = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.stopping = threading.Event()
        self.summary = WorkerSummary()
        self._lock = threading.Lock()
        self._flagged_since_sync = False
        self._last_sync = time.monotonic()
        self._down_since: float | None = None  # when the current database outage began (monotonic)
        self._down_logged = 0.0

    def stop(self) -> None:
        """Finish the job in hand, claim no more."""
        self.stopping.set()

    def run(self, *, once: bool = False, concurrency: int = 1) -> WorkerSummary:
        """Work until stopped (SIGTERM, SIGINT, `stop()`), or with `once` until nothing is left to claim."""
        started = time.perf_counter()
        self._retry(self.banks.snapshot, "load banks")
        self.summary.scan_id = self._retry(lambda: self.store.start_scan([f"worker {self.name}"]), "start")
        try:
            with self._signals_drain():
                if concurrency <= 1:
                    self._loop(self.name, once)
                else:
                    threads = [
                        threading.Thread(target=self._loop, args=(f"{self.name}/{n}", once), daemon=True)
                        for n in range(concurrency)
                    ]
                    for t in threads:
                        t.start()
                    for t in threads:
                        while t.is_alive():  # join with a timeout so the main thread still takes signals
                            t.join(0.2)
        finally:
            self._sync_review_queue(force=True)
            s = self.summary
            s.seconds = time.perf_counter() - started
            self._retry(
                lambda: self.store.finish_scan(s.scan_id, "finished", s.done, s.items_new, len(s.problems)),
                "finish",
            )
        return self.summary

    # ---- one loop ----------------------------------------------------------------------------------

    def _loop(self, owner: str, once: bool) -> None:
        reader: MediaReader | None = None
        if self.ocr:
            reader, why_not = MediaReader.open(self.settings.data_dir / "ocr-cache")
            if why_not:
                self._report(Problem("ocr", None, why_not, note=True))
        try:
            while not self.stopping.is_set():
                jobs = self._retry(
                    lambda: self.queue.claim_batch(owner, self.batch), "claim jobs", none_when_stopping=True
                )
                if not jobs:
                    self._sync_review_queue(force=True)
                    if once:
                        return
                    self.stopping.wait(self.poll_seconds)
                    continue
                # bank changes made anywhere reach the next batch (the change log, polled every 0.5 s)
                detectors = self._retry(lambda: self.banks.snapshot().detectors, "follow bank changes")
                self._work(jobs, detectors, reader)
                self._sync_review_queue()
        finally:
            if reader is not None:
                reader.close()

    def _work(self, jobs: list[Job], detectors: Detectors, reader: MediaReader | None) -> None:
        """Assess each claimed job, then store the results, record problems and mark the jobs done: one
        transaction each for the whole batch. Stopping mid-batch hands the unstarted jobs back."""
        finished: list[tuple[Job, dict[str, Any], str]] = []
        problems: list[Problem] = []
        with self._heartbeat(jobs):
            for index, job in enumerate(jobs):
                if self.stopping.is_set() and index > 0:
                    self._release(jobs[index:])
                    break
                done = self._assess(job, detectors, reader, problems)
                if done is not None:
                    finished.append((job, *done))
            if not finished:
                return
            rows = [row for _, row, _ in finished]
            # store first, then mark done: a crash in between redelivers, and the upsert stores them once
            try:
                new = self._retry(lambda: self.store.save_items(self.summary.scan_id, rows), "store results")
            except DBAPIError:  # not an outage: the database refused something in the batch
                finished, new = self._store_one_by_one(finished)
            if not finished:
                return
            if problems:
                self._retry(lambda: self.store.record_problems(self.summary.scan_id, problems), "store")
            mine = self._retry(lambda: self.queue.complete_many([job for job, _, _ in finished]), "mark done")
        for problem in problems:
            self._report(problem)
        with self._lock:
            self.summary.done += len(finished)
            self.summary.items_new += new
            self.summary.lost += sum(1 for job, _, _ in finished if job.job_id not in mine)
            for _, _, verdict in finished:
                self.summary.verdicts[verdict] = self.summary.verdicts.get(verdict, 0) + 1
                if verdict != "clear":
                    self._flagged_since_sync = True

    def _store_one_by_one(
        self, finished: list[tuple[Job, dict[str, Any], str]]
    ) -> tuple[list[tuple[Job, dict[str, Any], str]], int]:
        """Store a refused batch item by item; an item the database refuses fails its job for good (with
        the reason), instead of crashing the worker on every redelivery. Returns the stored ones."""
        stored: list[tuple[Job, dict[str, Any], str]] = []
        new = 0
        for job, row, verdict in finished:
            try:
                new += self._retry(
                    lambda row=row: self.store.save_items(self.summary.scan_id, [row]),  # type: ignore[misc]
                    "store results",
                )
            except DBAPIError as exc:
                why = "the database refused the result: " + (str(exc.orig or exc).splitlines() or ["?"])[0]
                self._retry(lambda: self.queue.fail(job, why, retry=False), "record a failure")  # noqa: B023
                self._report(Problem(f"job {job.job_id}", None, why))
                with self._lock:
                    self.summary.failed += 1
                continue
            stored.append((job, row, verdict))
        return stored, new

    def _assess(
        self, job: Job, detectors: Detectors, reader: MediaReader | None, problems: list[Problem]
    ) -> tuple[dict[str, Any], str] | None:
        """The row to store and the verdict of one job; None (the job failed or was given back) on error."""
        try:
            item = item_from_payload(job.payload)
        except PayloadError as exc:
            why = str(exc)
            self._retry(lambda: self.queue.fail(job, why, retry=False), "record a failure")
            self._report(Problem(f"job {job.job_id}", None, why))
            with self._lock:
                self.summary.failed += 1
            return None
        delay = float(os.environ.get(TEST_DELAY_ENV) or 0)
        if delay > 0:
            time.sleep(delay)  # test-only: see the module docstring
        try:
            found: list[Problem] = []
            media_texts: dict[str, list[MediaText]] = {}
            if reader is not None and item.media:
                media_texts, found = reader.read([item])
            scanned = assess_item(item, detectors, media_texts.get(item.item_id, ()))
            row = scanned.to_row(self.settings.store_content)
        except Exception as exc:  # noqa: BLE001 - a bug on one item must not stop the worker
            log.exception("job %s (item %s) failed", job.job_id, job.item_id)
            error = f"{type(exc).__name__}: {exc}"
            status = self._retry(lambda: self.queue.fail(job, error), "record a failure")
            with self._lock:
                if status == "failed":
                    self.summary.failed += 1
                else:
                    self.summary.retried += 1
            return None
        problems.extend([*found, *scanned.problems])
        return row, str(scanned.assessment.verdict)

    def _release(self, jobs: list[Job]) -> None:
        for job in jobs:
            self._retry(lambda: self.queue.release(job), "hand a job back")  # noqa: B023 - called at once

    # ---- helpers -----------------------------------------------------------------------------------

    @contextmanager
    def _heartbeat(self, jobs: list[Job]) -> Iterator[None]:
        """Renew the jobs' leases every third of the lease time while the block runs."""
        finished = threading.Event()
        names = f"job {jobs[0].job_id}" + (f" (+{len(jobs) - 1})" if len(jobs) > 1 else "")

        def beat() -> None:
            held = list(jobs)
            while held and not finished.wait(self.heartbeat_seconds):
                try:
                    mine = self.queue.heartbeat_many(held)
                except (OperationalError, DBAPIError) as exc:
                    self._database_down(f"renew the lease of {names}", exc)
                    continue  # the next beat tries again; a lease that expires meanwhile is redelivered
                self._database_up()
                lost = [job for job in held if job.job_id not in mine]
                if lost and not finished.is_set():  # (not just done, between the wait and the update)
                    for job in lost:
                        log.warning("job %s: lease lost to another worker", job.job_id)
                held = [job for job in held if job.job_id in mine]

        thread = threading.Thread(target=beat, daemon=True, name=f"heartbeat-{jobs[0].job_id}")
        thread.start()
        try:
            yield
        finally:
            finished.set()
            thread.join()

    def _retry(self, action: Callable[[], T], what: str, *, none_when_stopping: bool = False) -> T:
        """Run a database action, retrying with exponential backoff while the database is unreachable or
        busy (a restart, a lock). A stopping worker gives up after a few retries: a claim then returns
        None; anything else raises, and the job's lease expires so another worker redelivers it."""
        wait, tries = BACKOFF_FIRST, 0
        while True:
            try:
                result = action()
            except (OperationalError, DBAPIError) as exc:
                if not _is_transient(exc):
                    raise
                tries += 1
                if self.stopping.is_set() and tries > STOPPING_RETRIES:
                    if none_when_stopping:
                        return None  # type: ignore[return-value]
                    raise
                self._database_down(what, exc)
                time.sleep(wait)
                wait = min(wait * 2, BACKOFF_MAX)
                continue
            self._database_up()
            return result

    def _database_down(self, what: str, exc: Exception) -> None:
        """Log an outage once, when it starts (one line), and again at most every STILL_DOWN_LOG_SECONDS,
        however many threads and retries hit it; the SQLAlchemy message is cut to its first line."""
        now = time.monotonic()
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        with self._lock:
            if self._down_since is None:
                self._down_since = self._down_logged = now
                log.warning(
                    "cannot %s (%s); retrying with backoff (%.1f s doubling up to %.0f s)",
                    what,
                    why,
                    BACKOFF_FIRST,
                    BACKOFF_MAX,
                )
            elif now - self._down_logged >= STILL_DOWN_LOG_SECONDS:
                self._down_logged = now
                log.warning(
                    "database still unreachable after %.0f s (%s); retrying", now - self._down_since, why
                )

    def _database_up(self) -> None:
        """After an outage: one line saying the database answers again."""
        if self._down_since is None:  # the common case, without the lock
            return
        with self._lock:
            if self._down_since is not None:
                log.warning("database answers again after %.1f s", time.monotonic() - self._down_since)
                self._down_since = None

    def _sync_review_queue(self, *, force: bool = False) -> None:
        """Flagged items wait for a human in the review queue, as after `posbon scan`."""
        with self._lock:
            due = self._flagged_since_sync and (force or time.monotonic() - self._last_sync >= SYNC_SECONDS)
            if not due:
                return
            self._flagged_since_sync = False
            self._last_sync = time.monotonic()
        try:
            self._retry(lambda: sync_queue(self.store, active_policy(self.store)), "sync the review queue")
        except (OperationalError, DBAPIError):
            with self._lock:
                self._flagged_since_sync = True

    def _report(self, problem: Problem) -> None:
        with self._lock:
            self.summary.problems.append(problem)
        if self.on_problem is not None:
            self.on_problem(problem)

    @contextmanager
    def _signals_drain(self) -> Iterator[None]:
        """SIGTERM and SIGINT ask for a drain (when running in the main thread; else only `stop()`)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def drain(signum: int, _frame: FrameType | None) -> None:
            log.info("signal %s: finishing the current job, then stopping", signum)
            self.stopping.set()

        previous = {sig: signal.signal(sig, drain) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _is_transient(exc: DBAPIError) -> bool:
    """A lost connection or a busy/locked database: worth retrying. Anything else is a bug to surface."""
    return bool(exc.connection_invalidated or isinstance(exc, OperationalError))
