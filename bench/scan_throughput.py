"""Scan throughput: N generated posts (bench/gen_posts.py) through the whole pipeline into SQLite.

    python bench/scan_throughput.py --count 10000

Banks are the demo's stand-ins (texts, posters, hash list, links), so matching does real work. Prints a
table: posts, seconds, posts/s, verdict counts. Copy the figures into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from posbon.demo import DEMO_BANKS, data_dir
from posbon.domain import Problem
from posbon.match.banklist import entries_from_files, read_bank_list
from posbon.scan import run_scan
from posbon.settings import Settings
from posbon.store import Store


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        subprocess.run(
            [
                sys.executable,
                str(Path(__file__).with_name("gen_posts.py")),
                "--count",
                str(args.count),
                "--out",
                str(work / "posts"),
                "--seed",
                str(args.seed),
            ],
            check=True,
        )
        os.environ.pop("POSBON_DATABASE_URL", None)
        settings = Settings.load(work / "data")
        store = Store.open(settings.database_url)
        source = data_dir()
        inputs = {
            "demo-known-texts": entries_from_files(sorted((source / "bank" / "texts").glob("*.txt"))),
            "demo-known-posters": entries_from_files(sorted((source / "bank" / "images").iterdir())),
            "demo-hash-list": read_bank_list(source / "bank" / "hashlist.csv"),
            "demo-links": read_bank_list(source / "bank" / "urls.csv"),
        }
        for name, entries in inputs.items():
            store.create_bank(name, DEMO_BANKS[name])
            store.add_entries(name, [e for e in entries if not isinstance(e, Problem)])
        started = time.perf_counter()
        summary = run_scan(store, settings, [work / "posts" / "posts.jsonl"])
        seconds = time.perf_counter() - started
        rescan_started = time.perf_counter()
        again = run_scan(store, settings, [work / "posts" / "posts.jsonl"])
        rescan_seconds = time.perf_counter() - rescan_started
        table = Table(title=f"posbon scan throughput ({platform.machine()}, {os.cpu_count()} cores, SQLite)")
        for col in (
            "posts",
            "first scan s",
            "posts/s",
            "rescan s",
            "new on rescan",
            "match",
            "review",
            "clear",
            "skipped",
        ):
            table.add_column(col)
        table.add_row(
            str(summary.items_seen),
            f"{seconds:.2f}",
            f"{summary.items_seen / seconds:.0f}",
            f"{rescan_seconds:.2f}",
            str(again.items_new),
            str(summary.verdicts.get("match", 0)),
            str(summary.verdicts.get("review", 0)),
            str(summary.verdicts.get("clear", 0)),
            str(len(summary.problems)),
        )
        console.print(table)
        store.close()


if __name__ == "__main__":
    main()
