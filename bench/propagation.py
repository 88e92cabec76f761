"""Bank change propagation: how long until a PDQ hash added to (or removed from) a bank is seen by every
`posbon serve` process on the same store.

    python bench/propagation.py [--rounds 30] [--via api|store]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/NEW_DB]

Starts --servers (default 2) `posbon serve` processes on free loopback ports, sharing one store, and a
`curator` API key (curators may also look up). Each round adds a new random PDQ hash:

- --via api (default): `POST /api/hma/c/bank/NAME/signal` on one server (in turn), removal with
  `DELETE /api/hma/c/bank/NAME/content/ID` on the other one;
- --via store: `Store.add_entries` / `Store.set_entry_enabled(False)` in this process, as the CLI does, so
  no server gets the in-process hint and every one learns of it from the change log.

From the moment the write returned (committed), the bench polls `GET /api/hma/m/lookup` on every server
every --poll seconds (default 0.05) until all of them see the hash (after an add) or none does (after a
removal), and records per round the time until the last server agreed. Prints p50/p95/max for add and
remove (target: within 5 s) and exits 1 if a round timed out or missed the target.

SQLite by default (a temp data dir). With --database-url the bench CREATES that PostgreSQL database (it
must not exist) and DROPS it at the end (unless --keep). Loopback only.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from posbon.domain import SignalType
from posbon.match.banklist import NewEntry
from posbon.review import create_api_key
from posbon.settings import Settings
from posbon.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scratch_db  # noqa: E402

BANK = "PROPAGATION_BENCH"
TARGET_SECONDS = 5.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def sees(client: httpx.Client, pdq: str) -> bool:
    r = client.get("/api/hma/m/lookup", params={"signal_type": "pdq", "signal": pdq, "banks": BANK})
    r.raise_for_status()
    return bool(r.json().get(BANK))


def wait_until(clients: list[httpx.Client], pdq: str, want: bool, poll: float, timeout: float) -> list[float]:
    """Seconds until each server agreed (`want`: sees the hash or not); inf for one that never did."""
    began = time.monotonic()
    agreed: list[float | None] = [None] * len(clients)
    while time.monotonic() - began < timeout:
        tick = time.monotonic()
        for n, client in enumerate(clients):
            if agreed[n] is None and sees(client, pdq) == want:
                agreed[n] = time.monotonic() - began
        if all(a is not None for a in agreed):
            break
        time.sleep(max(0.0, poll - (time.monotonic() - tick)))
    return [float("inf") if a is None else a for a in agreed]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument("--via", choices=("api", "store"), default="api")
    parser.add_argument("--poll", type=float, default=0.05, help="seconds between lookups on each server")
    parser.add_argument("--timeout", type=float, default=15.0, help="give up on a round after this long")
    parser.add_argument("--database-url", help="a PostgreSQL database to create, use and drop")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir and the database")
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    if args.rounds < 1 or args.servers < 1:
        parser.error("--rounds and --servers must be positive")

    backend = "sqlite"
    if args.database_url:
        scratch_db.create(parser, args.database_url)
        backend = "postgresql"

    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="posbon-propagation-"))
    data = work / "data"
    os.environ.pop("POSBON_DATABASE_URL", None)
    os.environ["POSBON_DATA_DIR"] = str(data)
    if args.database_url:
        os.environ["POSBON_DATABASE_URL"] = args.database_url
    env = dict(os.environ)  # the servers' environment: the same store
    servers: list[subprocess.Popen[bytes]] = []
    clients: list[httpx.Client] = []
    store: Store | None = None
    try:
        store = Store.open(Settings.load(data).database_url)
        store.create_bank(BANK, "bench/propagation.py")
        token = create_api_key(store, "bench-curator", "curator")
        posbon = str(Path(sys.executable).with_name("posbon"))
        logs = []
        for n in range(args.servers):
            port = free_port()
            log = (work / f"serve-{n}.log").open("wb")
            logs.append(log)
            servers.append(
                subprocess.Popen(
                    [posbon, "serve", "--host", "127.0.0.1", "--port", str(port)],
                    env=env,
                    stdout=log,
                    stderr=log,
                )
            )
            clients.append(
                httpx.Client(
                    base_url=f"http://127.0.0.1:{port}",
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=30,
                )
            )
        deadline = time.monotonic() + 120
        for server, client in zip(servers, clients, strict=True):
            while True:
                try:
                    if client.get("/api/hma/status").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit(f"posbon serve did not come up; see {work}")
                time.sleep(0.2)
        print(
            f"{backend}: {len(servers)} servers up ({work}); {args.rounds} rounds via {args.via}", flush=True
        )

        adds: list[float] = []
        removes: list[float] = []
        writes: list[float] = []
        own: list[float] = []  # the writing server itself (api only)
        for round_no in range(args.rounds):
            pdq = f"{rng.getrandbits(256):064x}"
            writer, remover = round_no % len(clients), (round_no + 1) % len(clients)
            t0 = time.monotonic()
            if args.via == "api":
                r = clients[writer].post(f"/api/hma/c/bank/{BANK}/signal", json={"pdq": pdq})
                r.raise_for_status()
                entry_id = int(r.json()["id"])
            else:
                store.add_entries(BANK, [NewEntry(SignalType.PDQ, pdq)], source="bench")
                entry_id = next(e.entry_id for e in store.entries(BANK) if e.value == pdq)
            writes.append(time.monotonic() - t0)
            seen = wait_until(clients, pdq, True, args.poll, args.timeout)
            adds.append(max(seen))
            if args.via == "api":
                own.append(seen[writer])
            # a server polls the change log when a lookup comes and 0.5 s have passed: ours just made all
            # of them poll, so wait a random time before the removal, else it always lands ~0.5 s early
            time.sleep(rng.uniform(0, 0.5))
            t0 = time.monotonic()
            if args.via == "api":
                r = clients[remover].delete(f"/api/hma/c/bank/{BANK}/content/{entry_id}")
                r.raise_for_status()
                assert r.json() == {"deleted": 1}, r.text
            else:
                store.set_entry_enabled(entry_id, False)
            writes.append(time.monotonic() - t0)
            gone = wait_until(clients, pdq, False, args.poll, args.timeout)
            removes.append(max(gone))
            if args.via == "api":
                own.append(gone[remover])
            time.sleep(rng.uniform(0, 0.5))  # likewise before the next add

        load = os.getloadavg()
        print()
        print(
            f"{backend}, {len(servers)} x posbon serve, via {args.via}, {args.rounds} rounds, lookups every "
            f"{args.poll:g} s, {os.cpu_count()} CPUs, "
            f"load avg 1/5/15 min {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
        )
        print("| change | rounds | p50 s | p95 s | max s | within 5 s |")
        print("|---|---|---|---|---|---|")
        ok = True
        for name, values in (("add (all servers see it)", adds), ("remove (no server sees it)", removes)):
            within = sum(1 for v in values if v <= TARGET_SECONDS)
            ok = ok and within == len(values)
            print(
                f"| {name} | {len(values)} | {percentile(values, 50):.2f} | {percentile(values, 95):.2f} | "
                f"{max(values):.2f} | {within}/{len(values)} |"
            )
        print()
        print(
            f"the write itself (until the commit returned): p50 {percentile(writes, 50) * 1000:.0f} ms, "
            f"max {max(writes) * 1000:.0f} ms"
        )
        if own:
            print(
                f"the server that made the change: p50 {percentile(own, 50):.2f} s, max {max(own):.2f} s "
                "(it applies its own change at once)"
            )
        return 0 if ok else 1
    finally:
        for client in clients:
            client.close()
        for server in servers:
            server.terminate()
        for server in servers:
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        if store is not None:
            store.close()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
            if backend == "postgresql":
                scratch_db.drop(args.database_url)


if __name__ == "__main__":
    raise SystemExit(main())
