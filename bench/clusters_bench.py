"""Benchmark: full recompute of `posbon clusters` over N stored, unmatched items.

Synthetic posts: 25-60 random words from a made-up vocabulary (each word in Latin or Cyrillic letters).
A share of them are re-posts in families of 2-40 across channels, each copy lightly edited (a word dropped
or swapped, a prefix, emoji). Items are written straight into a fresh SQLite store, then the recompute is
timed twice (the second run inherits the first run's ids). CPU seconds are printed next to wall seconds
because a busy machine inflates the wall time.

    .venv/bin/python bench/clusters_bench.py --items 100000
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from posbon.clusters import list_clusters, recompute_clusters
from posbon.domain import item_id_for
from posbon.store import Store

LATIN = "abdefghiklmnoprstuvyz"
CYRILLIC = "абвгдеёжзиклмнопрстуфхҳҷқғӯӣ"
PREFIXES = ["", "", "Forwarded: ", "Репост: ", "🔥 ", "Diqqat! "]


def make_rows(n: int, dup_share: float, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    vocabulary = [
        "".join(rng.choices(LATIN if w % 2 else CYRILLIC, k=rng.randint(3, 9))) for w in range(20000)
    ]
    t0 = datetime(2026, 10, 1, tzinfo=UTC)
    rows: list[dict[str, Any]] = []

    def row(text: str) -> dict[str, Any]:
        i = len(rows)
        source = f"channel_{rng.randrange(400)}"
        return {
            "item_id": item_id_for(source, str(i)),
            "source": source,
            "external_id": str(i),
            "text": text,
            "created_at": t0 + timedelta(minutes=i),
            "author": None,
            "url": None,
            "media": [],
            "links": {},
            "language": rng.choice(["tg", "uz", "ru"]),
            "language_confidence": 0.9,
            "verdict": "clear",
            "risk": 0.0,
            "evidence": [],
        }

    while len(rows) < n:
        words = rng.choices(vocabulary, k=rng.randint(25, 60))
        if rng.random() < dup_share:
            for _ in range(min(rng.randint(2, 40), n - len(rows))):
                copy = list(words)
                for _ in range(rng.randint(0, 3)):
                    j = rng.randrange(len(copy))
                    if rng.random() < 0.5:
                        del copy[j]
                    else:
                        copy[j] = rng.choice(vocabulary)
                rows.append(row(rng.choice(PREFIXES) + " ".join(copy)))
        else:
            rows.append(row(" ".join(words)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--dup-share", type=float, default=0.1, help="share of texts posted as families")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(f"sqlite:///{Path(tmp) / 'bench.db'}")
        rows = make_rows(args.items, args.dup_share, args.seed)
        started = time.perf_counter()
        scan_id = store.start_scan(["bench"])
        for i in range(0, len(rows), 5000):
            store.save_items(scan_id, rows[i : i + 5000])
        print(f"stored {len(rows)} items in {time.perf_counter() - started:.1f} s")
        print(
            f"{'run':<7}{'wall s':>8}{'CPU s':>8}{'distinct':>10}{'candidates':>12}{'confirmed':>11}"
            f"{'clusters':>10}"
        )
        for run in ("first", "second"):
            cpu = time.process_time()
            stats = recompute_clusters(store)
            cpu = time.process_time() - cpu
            print(
                f"{run:<7}{stats.seconds:>8.1f}{cpu:>8.1f}{stats.distinct_texts:>10}{stats.candidate_pairs:>12}"
                f"{stats.confirmed_pairs:>11}{stats.clusters:>10}"
            )
        listed = list_clusters(store, min_sources=2, min_size=3)
        print(f"clusters with >= 3 items from >= 2 sources: {len(listed)}")
        store.close()


if __name__ == "__main__":
    main()
