"""posbon's command line (Typer). Thin: parse arguments, call a service, print.

Exit codes (documented in the README):
  0  everything was read and stored
  1  the command finished, but some input was skipped (each skip was reported on its own line)
  2  the command line was wrong (unknown option, missing argument)
  3  the store could not be opened or written (nothing was changed)
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from posbon import __version__
from posbon.domain import Problem
from posbon.settings import Settings
from posbon.store import Store, StoreError

EXIT_OK = 0
EXIT_SKIPPED = 1
EXIT_USAGE = 2
EXIT_STORE = 3

out = Console()
err = Console(stderr=True, highlight=False)

app = typer.Typer(
    name="posbon",
    help="Find terrorist and violent-extremist recruitment content in posts, with evidence for a reviewer.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)
bank_app = typer.Typer(
    help="Banks of known content: media hashes, texts, URLs and domains.", no_args_is_help=True
)
app.add_typer(bank_app, name="bank")


class State:
    data_dir: Path | None = None

    def settings(self) -> Settings:
        return Settings.load(self.data_dir)


state = State()


def _version(value: bool) -> None:
    if value:
        out.print(f"posbon {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", envvar="POSBON_DATA_DIR", help="Where posbon keeps its store and keys."),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """posbon: scan posts against banks of known content; every verdict comes with its evidence.

    Example: [bold]posbon scan export/result.json --report report.html[/bold]

    POSBON_DATABASE_URL selects another database (default: SQLite in the data dir).
    """
    state.data_dir = data_dir


def _open_store(settings: Settings) -> Store:
    try:
        return Store.open(settings.database_url)
    except StoreError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(EXIT_STORE) from exc


def _say_problem(problem: Problem, console: Console | None = None) -> None:
    label = "[cyan]note:[/cyan]" if problem.note else "[yellow]skipped:[/yellow]"
    (console or err).print(f"{label} {problem}", markup=True, soft_wrap=True, highlight=False)


@app.command()
def scan(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to scan.", show_default=False)],
    fmt: Annotated[
        str | None,
        typer.Option("--format", "-f", help="Force a reader: jsonl, csv, telegram, rss or media."),
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write one JSON line per scanned item to this file.")
    ] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write a self-contained HTML report.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary.")] = False,
) -> None:
    """Scan post exports: every post gets a verdict (match, review, clear), a risk and its evidence.

    Readers are picked by content: JSON Lines, CSV, a Telegram Desktop export (result.json or its folder),
    RSS/Atom, or a folder of media. Results are stored; scanning the same input again stores nothing twice.

    Example: [bold]posbon scan ChatExport_2026-10-01/ posts.jsonl --json out.jsonl --report report.html[/bold]
    """
    from posbon.ingest import FORMATS
    from posbon.report.html import write_report
    from posbon.report.jsonl import write_jsonl
    from posbon.scan import ScannedItem, run_scan

    if fmt is not None and fmt not in FORMATS:
        err.print(f"[red]error:[/red] unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
        raise typer.Exit(EXIT_USAGE)
    settings = state.settings()
    store = _open_store(settings)
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[bold]scanning[/bold]"),
        BarColumn(bar_width=None),
        TextColumn("{task.completed} items · {task.fields[flagged]} flagged"),
        TimeElapsedColumn(),
        console=err,
        disable=quiet,
        transient=True,
    )
    with progress:
        task = progress.add_task("scan", total=None, flagged=0)
        flagged = 0

        def on_item(scanned: ScannedItem) -> None:
            nonlocal flagged
            if scanned.assessment.verdict != "clear":
                flagged += 1
            progress.update(task, advance=1, flagged=flagged)

        def on_problem(problem: Problem) -> None:
            _say_problem(problem, progress.console if not quiet else err)

        try:
            summary = run_scan(store, settings, paths, fmt=fmt, on_item=on_item, on_problem=on_problem)
        except StoreError as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(EXIT_STORE) from exc
    rows = store.items(item_ids=summary.item_ids) if (json_out or report or not quiet) else []
    if json_out:
        write_jsonl(rows, json_out)
    if report:
        write_report(rows, report, problems=len(summary.problems))
    if not quiet:
        rate = summary.items_seen / summary.seconds if summary.seconds > 0 else 0.0
        out.print(
            f"Scanned [bold]{summary.items_seen}[/bold] items ({summary.items_new} new) in "
            f"{summary.seconds:.1f} s ({rate:.0f}/s): "
            + ", ".join(f"{v} {summary.verdicts.get(v, 0)}" for v in ("match", "review", "clear"))
            + (f"; [yellow]{summary.skipped} skipped[/yellow]" if summary.skipped else "")
        )
        if json_out:
            out.print(f"JSON lines: {json_out}")
        if report:
            out.print(f"Report: {report}")
    store.close()
    raise typer.Exit(EXIT_SKIPPED if summary.skipped else EXIT_OK)


@bank_app.command("create")
def bank_create(
    name: Annotated[str, typer.Argument(help="Bank name.")],
    description: Annotated[str, typer.Option("--description", "-d", help="What the bank holds.")] = "",
) -> None:
    """Create an empty bank.

    Example: [bold]posbon bank create known-posters -d "posters from the TAT hash list"[/bold]
    """
    store = _open_store(state.settings())
    try:
        created = store.create_bank(name, description)
    except StoreError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(EXIT_USAGE) from exc
    out.print(f"Bank {name!r} created." if created else f"Bank {name!r} already exists; left as it was.")


def _add_to_bank(name: str, entries_and_problems: object) -> None:
    from posbon.match.banklist import NewEntry

    store = _open_store(state.settings())
    try:
        store.bank_id(name)
    except StoreError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(EXIT_USAGE) from exc
    entries: list[NewEntry] = []
    problems = 0
    for e in entries_and_problems:  # type: ignore[attr-defined]
        if isinstance(e, Problem):
            problems += 0 if e.note else 1
            _say_problem(e)
        else:
            entries.append(e)
    try:
        added, existing = store.add_entries(name, entries)
    except StoreError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(EXIT_STORE) from exc
    out.print(
        f"Bank {name!r}: {added} entries added, {existing} already there"
        + (f", [yellow]{problems} skipped[/yellow]" if problems else "")
        + "."
    )
    raise typer.Exit(EXIT_SKIPPED if problems else EXIT_OK)


@bank_app.command("add")
def bank_add(
    name: Annotated[str, typer.Argument(help="Bank name.")],
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to bank.", show_default=False)],
) -> None:
    """Add files to a bank: images by PDQ and MD5, videos and other files by MD5, each .txt as one text.

    Example: [bold]posbon bank add known-posters posters/ statement.txt[/bold]
    """
    from posbon.match.banklist import entries_from_files

    _add_to_bank(name, entries_from_files(list(paths)))


@bank_app.command("import")
def bank_import(
    name: Annotated[str, typer.Argument(help="Bank name.")],
    file: Annotated[Path, typer.Argument(help="Hash list (CSV/JSON) or text list (JSONL).")],
    fmt: Annotated[
        str | None, typer.Option("--format", "-f", help="csv, json or jsonl (default: by file suffix).")
    ] = None,
) -> None:
    """Import a hash list (CSV/JSON with signal_type, signal, label) or a text list (JSONL with text).

    Example: [bold]posbon bank import tat-hashes tat_export.csv --format csv[/bold]
    """
    from posbon.match.banklist import read_bank_list

    if not file.exists():
        err.print(f"[red]error:[/red] {file}: no such file")
        raise typer.Exit(EXIT_USAGE)
    _add_to_bank(name, read_bank_list(file, fmt))


@bank_app.command("list")
def bank_list() -> None:
    """List banks and how many enabled entries of each kind they hold.

    Example: [bold]posbon bank list[/bold]
    """
    store = _open_store(state.settings())
    banks = store.list_banks()
    if not banks:
        out.print("No banks yet: create one with `posbon bank create NAME`.")
        return
    table = Table("bank", "entries", "by kind", "description")
    for b in banks:
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(b.entries.items())) or "-"
        table.add_row(b.name, str(sum(b.entries.values())), kinds, b.description)
    out.print(table)


@app.command()
def demo(
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="Where to build the demo workspace (default: DATA_DIR/demo)."),
    ] = None,
) -> None:
    """Build a demo workspace from benign stand-ins, bank them, scan a demo channel export, write a report.

    The demo never uses real propaganda: the "known content" is text written for posbon and generated images.

    Example: [bold]posbon demo --dir /tmp/posbon-demo[/bold]
    """
    from posbon.demo import run_demo

    settings = state.settings()
    workspace = directory or settings.data_dir / "demo"
    try:
        result = run_demo(workspace, out=out, err=err)
    except StoreError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(EXIT_STORE) from exc
    out.print(f"\n[bold]Report:[/bold] {result.report}")
    out.print(f"[bold]JSON lines:[/bold] {result.jsonl}")
    out.print("Open the report in a browser, or scan your own files: posbon scan PATH --report report.html")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted: what was committed is kept; run the same command again to finish.")
        sys.exit(130)
