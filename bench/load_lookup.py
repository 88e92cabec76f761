"""HMA-compatible match API under load on loopback: lookups/s and p50/p99 latency of
`GET /api/hma/m/lookup?signal_type=pdq&signal=HEX`, next to the in-process `MatchService.lookup` rate.

Builds a temp store with N random PDQ hashes (one Store.add_entries call, its bulk path: 1M in ~15-20 s
on SQLite, see bench/bank_load.py), creates a `matcher` API key, starts
`posbon serve` on 127.0.0.1 (a free port) as a subprocess, waits for /api/hma/status, then drives load with
`wrk` when installed (a Lua script rotates the URLs and sends the Authorization header) or else a bounded
httpx/asyncio client. Half the requests are planted hits (a bank hash with a few bits flipped), half are
random hashes. Stops by itself after --seconds; loopback only.

Run: .venv/bin/python bench/load_lookup.py [--bank-size 100000] [--seconds 20] [--connections 16]
         [--workers 1] [--wrk-threads 2]
`--workers N` above 1 runs `posbon serve --api-only --workers N` (one process per core). The table also
gives the resident memory of the server processes after the load (each holds its own index).
Prints a table; copy it into docs/benchmarks.md with date, machine and command.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from posbon.domain import SignalType
from posbon.match.banklist import NewEntry
from posbon.match.service import MatchService, parse_signal
from posbon.review import create_api_key
from posbon.settings import Settings
from posbon.store import Store

BANK = "BENCH_PDQ"
URL_POOL = 2000  # distinct URLs the load rotates over (half hits, half misses)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def flip_bits(pdq: str, n: int, rng: random.Random) -> str:
    value = int(pdq, 16)
    for bit in rng.sample(range(256), n):
        value ^= 1 << bit
    return f"{value:064x}"


def build(store: Store, size: int, rng: random.Random) -> list[str]:
    store.create_bank(BANK)
    hashes = [f"{rng.getrandbits(256):064x}" for _ in range(size)]
    store.add_entries(BANK, [NewEntry(SignalType.PDQ, h) for h in hashes])  # one transaction, bulk path
    return hashes


def queries(bank: list[str], rng: random.Random) -> list[str]:
    out: list[str] = []
    for i in range(URL_POOL):
        if i % 2 == 0:
            out.append(flip_bits(rng.choice(bank), 8, rng))  # a planted hit: well within distance 31
        else:
            out.append(f"{rng.getrandbits(256):064x}")  # random: ~128 bits from everything
    return out


def in_process_rate(store: Store, settings: Settings, qs: list[str], seconds: float) -> tuple[float, float]:
    """Lookups/s of MatchService.lookup (one signal per call, as the GET route does) and its hit ratio."""
    service = MatchService(store, settings)
    signals = [parse_signal("pdq", q) for q in qs]
    service.lookup(signals[:1])  # build the index outside the timing
    done = hits = 0
    stop = time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < stop:
        found = service.lookup([signals[done % len(signals)]])
        hits += bool(found[0])
        done += 1
    return done / (time.perf_counter() - started), hits / max(done, 1)


LUA = """
local paths = {}
for line in io.lines("%(urls)s") do paths[#paths + 1] = line end
local i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i], {["Authorization"] = "Bearer %(token)s"})
end
"""


def wrk_unit(value: str) -> float:
    """wrk's latency text (e.g. 850.00us, 3.21ms, 1.02s) in milliseconds."""
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", value)
    if m is None:
        return float("nan")
    return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]


def run_wrk(
    base: str, token: str, paths: list[str], seconds: int, conns: int, work: Path, threads: int = 2
) -> dict[str, float]:
    urls = work / "urls.txt"
    urls.write_text("\n".join(paths) + "\n")
    script = work / "lookup.lua"
    script.write_text(LUA % {"urls": urls, "token": token})
    cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--latency", "-s", str(script), base]
    text = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30, check=True).stdout
    lat = {m.group(1): wrk_unit(m.group(2)) for m in re.finditer(r"^\s+(50|99)%\s+(\S+)", text, re.M)}
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    total = re.search(r"(\d+) requests in", text)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    errors = int(non2xx.group(1)) if non2xx else 0
    if sock:
        errors += sum(int(g) for g in sock.groups())
    return {
        "rps": float(rps.group(1)) if rps else 0.0,
        "p50": lat.get("50", float("nan")),
        "p99": lat.get("99", float("nan")),
        "errors": errors,
        "requests": int(total.group(1)) if total else 0,
    }


async def run_httpx(base: str, token: str, paths: list[str], seconds: int, conns: int) -> dict[str, float]:
    took: list[float] = []
    errors = 0
    stop = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=conns)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=10) as client:

        async def one(offset: int) -> None:
            nonlocal errors
            i = offset
            while time.monotonic() < stop:
                t0 = time.perf_counter()
                try:
                    r = await client.get(paths[i % len(paths)])
                    errors += r.status_code != 200
                except httpx.HTTPError:
                    errors += 1
                took.append((time.perf_counter() - t0) * 1000)
                i += conns

        started = time.monotonic()
        await asyncio.gather(*(one(k) for k in range(conns)))
        elapsed = time.monotonic() - started
    return {
        "rps": len(took) / elapsed,
        "p50": statistics.median(took) if took else float("nan"),
        "p99": percentile(took, 99) if took else float("nan"),
        "errors": errors,
        "requests": len(took),
    }


def server_rss_mb(pid: int) -> list[float]:
    """Resident memory (MB) of the server process and its children (uvicorn's workers), from /proc."""

    def rss(p: int) -> float:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    children = Path(f"/proc/{pid}/task/{pid}/children")
    kids = [int(c) for c in children.read_text().split()] if children.exists() else []
    return [rss(p) for p in [pid, *kids]]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bank-size", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=20, help="length of the HTTP load")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--client", choices=("auto", "wrk", "httpx"), default="auto")
    parser.add_argument("--workers", type=int, default=1, help="server processes (--api-only above 1)")
    parser.add_argument("--wrk-threads", type=int, default=2)
    args = parser.parse_args()
    rng = random.Random(7)

    work = Path(tempfile.mkdtemp(prefix="posbon-bench-lookup-"))
    data_dir = work / "data"
    settings = Settings.load(data_dir)
    store = Store.open(settings.database_url)
    t0 = time.perf_counter()
    bank = build(store, args.bank_size, rng)
    token = create_api_key(store, "bench-matcher", "matcher")
    print(f"banked {args.bank_size} random PDQ hashes in {time.perf_counter() - t0:.1f} s ({work})")
    qs = queries(bank, rng)
    inproc, hit_ratio = in_process_rate(store, settings, qs, 5.0)
    store.close()

    port = free_port()
    env = {**os.environ, "POSBON_DATA_DIR": str(data_dir), "POSBON_LOG_FORMAT": "json"}
    posbon = str(Path(sys.executable).with_name("posbon"))
    extra = ["--api-only", "--workers", str(args.workers)] if args.workers > 1 else []
    server_log = work / "serve.log"
    server = subprocess.Popen(
        [posbon, "serve", "--host", "127.0.0.1", "--port", str(port), *extra],
        env=env,
        stdout=server_log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    paths = [f"/api/hma/m/lookup?signal_type=pdq&signal={q}" for q in qs]
    try:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120) as client:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if client.get("/api/hma/status").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("posbon serve did not come up")
                time.sleep(0.2)
            # every process builds its own index before it listens: start the load only when all are up,
            # or the first process gets every connection while the others build (a full core each)
            while server_log.read_text(errors="replace").count("Application startup complete") < args.workers:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("posbon serve's processes did not all come up")
                time.sleep(0.2)
            for p in paths[: 20 * args.workers]:
                assert client.get(p).status_code == 200
        use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk") is not None)
        load_before = os.getloadavg()
        if use_wrk:
            result = run_wrk(base, token, paths, args.seconds, args.connections, work, args.wrk_threads)
        else:
            result = asyncio.run(run_httpx(base, token, paths, args.seconds, args.connections))
        load_after = os.getloadavg()
        rss_mb = server_rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=15)

    client_name = "wrk" if use_wrk else "httpx"
    print(
        f"\nbank {args.bank_size} PDQ, {os.cpu_count()} CPUs, {args.connections} connections, "
        "50% planted hits"
    )
    print(f"{'path':44} {'lookups/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    print(f"{'MatchService.lookup (in process, 1 thread)':44} {inproc:>10.0f} {'':>8} {'':>8} {0:>7}")
    label = f"GET /api/hma/m/lookup ({client_name}, {args.seconds} s, {args.workers} proc)"
    print(
        f"{label:44} {result['rps']:>10.0f} {result['p50']:>8.1f} {result['p99']:>8.1f} "
        f"{int(result['errors']):>7}"
    )
    print(f"in-process hit ratio {hit_ratio:.2f}; HTTP requests {int(result['requests'])}")
    print("server resident memory after the load: " + ", ".join(f"{mb:.0f} MB" for mb in rss_mb))
    print(
        "load average (1/5/15 min) before: {:.2f} {:.2f} {:.2f}; after: {:.2f} {:.2f} {:.2f}".format(
            *load_before, *load_after
        )
    )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
