"""Review queue at scale: fill a store with N queued items, then time queue() pages and decide() calls.

Run: .venv/bin/python bench/review_queue.py [--items 100000] [--db /tmp/posbon-bench-queue.db]
Prints a table; copy it into docs/benchmarks.md with date, machine and command.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from argon2 import PasswordHasher

from posbon.policy import load_profile
from posbon.review import accounts, create_user, decide, queue, record_order, sync_queue
from posbon.store import Store


def fill(store: Store, n: int) -> None:
    rng = random.Random(7)
    scan_id = store.start_scan(["bench"])
    start = datetime.now(UTC) - timedelta(days=30)
    batch = []
    for i in range(n):
        verdict = "match" if rng.random() < 0.4 else "review"
        batch.append(
            {
                "item_id": f"b{i:015d}",
                "source": f"telegram:channel{i % 50}",
                "external_id": str(i),
                "text": f"benign stand-in post number {i}",
                "created_at": start + timedelta(seconds=i),
                "author": None,
                "url": None,
                "media": [],
                "links": {},
                "language": rng.choice(["tg", "ru", "uz", "fa", "ps", "ar", "en"]),
                "language_confidence": 0.9,
                "verdict": verdict,
                "risk": round(rng.random(), 3),
                "evidence": [{"kind": "bank_match" if verdict == "match" else "indicator", "weight": 1.0}],
                "first_seen_at": start + timedelta(seconds=i),
            }
        )
        if len(batch) == 5000:
            store.save_items(scan_id, batch)
            batch = []
    if batch:
        store.save_items(scan_id, batch)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--decisions", type=int, default=300)
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--db", type=Path, default=None)
    args = parser.parse_args()
    db = args.db or Path(tempfile.mkdtemp(prefix="posbon-bench-")) / "queue.db"
    store = Store.open(f"sqlite:///{db}")
    policy = load_profile("eu")
    accounts._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)  # users are not what we time
    for name in ("r1", "r2"):
        create_user(store, name, "bench password 1", "reviewer")
    t = time.perf_counter()
    fill(store, args.items)
    fill_s = time.perf_counter() - t
    t = time.perf_counter()
    queued = sync_queue(store, policy)
    sync_s = time.perf_counter() - t
    for i in range(0, 50):
        record_order(
            store, f"b{i * 997:015d}", authority="Bench authority", reference=f"RO-{i}", policy=policy
        )
    rng = random.Random(3)
    lat: list[float] = []
    for _ in range(args.pages):
        offset = rng.choice([0, 0, 0, 50, 500, 5000])
        t = time.perf_counter()
        page = queue(store, limit=50, offset=offset, reviewer="r2")
        lat.append((time.perf_counter() - t) * 1000)
        assert page
    lat.sort()
    t = time.perf_counter()
    done = 0
    for entry in queue(store, limit=args.decisions):
        action = "remove" if entry.item.verdict == "match" else "label"
        decide(store, entry.item.item_id, action, reviewer="r1", reason="bench", policy=policy)
        done += 1
    decide_s = time.perf_counter() - t
    rows = [
        ("items filled", f"{args.items}", f"{fill_s:.1f} s"),
        ("sync_queue (queued)", f"{queued}", f"{sync_s:.1f} s"),
        ("queue() 50/page p50", f"{args.pages} calls", f"{statistics.median(lat):.2f} ms"),
        ("queue() 50/page p99", "", f"{lat[int(len(lat) * 0.99) - 1]:.2f} ms"),
        ("decide() (final + statement + audit)", f"{done} calls", f"{done / decide_s:.0f} /s"),
    ]
    print(f"{'measure':40} {'n':>12} {'result':>12}")
    for name, n, result in rows:
        print(f"{name:40} {n:>12} {result:>12}")
    store.close()


if __name__ == "__main__":
    main()
