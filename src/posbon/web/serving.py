"""`posbon serve --api-only --workers N`: N uvicorn processes, each with its own SO_REUSEPORT socket.

uvicorn's own `--workers` shares one listening socket between its processes, and whichever process wakes
first accepts every connection waiting: in one load run all 16 of a client's connections went to one of two
processes, which halved the throughput (1,734 lookups/s against 3,003-3,334 in the others). With a socket
per process bound with SO_REUSEPORT, the kernel spreads new connections over the processes.

Hand-written because uvicorn's supervisor cannot give each worker its own socket; what it does is small:
start the processes (spawn: a fresh interpreter each, nothing inherited), start another when one dies,
and on SIGTERM or SIGINT stop them all (each drains through uvicorn's own graceful shutdown). Linux and
the BSDs have SO_REUSEPORT; elsewhere `posbon serve` falls back to uvicorn's shared socket.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import time
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

log = logging.getLogger("posbon.serve")

APP = "posbon.web.app:api_app_from_env"
QUICK_EXIT_SECONDS = 15.0  # a worker that dies this soon after starting is not restarted: something is wrong


class ServeError(Exception):
    """The workers cannot start (port taken, store unreadable): one line for the user."""


def reuse_port_supported() -> bool:
    return hasattr(socket, "SO_REUSEPORT")


def _listener(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def uvicorn_options(access_log: bool) -> dict[str, Any]:
    """The uvicorn settings of every way `posbon serve` runs (one process, a worker, uvicorn's own
    workers): proxy headers (behind a local reverse proxy, X-Forwarded-Proto=https marks cookies Secure),
    posbon's log format, access lines only on request."""
    from posbon.logs import uvicorn_log_config

    return {
        "proxy_headers": True,
        "log_level": "info",
        "access_log": access_log,
        "log_config": uvicorn_log_config(),
    }


def _probe(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a closed server's TIME_WAIT is fine
        sock.bind((host, port))
        sock.listen(1)


def _worker(host: str, port: int, access_log: bool) -> None:
    """One worker process: its own socket on the shared port, uvicorn on the API-only app."""
    import uvicorn

    from posbon.logs import configure_logging

    configure_logging()  # a spawned process: posbon's own loggers, JSON with POSBON_LOG_FORMAT=json
    config = uvicorn.Config(APP, factory=True, **uvicorn_options(access_log))
    # Build the app (and its match index, ~20 s per million hashes) before listening: a socket that
    # listens earlier is given its share of new connections by the kernel and leaves them waiting.
    config.load()
    sock = _listener(host, port)
    sock.listen(2048)
    uvicorn.Server(config).run(sockets=[sock])


def serve_workers(host: str, port: int, workers: int, *, access_log: bool = False) -> None:
    """Run `workers` processes until SIGTERM/SIGINT; ServeError if the port is taken or a worker cannot
    start. The environment (POSBON_DATA_DIR, POSBON_DATABASE_URL) must name the store already."""
    try:
        # A probe without SO_REUSEPORT: it fails against any listener, including another posbon's
        # SO_REUSEPORT workers, which would otherwise share the port and answer half the requests.
        _probe(host, port)
    except OSError as exc:
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    context = multiprocessing.get_context("spawn")
    stopping = False

    def start() -> tuple[BaseProcess, float]:
        process = context.Process(target=_worker, args=(host, port, access_log), name="posbon-serve-worker")
        process.start()
        return process, time.monotonic()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    running = [start() for _ in range(workers)]
    failed: str | None = None
    try:
        while not stopping:
            time.sleep(0.2)
            for number, (process, started) in enumerate(running):
                if process.is_alive() or stopping:
                    continue
                if time.monotonic() - started < QUICK_EXIT_SECONDS:
                    failed = (
                        f"a worker exited {time.monotonic() - started:.0f} s after it started "
                        f"(code {process.exitcode}); see its error above"
                    )
                    stopping = True
                    break
                log.warning("worker %s exited (code %s); starting another", process.pid, process.exitcode)
                running[number] = start()
    finally:
        for process, _ in running:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes the requests in hand
        for process, _ in running:
            process.join(30)
            if process.is_alive():
                process.kill()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if failed:
        raise ServeError(failed)
