"""A database outage under a running `posbon worker` (PostgreSQL only): the worker rides it out and loses
nothing.

The machine's PostgreSQL is never restarted. A small TCP proxy sits between the worker and PostgreSQL; the
test cuts every proxied connection and refuses new ones for 3 s (closed listening socket: connection
refused), which is what a server restart looks like to a client, then listens again on the same port.
Benign stand-in texts only.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from posbon.settings import Settings
from posbon.store import Store
from posbon.store.models import ItemRow
from posbon.store.queue_models import JobRow

pytestmark = pytest.mark.pg

ITEMS = 20
OUTAGE_SECONDS = 3.0


class OutageProxy:
    """A threaded TCP proxy on 127.0.0.1 that can simulate a server restart: `cut()` drops every
    connection and closes the listening socket (new connections are refused), `restore()` listens again
    on the same port."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = 0
        self.accepted = 0  # client connections accepted, over the proxy's life
        self.accepted_at_cut = 0
        self.cut_connections = 0  # live connections dropped by cut()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            live = list(self._sockets)
            self._sockets.clear()
            self.accepted_at_cut = self.accepted
        if listener is not None:
            _close(listener)
        self.cut_connections += sum(1 for s in live if s.fileno() != -1) // 2
        for s in live:
            _close(s)

    def close(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            live = list(self._sockets)
        for s in [*live, *([listener] if listener else [])]:
            _close(s)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut(): the listener was closed
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                if self._listener is not listener:  # cut while this one was being set up
                    _close(client)
                    _close(server)
                    continue
                self.accepted += 1
                self._sockets.update((client, server))
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            _close(src)
            _close(dst)
            with self._lock:
                self._sockets.discard(src)
                self._sockets.discard(dst)


def _close(s: socket.socket) -> None:
    with contextlib.suppress(OSError):
        s.shutdown(socket.SHUT_RDWR)
    s.close()


def _counts(store: Store) -> tuple[dict[str, int], int, int]:
    with store.session() as s:
        rows = s.execute(select(JobRow.status, func.count()).group_by(JobRow.status)).all()
        jobs = {str(status): int(n) for status, n in rows}
        items, distinct = s.execute(select(func.count(), func.count(func.distinct(ItemRow.item_id)))).one()
    return jobs, int(items), int(distinct)


def _done(store: Store) -> int:
    return _counts(store)[0].get("done", 0)


def _wait(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("batch", [1, 5])
def test_a_worker_survives_a_database_restart_and_stores_every_item_once(tmp_path: Path, batch: int) -> None:
    from posbon.cli import app

    database_url = os.environ["POSBON_DATABASE_URL"]  # this test's fresh database (tests/conftest.py)
    url = make_url(database_url)
    proxy = OutageProxy((url.host or "127.0.0.1", url.port or 5432))
    proxied_url = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)

    data_dir = tmp_path / "data"
    posts = tmp_path / "posts.jsonl"
    posts.write_text(
        "".join(
            json.dumps({"id": str(n), "text": f"Weather note {n}: light rain, then sun over the lake."})
            + "\n"
            for n in range(ITEMS)
        ),
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["--data-dir", str(data_dir), "enqueue", str(posts)])
    assert result.exit_code == 0, result.output
    store = Store.open(Settings.load(data_dir).database_url)  # direct, not through the proxy

    env = {
        **os.environ,
        "POSBON_DATA_DIR": str(data_dir),
        "POSBON_DATABASE_URL": proxied_url,
        "POSBON_WORKER_TEST_DELAY": "0.15",  # ~3 s of work, so the outage falls in the middle
    }
    posbon = str(Path(sys.executable).with_name("posbon"))
    # small batches, so the worker still has work (and database writes) ahead when the outage comes
    cmd = [posbon, "worker", "--once", "--no-ocr", "-q", "--lease-seconds", "2", "--batch", str(batch)]
    worker = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait(lambda: _done(store) >= 3, 30, "the worker to finish 3 items")
        proxy.cut()
        done_at_cut = _done(store)
        time.sleep(OUTAGE_SECONDS)
        alive_through_outage = worker.poll() is None
        done_in_outage = _done(store) - done_at_cut
        proxy.restore()
        stdout, stderr = worker.communicate(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.communicate()
        proxy.close()

    assert proxy.cut_connections >= 1  # the worker held a connection that the "restart" dropped
    assert alive_through_outage, stderr
    assert done_in_outage == 0  # nothing reached the database while it was "down"
    assert proxy.accepted > proxy.accepted_at_cut  # it reconnected through the restored proxy
    assert worker.returncode == 0, stderr
    assert "Traceback" not in stderr, stderr
    print(stderr)  # shown with -s: the outage and recovery lines
    lines = stderr.splitlines()
    assert len(lines) == 2, stderr  # one line when the outage began, one when it ended; nothing more
    assert "retrying with backoff" in lines[0] and "OperationalError" in lines[0], stderr
    assert "database answers again after" in lines[1], stderr
    again_after = float(lines[1].rsplit("after ", 1)[1].removesuffix(" s"))
    assert OUTAGE_SECONDS - 1.5 < again_after < OUTAGE_SECONDS + 5  # waited it out; backoff, not a busy loop
    jobs, items, distinct = _counts(store)
    assert jobs == {"done": ITEMS}, (jobs, stderr)
    assert items == distinct == ITEMS
    store.close()
