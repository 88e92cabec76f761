"""posbon's PDQ index against threatexchange's PDQIndex (faiss MultiHash) and PDQIndex2 (faiss FlatL2).

    python bench/pdq_index.py --sizes 100000,1000000            # default, a few minutes
    python bench/pdq_index.py --sizes 10000000 --indexes posbon,pdqindex

Every index gets the same random bank (seeded) and the same queries: 1000 planted near-duplicates at
distances 0..31 (uniform) of known bank rows, plus 1000 random hashes. Each index runs in its own
subprocess so its memory is measured alone (RSS from /proc/self/status; the input hex strings are made
before the baseline is taken). Measured: build time, RSS growth, batched and one-at-a-time lookups/s (wall
and CPU seconds: the machine is shared, so note `uptime`), recall of the planted matches, false matches
(reported pairs whose true distance is over 31), time to add 10k hashes to the built bank, snapshot
save/load (posbon: its memory-mapped file; threatexchange: pickle, as HMA stores its index).
Prints a table with ratios to each reference; copy it into docs/pdq.md.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

THRESHOLD = 31
PLANTED = 1000
RANDOM = 1000
ADD = 10_000
FLAT_FLOAT_BYTES = 256 * 4  # PDQIndex2 keeps 256 float32 per hash


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def make_data(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(bank (n, 32) uint8, queries (2000, 32), planted source row per query (-1 for random), extra 10k)."""
    rng = np.random.default_rng(20240601 + size)
    bank = rng.integers(0, 256, (size, 32), dtype=np.uint8)
    sources = rng.integers(0, size, PLANTED)
    bits = np.unpackbits(bank[sources], axis=1)
    for row, distance in enumerate(rng.integers(0, THRESHOLD + 1, PLANTED)):
        bits[row, rng.choice(256, int(distance), replace=False)] ^= 1
    queries = np.concatenate([np.packbits(bits, axis=1), rng.integers(0, 256, (RANDOM, 32), dtype=np.uint8)])
    source = np.concatenate([sources, np.full(RANDOM, -1)])
    extra = rng.integers(0, 256, (ADD, 32), dtype=np.uint8)
    return bank, queries, source, extra


def to_hex(rows: np.ndarray) -> list[str]:
    raw = rows.tobytes().hex()
    return [raw[i : i + 64] for i in range(0, len(raw), 64)]


def score(bank: np.ndarray, queries: np.ndarray, source: np.ndarray, pairs: list[tuple[int, int]]) -> dict:
    """Recall of planted (query, source) pairs and count of reported pairs really beyond the threshold."""
    found = set(pairs)
    planted = [(q, int(s)) for q, s in enumerate(source) if s >= 0]
    recall = sum(pair in found for pair in planted) / len(planted) if planted else float("nan")
    qs = np.array([p[0] for p in pairs], dtype=np.int64)
    ids = np.array([p[1] for p in pairs], dtype=np.int64)
    false = 0
    if len(pairs):
        true = np.bitwise_count(queries[qs].view(np.uint64) ^ bank[ids].view(np.uint64)).sum(axis=1)
        false = int((true > THRESHOLD).sum())
    return {"recall": recall, "false_matches": false, "reported": len(pairs)}


def timed(fn: Any) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


# --- workers (one per index and size, in a subprocess) ---------------------------------------------------


def worker(kind: str, size: int, single: int, batch_limit: int, snapshot: str | None) -> dict:
    bank, queries, source, extra = make_data(size)
    queries, source = queries[:batch_limit], source[:batch_limit]
    bank_hex, query_hex, extra_hex = to_hex(bank), to_hex(queries), to_hex(extra)
    base_rss = rss_mb()
    out: dict[str, Any] = {"index": kind, "size": size, "queries": len(queries)}
    if kind == "posbon":
        from posbon.match.pdq import PdqIndex

        PdqIndex(bank_hex[:20_000]).search_batch(query_hex[:4])  # compile the search loop outside the timing
        base_rss = rss_mb()
        index, out["build_s"], _ = timed(lambda: PdqIndex(bank_hex))
        out["rss_mb"] = rss_mb() - base_rss
        out["peak_mb"] = peak_mb() - base_rss

        def batch() -> list[tuple[int, int]]:
            q, ids, _ = index.search_arrays(query_hex)
            return list(zip(q.tolist(), ids.tolist(), strict=True))

        def one_by_one() -> None:
            for h in query_hex[:single]:
                index.search(h)

        def add() -> None:
            index.add(np.arange(size, size + ADD), extra_hex)

        if snapshot:
            path = Path(snapshot)
            _, out["save_s"], _ = timed(lambda: index.save(path))
            out["snapshot_mb"] = path.stat().st_size / 2**20
    elif kind == "pdqindex":
        from threatexchange.signal_type.pdq.pdq_index import PDQIndex

        index, out["build_s"], _ = timed(lambda: PDQIndex(zip(bank_hex, range(size), strict=True)))
        out["rss_mb"] = rss_mb() - base_rss
        out["peak_mb"] = peak_mb() - base_rss

        def batch() -> list[tuple[int, int]]:
            found = index.index.search_with_distance_in_result(query_hex, THRESHOLD)
            position = {h: i for i, h in enumerate(query_hex)}
            return [(position[h], int(m[0])) for h, ms in found.items() for m in ms]

        def one_by_one() -> None:
            for h in query_hex[:single]:
                index.query(h)

        def add() -> None:
            index.add_all(zip(extra_hex, range(size, size + ADD), strict=True))

        if snapshot:
            path = Path(snapshot)
            _, out["save_s"], _ = timed(lambda: path.write_bytes(pickle.dumps(index)))
            out["snapshot_mb"] = path.stat().st_size / 2**20
    elif kind == "pdqindex2":
        from threatexchange.signal_type.pdq.pdq_index2 import PDQIndex2
        from threatexchange.signal_type.pdq.pdq_utils import convert_pdq_strings_to_ndarray

        index, out["build_s"], _ = timed(lambda: PDQIndex2(entries=zip(bank_hex, range(size), strict=True)))
        out["rss_mb"] = rss_mb() - base_rss
        out["peak_mb"] = peak_mb() - base_rss

        def batch() -> list[tuple[int, int]]:
            limits, _, found = index._index.faiss_index.range_search(
                convert_pdq_strings_to_ndarray(query_hex), THRESHOLD + 1
            )
            return [
                (q, int(found[j])) for q in range(len(query_hex)) for j in range(limits[q], limits[q + 1])
            ]

        def one_by_one() -> None:
            for h in query_hex[:single]:
                index.query(h)

        def add() -> None:
            index.add_all(zip(extra_hex, range(size, size + ADD), strict=True))

        if snapshot:
            path = Path(snapshot)
            _, out["save_s"], _ = timed(lambda: path.write_bytes(pickle.dumps(index)))
            out["snapshot_mb"] = path.stat().st_size / 2**20
    else:
        raise SystemExit(f"unknown index {kind}")

    pairs, wall, cpu = timed(batch)
    out["batch_qps"], out["batch_cpu_qps"] = len(queries) / wall, len(queries) / max(cpu, 1e-9)
    out.update(score(bank, queries, source, pairs))
    _, wall, cpu = timed(one_by_one)
    out["single_qps"], out["single_cpu_qps"] = single / wall, single / max(cpu, 1e-9)
    _, out["add10k_s"], _ = timed(add)
    out["rss_after_mb"] = rss_mb() - base_rss
    return out


def load_worker(kind: str, size: int, snapshot: str) -> dict:
    """A fresh process: load the snapshot, answer the batch, report time and resident memory."""
    bank, queries, source, _ = make_data(size)
    query_hex = to_hex(queries)
    del bank
    out: dict[str, Any] = {}
    if kind == "posbon":
        from posbon.match.pdq import PdqIndex

        PdqIndex(query_hex).search_batch(query_hex[:4])  # numba's runtime and the compiled loop, not the bank
        base_rss = rss_mb()
        index, out["load_s"], _ = timed(lambda: PdqIndex.load(snapshot, mmap=True))
        _, wall, _ = timed(lambda: index.search_arrays(query_hex))
        out["first_batch_s"] = wall
        _, wall, _ = timed(lambda: index.search_arrays(query_hex))
        out["loaded_batch_qps"] = len(query_hex) / wall
    else:
        base_rss = rss_mb()
        loaded, out["load_s"], _ = timed(lambda: pickle.loads(Path(snapshot).read_bytes()))
        out["loaded_rss_mb"] = rss_mb() - base_rss
        del loaded
    out.setdefault("loaded_rss_mb", rss_mb() - base_rss)
    return out


# --- orchestration ---------------------------------------------------------------------------------------


def run_worker(args: list[str]) -> dict:
    command = [sys.executable, __file__, *args]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def mem_available_mb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# Rough bytes per banked hash at peak in a worker (input hex strings included), to skip what cannot fit.
PEAK_BYTES_PER_HASH = {"posbon": 300, "pdqindex": 650, "pdqindex2": 1400}


def skip_reason(kind: str, size: int) -> str | None:
    if kind == "pdqindex2" and size * FLAT_FLOAT_BYTES > 2 * 2**30:
        return f"not run: {size * FLAT_FLOAT_BYTES / 2**30:.0f} GB of floats, and a full scan per query"
    need = PEAK_BYTES_PER_HASH[kind] * size / 2**20 + 300
    if mem_available_mb() < need * 1.3:
        return f"not run: needs ~{need:,.0f} MB, {mem_available_mb():,.0f} MB available"
    return None


def fmt(value: Any, digits: int = 0) -> str:
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--indexes", default="posbon,pdqindex,pdqindex2")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--load-worker", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--single", type=int, default=200, help=argparse.SUPPRESS)
    parser.add_argument("--batch-limit", type=int, default=PLANTED + RANDOM, help=argparse.SUPPRESS)
    parser.add_argument("--snapshot", help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.size, args.single, args.batch_limit, args.snapshot)))
        return
    if args.load_worker:
        print(json.dumps(load_worker(args.load_worker, args.size, args.snapshot)))
        return

    print(f"# {time.strftime('%Y-%m-%d %H:%M')}  {os.uname().nodename}  cores={os.cpu_count()}")
    results: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="pdqbench") as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            for kind in args.indexes.split(","):
                load = os.getloadavg()[0]
                reason = skip_reason(kind, size)
                if reason:
                    results.append({"index": kind, "size": size, "skipped": reason, "load": load})
                    print(f"{kind} {size}: {reason}", file=sys.stderr)
                    continue
                # The flat reference scans everything per query: fewer queries keep it to minutes.
                limit = PLANTED + RANDOM if kind != "pdqindex2" or size <= 100_000 else 200
                single = 200 if kind != "pdqindex2" else 20
                snapshot = str(Path(tmp) / f"{kind}-{size}.snap")
                row = run_worker(
                    [
                        f"--worker={kind}",
                        f"--size={size}",
                        f"--single={single}",
                        f"--batch-limit={limit}",
                        f"--snapshot={snapshot}",
                    ]
                )
                if "error" not in row and Path(snapshot).exists():
                    row.update(
                        run_worker([f"--load-worker={kind}", f"--size={size}", f"--snapshot={snapshot}"])
                    )
                    Path(snapshot).unlink()
                row.update({"index": kind, "size": size, "load": load})
                results.append(row)
                print(json.dumps(row), file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    print_table(results)


def ratio(ours: dict, theirs: dict, key: str, higher_is_better: bool) -> str:
    a, b = ours.get(key), theirs.get(key)
    if not a or not b:
        return "n/a"
    return f"{(a / b if higher_is_better else b / a):.1f}x"


def print_table(results: list[dict]) -> None:
    columns = [
        ("build_s", "build s", 1),
        ("rss_mb", "RSS MB", 0),
        ("peak_mb", "peak MB", 0),
        ("batch_qps", "batch q/s", 0),
        ("batch_cpu_qps", "batch q/CPU-s", 0),
        ("single_qps", "single q/s", 0),
        ("recall", "recall", 3),
        ("false_matches", "false", 0),
        ("add10k_s", "add 10k s", 2),
        ("save_s", "save s", 1),
        ("load_s", "load s", 2),
        ("loaded_rss_mb", "loaded RSS MB", 0),
        ("load", "load avg", 1),
    ]
    print("| size | index | " + " | ".join(c[1] for c in columns) + " |")
    print("|" + "---|" * (len(columns) + 2))
    by_key = {(r["size"], r["index"]): r for r in results}
    for r in results:
        if "skipped" in r or "error" in r:
            print(f"| {r['size']:,} | {r['index']} | {r.get('skipped') or r.get('error')} |")
            continue
        cells = [fmt(r.get(key, "n/a"), digits) for key, _, digits in columns]
        print(f"| {r['size']:,} | {r['index']} | " + " | ".join(cells) + " |")
    print()
    print("| size | posbon vs | build | RSS | batch q/s | single q/s | add 10k | load |")
    print("|---|---|---|---|---|---|---|---|")
    for (size, kind), r in by_key.items():
        ours = by_key.get((size, "posbon"))
        if kind == "posbon" or not ours or "build_s" not in r or "build_s" not in ours:
            continue

        cells = [
            f"{ratio(ours, r, 'build_s', False)} faster",
            f"{ratio(ours, r, 'rss_mb', False)} smaller",
            ratio(ours, r, "batch_qps", True),
            ratio(ours, r, "single_qps", True),
            f"{ratio(ours, r, 'add10k_s', False)} faster",
            f"{ratio(ours, r, 'load_s', False)} faster",
        ]
        print(f"| {size:,} | {kind} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
