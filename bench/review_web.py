"""Review web app over HTTP: p50/p95/p99 latency of the queue page (and the JSON queue) with N queued items.

A uvicorn server on 127.0.0.1 (a free port) serves a temp store filled by bench/review_queue.py's `fill`;
one client logs in and requests pages in a bounded loop (count and time), loopback only.

Run: .venv/bin/python bench/review_web.py [--items 100000] [--requests 300]
Prints a table; copy it into docs/benchmarks.md with date, machine and command.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from posbon.review import create_api_key, create_user, queue_size, sync_queue  # noqa: E402
from posbon.review.policies import active_policy  # noqa: E402
from posbon.settings import Settings  # noqa: E402
from posbon.store import Store  # noqa: E402
from review_queue import fill  # noqa: E402  (the backend bench's data builder)

SERVER = """
import sys, pathlib, uvicorn
from posbon.settings import Settings
from posbon.web import create_app
uvicorn.run(create_app(Settings.load(pathlib.Path(sys.argv[1]))), host="127.0.0.1", port=int(sys.argv[2]),
            log_level="warning")
"""
PASSWORD = "bench password 123"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def timed(client: httpx.Client, url: str, n: int, budget_s: float, **kw: object) -> list[float]:
    took: list[float] = []
    stop = time.monotonic() + budget_s
    for _ in range(n):
        if time.monotonic() > stop:
            break
        t0 = time.perf_counter()
        r = client.get(url, **kw)  # type: ignore[arg-type]
        took.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, (url, r.status_code)
    return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300, help="requests per row of the table")
    parser.add_argument("--budget", type=float, default=60.0, help="seconds at most per row")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="posbon-bench-web-"))
    settings = Settings.load(data_dir)
    store = Store.open(settings.database_url)
    t0 = time.perf_counter()
    fill(store, args.items)
    sync_queue(store, active_policy(store))
    create_user(store, "bench", PASSWORD, "reviewer")
    key = create_api_key(store, "bench-key", "viewer")
    queued = queue_size(store)
    store.close()
    print(f"filled {args.items} items ({queued} queued) in {time.perf_counter() - t0:.1f} s")

    port = free_port()
    env = {**os.environ, "POSBON_DATA_DIR": str(data_dir)}
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(data_dir), str(port)], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            for _ in range(300):
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            page = client.get("/login")
            token = re.search(
                r'id="login-form">\s*<input type="hidden" name="csrf_token" value="([^"]+)"', page.text
            )
            assert token is not None
            r = client.post(
                "/login", data={"username": "bench", "password": PASSWORD, "csrf_token": token.group(1)}
            )
            assert r.status_code == 303, r.status_code
            rows = [
                ("GET /queue (first page, 50 rows)", "/queue", {}),
                (f"GET /queue?offset={queued // 2} (deep page)", f"/queue?offset={queued // 2}", {}),
                (
                    "GET /api/v1/queue (API key)",
                    "/api/v1/queue",
                    {"headers": {"Authorization": f"Bearer {key}"}},
                ),
            ]
            print(f"\n{'request':44} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
            for label, url, kw in rows:
                timed(client, url, 5, args.budget, **kw)  # warm-up
                took = timed(client, url, args.requests, args.budget, **kw)
                print(
                    f"{label:44} {len(took):>5} {statistics.median(took):>8.1f} "
                    f"{percentile(took, 95):>8.1f} {percentile(took, 99):>8.1f}"
                )
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
