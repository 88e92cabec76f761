"""Banking speed: `Store.add_entries` with N random PDQ hashes into a fresh bank, then the same N again
(all already present). Prints hashes/s for both.

From posbon.store.db._BULK_MIN entries on, add_entries takes its bulk path (staging table, one
INSERT ... SELECT ... ON CONFLICT DO NOTHING, COPY on PostgreSQL); --orm-path forces the per-entry ORM path
it replaced, for comparison (use a smaller --count: it runs ~3-10k hashes/s).

Run: .venv/bin/python bench/bank_load.py [--count 1000000] [--database-url postgresql+psycopg://...]
Without --database-url the store is a temp SQLite file. With one, the bench makes its own bank
(BENCH_LOAD_<random>) and deletes it afterwards; use a scratch database.
Prints the machine's load average too: the numbers are wall-clock and the machine may be shared.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import tempfile
import time
from pathlib import Path

from sqlalchemy import delete

import posbon.store.db as store_db
from posbon.domain import SignalType
from posbon.match.banklist import NewEntry
from posbon.store import Store
from posbon.store.models import BankRow


def timed_add(store: Store, bank: str, entries: list[NewEntry]) -> tuple[tuple[int, int], float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = store.add_entries(bank, entries, source="bench:bank_load")
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000, help="random PDQ hashes to bank")
    parser.add_argument("--database-url", help="default: a temp SQLite file")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--orm-path", action="store_true", help="force the per-entry ORM path")
    args = parser.parse_args()
    if args.orm_path:
        store_db._BULK_MIN = args.count + 1  # the bench compares the two paths

    rng = random.Random(args.seed)
    entries = [
        NewEntry(SignalType.PDQ, f"{rng.getrandbits(256):064x}", origin=f"bench:{i + 1}")
        for i in range(args.count)
    ]
    with tempfile.TemporaryDirectory(prefix="posbon-bank-load-") as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'posbon.db'}"
        store = Store.open(url)
        bank = f"BENCH_LOAD_{secrets.token_hex(4)}"
        store.create_bank(bank)
        try:
            print(
                f"{args.count} random PDQ hashes, {store.engine.dialect.name}, "
                f"load avg {os.getloadavg()[0]:.1f}"
            )
            for what in ("fresh bank", "re-add (all present)"):
                (added, present), wall, cpu = timed_add(store, bank, entries)
                print(
                    f"{what:22} {wall:7.1f} s  {args.count / wall:9.0f} hashes/s  "
                    f"(added {added}, present {present}; this process {cpu:.1f} s CPU)"
                )
            print(f"load avg {os.getloadavg()[0]:.1f}")
        finally:
            if args.database_url:
                with store.session() as s:
                    s.execute(delete(BankRow).where(BankRow.name == bank))
            store.close()


if __name__ == "__main__":
    main()
