"""`posbon enqueue` and `posbon worker`: ingest into the durable queue, and work it off in other processes.

The main app registers them: `from posbon.cli_roles import register; register(app)`. `posbon scan` still
runs every stage in one process; these split ingest from assessment (docs/roles.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def enqueue(
        paths: Annotated[list[Path], typer.Argument(help="Files or folders to queue.", show_default=False)],
        fmt: Annotated[
            str | None,
            typer.Option("--format", "-f", help="Force a reader: jsonl, csv, telegram, rss or media."),
        ] = None,
        again: Annotated[
            bool,
            typer.Option("--again", help="Queue done items again (e.g. after banks changed)."),
        ] = False,
    ) -> None:
        """Read post exports and queue one job per post for `posbon worker` (instead of scanning here).

        Queuing the same post twice queues it once. Example: [bold]posbon enqueue posts.jsonl[/bold]
        """
        from posbon.cli_common import (
            EXIT_OK,
            EXIT_SKIPPED,
            EXIT_STORE,
            EXIT_USAGE,
            _open_store,
            _say_problem,
            err,
            out,
            state,
        )
        from posbon.domain import Item, Problem
        from posbon.ingest import FORMATS
        from posbon.privacy import Pseudonymizer
        from posbon.roles.queue import JobQueue
        from posbon.scan import read_inputs
        from posbon.store import StoreError

        if fmt is not None and fmt not in FORMATS:
            err.print(f"[red]error:[/red] unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
            raise typer.Exit(EXIT_USAGE)
        settings = state.settings()
        store = _open_store(settings)
        queue = JobQueue(store)
        skipped = 0
        seen: set[str] = set()

        def items() -> list[Item]:
            nonlocal skipped
            found: list[Item] = []
            for entry in read_inputs(paths, fmt, Pseudonymizer(settings.pseudonym_key)):
                if isinstance(entry, Problem):
                    skipped += 0 if entry.note else 1
                    _say_problem(entry)
                    continue
                if entry.item_id in seen:
                    skipped += 1
                    _say_problem(
                        Problem(
                            entry.origin or entry.source, None, f"duplicate post id {entry.external_id!r}"
                        )
                    )
                    continue
                seen.add(entry.item_id)
                found.append(entry)
            return found

        enqueued = already = 0
        try:
            batch = items()
            for start in range(0, len(batch), 500):  # one short transaction per 500 jobs
                result = queue.enqueue(batch[start : start + 500], again=again)
                enqueued += result.enqueued
                already += result.already
            counts = queue.counts()
        except StoreError as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(EXIT_STORE) from exc
        out.print(
            f"Queued [bold]{enqueued}[/bold] items ({already} already queued or done); waiting now: "
            f"{counts['queued']}, being worked on: {counts['leased']}. Run `posbon worker` to assess them."
        )
        store.close()
        raise typer.Exit(EXIT_SKIPPED if skipped else EXIT_OK)

    @app.command()
    def worker(
        concurrency: Annotated[
            int, typer.Option("--concurrency", "-c", min=1, max=64, help="Jobs worked on at once (threads).")
        ] = 1,
        once: Annotated[
            bool, typer.Option("--once", help="Stop when nothing is left to claim, instead of waiting.")
        ] = False,
        lease_seconds: Annotated[
            float,
            typer.Option("--lease-seconds", min=0.2, help="How long a job stays leased without a heartbeat."),
        ] = 60.0,
        max_attempts: Annotated[
            int, typer.Option("--max-attempts", min=1, help="Claims of one job before it is marked failed.")
        ] = 5,
        ocr: Annotated[
            bool,
            typer.Option("--ocr/--no-ocr", help="Read text in images and video keyframes (Tesseract)."),
        ] = True,
        batch: Annotated[
            int,
            typer.Option(
                "--batch",
                min=1,
                max=1000,
                help="Jobs claimed at once; their results are stored and marked done in one transaction "
                "each (a killed worker's whole batch is redelivered).",
            ),
        ] = 20,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary.")] = False,
    ) -> None:
        """Assess queued posts (media, signals, match, assess) and store the results; run as many as you like.

        SIGTERM or Ctrl-C finishes the current job, hands the rest of its batch back and stops. A worker
        that dies mid-job loses nothing: its lease expires and another worker does the job again, stored
        once. Bank changes made anywhere reach a running worker within about a second (the change log).

        Example: [bold]posbon enqueue posts.jsonl && posbon worker --once[/bold]
        """
        from posbon.cli_common import EXIT_OK, EXIT_STORE, _open_store, _say_problem, out, state
        from posbon.logs import configure_logging
        from posbon.roles.worker import Worker
        from posbon.store import StoreError

        configure_logging()  # plain lines, or JSON with POSBON_LOG_FORMAT=json
        settings = state.settings()
        store = _open_store(settings)
        runner = Worker(
            store,
            settings,
            lease_seconds=lease_seconds,
            max_attempts=max_attempts,
            ocr=ocr,
            batch=batch,
            on_problem=_say_problem,
        )
        try:
            summary = runner.run(once=once, concurrency=concurrency)
        except StoreError as exc:
            from posbon.cli_common import err

            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(EXIT_STORE) from exc
        if not quiet:
            rate = summary.done / summary.seconds if summary.seconds > 0 else 0.0
            out.print(
                f"Worker {runner.name}: [bold]{summary.done}[/bold] items done ({summary.items_new} new, "
                f"{rate:.0f}/s), {summary.retried} given back to retry, {summary.failed} failed: "
                + ", ".join(f"{v} {summary.verdicts.get(v, 0)}" for v in ("match", "review", "clear"))
            )
        store.close()
        raise typer.Exit(EXIT_OK)
