"""Redelivery after SIGKILL: posbon's own job table against procrastinate, Celery and Dramatiq.

    .venv/bin/python bench/queue_redelivery.py [--jobs 600] [--throughput-jobs 300] [--kills 5]
        [--only posbon-60,posbon-5,procrastinate-30,procrastinate-5,celery,celery-child,dramatiq]
        [--pg postgresql://postgres@127.0.0.1:5432] [--amqp amqp://guest:guest@127.0.0.1:5672//]

Needs PostgreSQL (a role that may CREATE DATABASE) and, for Celery and Dramatiq, RabbitMQ. Every run
creates its own throwaway database and RabbitMQ queue (qbench_<pid>_<contender>_<run>) and drops them at
the end.
The libraries are in the `dev` extra. All contenders took 4.5 minutes on 2 shared cores (6 with the machine
busier); the 60 s lease alone is over a minute, by design. --only picks contenders.

The same workload for every queue: one job per item id; "processing an item" sleeps 20 ms, then in one
transaction upserts the item id into `qb_results` (idempotent: one row per item, however often it runs)
and appends a row to `qb_execs` (one per completed execution, so a job done twice shows). Two worker
processes, one job at a time each, started in their own process group.

Throughput run (no kills): --throughput-jobs jobs queued, two workers; jobs/s counts the jobs started
once both workers were busy, up to the last one finished (worker start-up is left out).

Kill run: --jobs jobs queued, two workers. --kills times, once both workers are up: the bench arms a
"hold" row; the next item to start its first execution takes it and sleeps 30 s instead of 20 ms, so the
bench knows which worker is mid-job. 0.3 s later the bench SIGKILLs that worker's whole process group (as
an OOM kill of a container or a lost machine would) and starts a new worker in its place; `celery-child`
kills only Celery's pool process, the case `task_reject_on_worker_lost` is for, and starts nothing. The
held item's next execution is short. Measured per kill: seconds from SIGKILL until the item starts again
and until it is done (median, max); then items stored vs queued, duplicate executions, and the time until
every item was stored.

Contenders:
- posbon-60 / posbon-5: posbon.roles.queue.JobQueue with a 60 s (default) / 5 s lease, driven the way
  `posbon worker` drives it: claim, heartbeat every lease/3 in a thread, process, complete; poll every
  second when nothing is claimable.
- procrastinate-30 / procrastinate-5: procrastinate workers (concurrency 1) with heartbeats every 10 s and
  stalled after 30 s (its defaults) / every 5/3 s and stalled after 5 s; stalled jobs are retried by the
  periodic task of procrastinate's "Retry stalled jobs" how-to (get_stalled_jobs + retry_job), run every
  second here (the how-to runs it every 10 minutes) at a priority above the backlog; idle workers poll
  every second (as posbon's do; the library default is 5 s).
- celery / celery-child: Celery on RabbitMQ, prefork pool of 1, acks_late, task_reject_on_worker_lost,
  prefetch multiplier 1.
- dramatiq: Dramatiq on RabbitMQ, one worker thread, prefetch 1 (it acknowledges after the actor ran).

Prints Markdown tables; exits 1 if any item was lost or a killed job was never done again.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

JOB_SECONDS = 0.02
HOLD_SECONDS = 30.0  # the held job's first execution: long enough to be killed in the middle of it
KILL_AFTER = 0.3  # seconds between the hold being taken and the SIGKILL
POLL = 0.05  # the bench's own polling of the database
RUN_DEADLINE = 180.0  # a run that has not stored every item by then is reported as failed

TABLES = """
CREATE TABLE qb_results (item_id text PRIMARY KEY, stored_at double precision NOT NULL);
CREATE TABLE qb_execs (item_id text NOT NULL, pid int NOT NULL, started_at double precision NOT NULL,
                       finished_at double precision NOT NULL);
CREATE TABLE qb_starts (item_id text NOT NULL, pid int NOT NULL, at double precision NOT NULL);
CREATE TABLE qb_hold (id serial PRIMARY KEY, armed_at double precision NOT NULL, pid int,
                      item_id text, taken_at double precision);
CREATE TABLE qb_ready (pid int NOT NULL, at double precision NOT NULL);
"""


@dataclass(frozen=True)
class Contender:
    name: str
    kind: str  # posbon | procrastinate | celery | dramatiq
    window: str  # how long a dead worker's job waits, as configured
    env: dict[str, str] = field(default_factory=dict)
    kill_child_only: bool = False
    throughput: bool = True  # one throughput run per library is enough


CONTENDERS = [
    Contender("posbon-60", "posbon", "lease 60 s", {"QB_LEASE": "60"}),
    Contender("posbon-5", "posbon", "lease 5 s", {"QB_LEASE": "5"}, throughput=False),
    Contender(
        "procrastinate-30",
        "procrastinate",
        "heartbeat 10 s, stalled 30 s",
        {"QB_HEARTBEAT": "10", "QB_STALLED": "30"},
    ),
    Contender(
        "procrastinate-5",
        "procrastinate",
        "heartbeat 1.7 s, stalled 5 s",
        {"QB_HEARTBEAT": str(5 / 3), "QB_STALLED": "5"},
        throughput=False,
    ),
    Contender("celery", "celery", "connection drop"),
    Contender("celery-child", "celery", "pool child lost", kill_child_only=True, throughput=False),
    Contender("dramatiq", "dramatiq", "connection drop"),
]


# ---- the work every worker does (in the worker processes) -------------------------------------------

_conn: psycopg.Connection[Any] | None = None
_conn_pid = 0


def _db() -> psycopg.Connection[Any]:
    """One connection per process (Celery's pool child is forked: never reuse the parent's)."""
    global _conn, _conn_pid
    if _conn is None or _conn_pid != os.getpid():
        _conn, _conn_pid = psycopg.connect(os.environ["QB_DSN"], autocommit=True), os.getpid()
    return _conn


def process_item(item_id: str) -> None:
    """Sleep 20 ms (30 s if this first execution takes an armed hold), then store idempotently."""
    db, pid, started = _db(), os.getpid(), time.time()
    held = db.execute(
        "UPDATE qb_hold SET pid = %s, item_id = %s, taken_at = %s WHERE id = ("
        " SELECT id FROM qb_hold WHERE pid IS NULL ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)"
        " AND NOT EXISTS (SELECT 1 FROM qb_starts WHERE item_id = %s) RETURNING id",
        (pid, item_id, started, item_id),
    ).fetchone()
    db.execute("INSERT INTO qb_starts VALUES (%s, %s, %s)", (item_id, pid, started))
    time.sleep(HOLD_SECONDS if held else JOB_SECONDS)
    with db.transaction():
        now = time.time()
        db.execute(
            "INSERT INTO qb_results VALUES (%s, %s) ON CONFLICT (item_id) DO UPDATE SET stored_at = %s",
            (item_id, now, now),
        )
        db.execute("INSERT INTO qb_execs VALUES (%s, %s, %s, %s)", (item_id, pid, started, now))


def ready() -> None:
    _db().execute("INSERT INTO qb_ready VALUES (%s, %s)", (os.getpid(), time.time()))


def _stop_event() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda _s, _f: stop.set())
    return stop


# ---- the contenders: enqueue (in the bench) and work (in a worker process) ---------------------------


def _sqlalchemy_url(dsn: str) -> str:
    return dsn.replace("postgresql://", "postgresql+psycopg://", 1)


def _posbon_items(n: int) -> list[Any]:
    from posbon.domain import Item

    return [Item(source="qbench", external_id=str(i), text=f"benign post {i}") for i in range(n)]


def posbon_setup(dsn: str) -> None:
    from posbon.store import Store

    Store.open(_sqlalchemy_url(dsn)).close()  # migrates: creates the jobs table


def posbon_enqueue(dsn: str, _amqp: str, n: int, _queue: str) -> list[str]:
    from posbon.roles.queue import JobQueue
    from posbon.store import Store

    store = Store.open(_sqlalchemy_url(dsn))
    items = _posbon_items(n)
    result = JobQueue(store).enqueue(items)  # one transaction: every job visible at once
    store.close()
    assert result.enqueued == n, result
    return [item.item_id for item in items]


def posbon_worker() -> None:
    from posbon.roles.queue import JobQueue
    from posbon.store import Store

    lease = float(os.environ["QB_LEASE"])
    store = Store.open(_sqlalchemy_url(os.environ["QB_DSN"]))
    queue = JobQueue(store, lease_seconds=lease)
    owner, stop = f"qbench:{os.getpid()}", _stop_event()
    ready()
    while not stop.is_set():
        job = queue.claim(owner)
        if job is None:
            stop.wait(1.0)  # `posbon worker`'s poll interval
            continue
        finished = threading.Event()

        def beat(job: Any = job, finished: threading.Event = finished) -> None:
            while not finished.wait(lease / 3):
                if not queue.heartbeat(job):
                    return

        beater = threading.Thread(target=beat, daemon=True)
        beater.start()
        try:
            process_item(job.item_id)
        finally:
            finished.set()
            beater.join()
        queue.complete(job)


def _procrastinate_app(dsn: str, queue: str, stalled: float) -> Any:
    import procrastinate

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=dsn))

    @app.task(name="qb_process", queue=queue)
    def work(item_id: str) -> None:
        process_item(item_id)

    # procrastinate's "Retry stalled jobs" recipe, every second, ahead of the backlog
    @app.periodic(cron="* * * * * *")
    @app.task(name="qb_retry_stalled", queue=queue, queueing_lock="qb_retry_stalled", priority=100)
    async def retry_stalled(timestamp: int) -> None:
        for job in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled):
            await app.job_manager.retry_job(job)

    app.qb_work = work  # type: ignore[attr-defined]
    return app


def procrastinate_setup(dsn: str) -> None:
    app = _procrastinate_app(dsn, "unused", 30)
    with app.open():
        app.schema_manager.apply_schema()


def procrastinate_enqueue(dsn: str, _amqp: str, n: int, queue: str) -> list[str]:
    app = _procrastinate_app(dsn, queue, 30)
    ids = [f"item-{i:05d}" for i in range(n)]
    with app.open():
        app.qb_work.batch_defer(*({"item_id": i} for i in ids))
    return ids


def procrastinate_worker() -> None:
    stalled = float(os.environ["QB_STALLED"])
    app = _procrastinate_app(os.environ["QB_DSN"], os.environ["QB_QUEUE"], stalled)
    ready()
    app.run_worker(
        queues=[os.environ["QB_QUEUE"]],
        concurrency=1,
        fetch_job_polling_interval=1.0,
        update_heartbeat_interval=float(os.environ["QB_HEARTBEAT"]),
        stalled_worker_timeout=stalled,
    )


def _celery_app(amqp: str, queue: str) -> Any:
    from celery import Celery

    app = Celery("qbench", broker=amqp)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=queue,
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )

    @app.task(name="qb_process")
    def work(item_id: str) -> None:
        process_item(item_id)

    return app


def celery_enqueue(_dsn: str, amqp: str, n: int, queue: str) -> list[str]:
    app = _celery_app(amqp, queue)
    ids = [f"item-{i:05d}" for i in range(n)]
    with app.producer_or_acquire() as producer:
        for item_id in ids:
            app.send_task("qb_process", args=[item_id], queue=queue, producer=producer)
    return ids


def celery_worker() -> None:
    from celery.signals import worker_ready

    app = _celery_app(os.environ["QB_AMQP"], os.environ["QB_QUEUE"])
    worker_ready.connect(lambda **_: ready(), weak=False)
    app.worker_main(
        [
            "worker",
            "--pool=prefork",
            "--concurrency=1",
            f"--queues={os.environ['QB_QUEUE']}",
            f"--hostname=qbench{os.getpid()}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=WARNING",
        ]
    )


def celery_cleanup(amqp: str, queue: str) -> None:
    app = _celery_app(amqp, queue)
    with app.connection_for_write() as conn, suppress(Exception):
        conn.default_channel.queue_delete(queue)
        conn.default_channel.exchange_delete(queue)


def _dramatiq_actor(amqp: str, queue: str) -> tuple[Any, Any]:
    import dramatiq
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    broker = RabbitmqBroker(url=amqp.removesuffix("//") + "/%2F" if amqp.endswith("//") else amqp)
    dramatiq.set_broker(broker)

    def work(item_id: str) -> None:
        process_item(item_id)

    decorate = dramatiq.actor(actor_name="qb_process", queue_name=queue, max_retries=0)
    return broker, decorate(work)


def dramatiq_enqueue(_dsn: str, amqp: str, n: int, queue: str) -> list[str]:
    broker, actor = _dramatiq_actor(amqp, queue)
    ids = [f"item-{i:05d}" for i in range(n)]
    for item_id in ids:
        actor.send(item_id)
    broker.close()
    return ids


def dramatiq_worker() -> None:
    import dramatiq

    broker, _actor = _dramatiq_actor(os.environ["QB_AMQP"], os.environ["QB_QUEUE"])
    worker = dramatiq.Worker(broker, worker_threads=1)
    worker.queue_prefetch = 1  # like Celery's prefetch multiplier 1
    stop = _stop_event()
    worker.start()
    ready()
    stop.wait()
    worker.stop()
    broker.close()


def dramatiq_cleanup(amqp: str, queue: str) -> None:
    broker, _actor = _dramatiq_actor(amqp, queue)
    with suppress(Exception):
        channel = broker.channel
        for name in (queue, f"{queue}.DQ", f"{queue}.XQ"):
            channel.queue_delete(name)
    broker.close()


@dataclass(frozen=True)
class Kind:
    setup: Callable[[str], None] | None
    enqueue: Callable[[str, str, int, str], list[str]]  # (dsn, amqp, jobs, queue) -> item ids
    worker: Callable[[], None]
    cleanup: Callable[[str, str], None] | None


KINDS = {
    "posbon": Kind(posbon_setup, posbon_enqueue, posbon_worker, None),
    "procrastinate": Kind(procrastinate_setup, procrastinate_enqueue, procrastinate_worker, None),
    "celery": Kind(None, celery_enqueue, celery_worker, celery_cleanup),
    "dramatiq": Kind(None, dramatiq_enqueue, dramatiq_worker, dramatiq_cleanup),
}


# ---- the bench ------------------------------------------------------------------------------------


@dataclass
class Kill:
    item_id: str
    at: float
    started_again: float | None = None  # seconds after the kill
    done_again: float | None = None


@dataclass
class RunResult:
    name: str
    queued: int
    stored: int = 0
    executions: int = 0
    duplicates: int = 0  # completed executions beyond the first, summed over items
    seconds: float = 0.0  # first start to every item stored
    jobs_per_s: float = 0.0
    kills: list[Kill] = field(default_factory=list)
    drained: bool = False


class Slot:
    """One worker position: its process (leader of its own process group) and its log."""

    def __init__(self, cmd: list[str], env: dict[str, str], log: Path) -> None:
        self.cmd, self.env, self.log = cmd, env, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.cmd, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def kill(self) -> None:
        with suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        assert self.proc is not None
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()
        with suppress(ProcessLookupError):  # leftovers of the group (a pool child)
            os.killpg(self.pid, signal.SIGKILL)


@contextmanager
def throwaway_database(pg: str, name: str) -> Iterator[str]:
    with psycopg.connect(f"{pg}/postgres", autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{pg}/{name}"
    finally:
        with psycopg.connect(f"{pg}/postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _wait(what: str, check: Callable[[], bool], timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(POLL)
    print(f"  (gave up waiting for {what} after {timeout:.0f} s)", file=sys.stderr)
    return False


def run(
    contender: Contender, args: argparse.Namespace, n: int, kills: int, tag: str, logs: Path
) -> RunResult:
    kind = KINDS[contender.kind]
    name = f"qbench_{os.getpid()}_{tag}".replace("-", "_")
    result = RunResult(contender.name, n)
    with throwaway_database(args.pg, name) as dsn:
        with psycopg.connect(dsn, autocommit=True) as db:
            db.execute(TABLES)
        if kind.setup is not None:
            kind.setup(dsn)
        env = {**os.environ, **contender.env, "QB_DSN": dsn, "QB_QUEUE": name, "QB_AMQP": args.amqp}
        env["dramatiq_queue_prefetch"] = "1"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", contender.kind]
        slots = [Slot(cmd, env, logs / f"{tag}-worker{i}.log") for i in range(2)]
        try:
            ids = kind.enqueue(dsn, args.amqp, n, name)
            for slot in slots:
                slot.start()
            with psycopg.connect(dsn, autocommit=True) as db:
                _kill_and_measure(db, contender, slots, ids, kills, result)
        finally:
            for slot in slots:
                slot.stop()
            if kind.cleanup is not None:
                kind.cleanup(args.amqp, name)
    return result


def _kill_and_measure(
    db: psycopg.Connection[Any],
    contender: Contender,
    slots: list[Slot],
    ids: list[str],
    kills: int,
    result: RunResult,
) -> None:
    def row(query: str, params: tuple[Any, ...] = ()) -> tuple[Any, ...]:
        found = db.execute(query, params).fetchone()
        assert found is not None, query
        return tuple(found)

    def one(query: str, params: tuple[Any, ...] = ()) -> Any:
        return row(query, params)[0]

    def all_ready() -> bool:
        pids = {int(p) for (p,) in db.execute("SELECT pid FROM qb_ready").fetchall()}
        return all(slot.pid in pids for slot in slots)

    def stored() -> int:
        return int(one("SELECT count(*) FROM qb_results"))

    if not _wait("the workers to start", all_ready, 60):
        return
    kill_list: list[Kill] = []
    while len(kill_list) < kills:
        if not _wait("a restarted worker", all_ready, 60):
            break
        time.sleep(0.5)
        if stored() < 20 and not _wait("the first 20 items", lambda: stored() >= 20, 30):
            break
        hold = int(one("INSERT INTO qb_hold (armed_at) VALUES (%s) RETURNING id", (time.time(),)))

        def taken(hold: int = hold) -> bool:
            return one("SELECT pid FROM qb_hold WHERE id = %s", (hold,)) is not None

        if not _wait("a job to take the hold", taken, 10):
            db.execute("DELETE FROM qb_hold WHERE id = %s AND pid IS NULL", (hold,))
            break  # the backlog ran out
        pid, item_id = row("SELECT pid, item_id FROM qb_hold WHERE id = %s", (hold,))
        time.sleep(KILL_AFTER)
        slot = next(s for s in slots if os.getpgid(pid) == s.pid)
        at = time.time()
        if contender.kill_child_only:
            os.kill(pid, signal.SIGKILL)  # Celery's pool child; its parent stays and forks a new one
        else:
            slot.kill()
            slot.start()
        kill_list.append(Kill(item_id, at))
    result.kills = kill_list
    result.drained = _wait("every item to be stored", lambda: stored() >= len(ids), RUN_DEADLINE)
    time.sleep(1.0)  # a late duplicate would show up here
    result.stored = int(one("SELECT count(*) FROM qb_results WHERE item_id = ANY(%s)", (ids,)))
    result.executions = int(one("SELECT count(*) FROM qb_execs"))
    result.duplicates = result.executions - int(one("SELECT count(DISTINCT item_id) FROM qb_execs"))
    first, last = row("SELECT min(started_at), max(finished_at) FROM qb_execs")
    result.seconds = (last or 0) - (first or 0)
    for kill in kill_list:
        again = one("SELECT min(at) FROM qb_starts WHERE item_id = %s AND at > %s", (kill.item_id, kill.at))
        done = one(
            "SELECT min(finished_at) FROM qb_execs WHERE item_id = %s AND finished_at > %s",
            (kill.item_id, kill.at),
        )
        kill.started_again = again - kill.at if again is not None else None
        kill.done_again = done - kill.at if done is not None else None
    if not kill_list:
        # steady state: from the moment both workers had started a job, to the last job done
        both = one("SELECT max(first) FROM (SELECT min(started_at) AS first FROM qb_execs GROUP BY pid) f")
        count = int(one("SELECT count(*) FROM qb_execs WHERE started_at >= %s", (both,)))
        result.jobs_per_s = count / max((last or 0) - both, 1e-9)


def _stats(values: list[float | None]) -> str:
    got = [v for v in values if v is not None]
    if not got:
        return "-"
    text = f"{statistics.median(got):.2f} / {max(got):.2f}"
    return text if len(got) == len(values) else f"{text} ({len(values) - len(got)} never)"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=600, help="jobs in each kill run")
    parser.add_argument("--throughput-jobs", type=int, default=300, help="jobs in each throughput run")
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--only", default="", help="comma-separated contender names")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--amqp", default="amqp://guest:guest@127.0.0.1:5672//")
    parser.add_argument("--worker", choices=sorted(KINDS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        KINDS[args.worker].worker()
        return 0
    chosen = [c for c in CONTENDERS if not args.only or c.name in args.only.split(",")]
    unknown = set(filter(None, args.only.split(","))) - {c.name for c in CONTENDERS}
    if unknown:
        parser.error(f"unknown contender(s): {', '.join(sorted(unknown))}")
    logs = Path(tempfile.mkdtemp(prefix="qbench-"))
    began = time.monotonic()
    throughput: list[RunResult] = []
    killed: list[tuple[Contender, RunResult]] = []
    for c in chosen:
        if c.throughput:
            print(f"{c.kind}: throughput run ({args.throughput_jobs} jobs)", file=sys.stderr)
            throughput.append(run(c, args, args.throughput_jobs, 0, f"{c.name}-tp", logs))
        print(f"{c.name}: kill run ({args.jobs} jobs, {args.kills} kills)", file=sys.stderr)
        killed.append((c, run(c, args, args.jobs, args.kills, f"{c.name}-kill", logs)))

    print(
        f"\nThroughput: 2 worker processes, 1 job at a time each, "
        f"{JOB_SECONDS * 1000:.0f} ms + upsert per job\n"
    )
    print("| queue | jobs | stored | jobs/s |")
    print("|---|---|---|---|")
    for r in throughput:
        print(f"| {r.name.split('-')[0]} | {r.queued} | {r.stored} | {r.jobs_per_s:.1f} |")
    print("\nSIGKILL mid-job: seconds from the kill until the job starts again / is done (median / max)\n")
    print(
        "| queue | dead worker's job waits for | kills | started again | done again | stored / queued "
        "| duplicate executions | all stored after (s) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    failed = False
    for c, r in killed:
        starts, dones = [k.started_again for k in r.kills], [k.done_again for k in r.kills]
        failed |= r.stored != r.queued or any(d is None for d in dones) or not r.drained
        print(
            f"| {c.name} | {c.window} | {len(r.kills)} | {_stats(starts)} | {_stats(dones)} "
            f"| {r.stored} / {r.queued} | {r.duplicates} | {r.seconds:.1f} |"
        )
    print(f"\nTotal {time.monotonic() - began:.0f} s; worker logs in {logs}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
