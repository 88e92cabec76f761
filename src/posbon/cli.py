"""posbon's command line (Typer). Thin: parse arguments, call a service, print.

Exit codes: see posbon.cli_common (and the README).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from posbon import __version__
from posbon.cli_common import (  # noqa: F401 - re-exported for command modules and tests
    EXIT_OK,
    EXIT_SKIPPED,
    EXIT_STORE,
    EXIT_USAGE,
    State,
    _open_store,
    _say_problem,
    err,
    out,
    state,
)
from posbon.domain import Evidence, Problem
from posbon.store import StoreError
from posbon.store.db import BankSummary

if TYPE_CHECKING:
    from collections.abc import Callable

    from posbon.scan import ScannedItem, ScanSummary
    from posbon.settings import Settings
    from posbon.store import Store

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
    ocr: Annotated[
        bool, typer.Option("--ocr/--no-ocr", help="Read text inside images and video keyframes (Tesseract).")
    ] = True,
    rotations: Annotated[
        bool, typer.Option("--rotations", help="Also match rotated and mirrored copies of images (slower).")
    ] = False,
    engine: Annotated[
        str,
        typer.Option(
            "--engine", help="Where items are assessed: local (this process) or dask (docs/backfill.md)."
        ),
    ] = "local",
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", help="Dask scheduler address for --engine dask, e.g. tcp://host:8786."),
    ] = None,
) -> None:
    """Scan post exports: every post gets a verdict (match, review, clear), a risk and its evidence.

    Readers are picked by content: JSON Lines, CSV, a Telegram Desktop export (result.json or its folder),
    RSS/Atom, or a folder of media. Results are stored; scanning the same input again stores nothing twice.

    Example: [bold]posbon scan ChatExport_2026-10-01/ posts.jsonl --json out.jsonl --report report.html[/bold]
    """
    from posbon.ingest import FORMATS
    from posbon.report.html import write_report
    from posbon.report.jsonl import write_jsonl
    from posbon.scan import run_scan

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
            if engine == "local":
                summary = run_scan(
                    store,
                    settings,
                    paths,
                    fmt=fmt,
                    on_item=on_item,
                    on_problem=on_problem,
                    ocr=ocr,
                    rotations=rotations,
                )
            else:
                summary = _scan_on_engine(
                    store, settings, paths, engine, scheduler, fmt, on_item, on_problem, ocr, rotations
                )
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


def _scan_on_engine(
    store: Store,
    settings: Settings,
    paths: list[Path],
    engine_name: str,
    scheduler: str | None,
    fmt: str | None,
    on_item: Callable[[ScannedItem], None],
    on_problem: Callable[[Problem], None],
    ocr: bool,
    rotations: bool,
) -> ScanSummary:
    """`posbon scan --engine dask`: the same stages on a distributed engine (posbon.backfill)."""
    from posbon.backfill import BackfillError, run_backfill
    from posbon.engines import EngineError, open_engine

    try:
        engine = open_engine(engine_name, scheduler)
    except EngineError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(EXIT_USAGE) from exc
    try:
        return run_backfill(
            store,
            settings,
            paths,
            engine,
            fmt=fmt,
            on_item=on_item,
            on_problem=on_problem,
            ocr=ocr,
            rotations=rotations,
        )
    except BackfillError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(EXIT_STORE) from exc
    finally:
        engine.close()


@bank_app.command("create")
def bank_create(
    name: Annotated[str, typer.Argument(help="Bank name.")],
    description: Annotated[str, typer.Option("--description", "-d", help="What the bank holds.")] = "",
    allow_list: Annotated[
        bool,
        typer.Option(
            "--allow-list",
            help="Known-benign content: a match here suppresses block-bank matches of the same signal.",
        ),
    ] = False,
    pdq_threshold: Annotated[
        int | None, typer.Option("--pdq-threshold", min=0, max=256, help="This bank's PDQ match distance.")
    ] = None,
    text_threshold: Annotated[
        float | None,
        typer.Option("--text-threshold", min=0.01, max=1.0, help="This bank's text match similarity."),
    ] = None,
) -> None:
    """Create an empty bank (a block list unless --allow-list), optionally with its own match thresholds.

    Example: [bold]posbon bank create known-posters -d "TAT posters" --pdq-threshold 20[/bold]
    """
    store = _open_store(state.settings())
    try:
        created = store.create_bank(
            name,
            description,
            kind="allow" if allow_list else "block",
            pdq_threshold=pdq_threshold,
            text_threshold=text_threshold,
        )
    except StoreError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(EXIT_USAGE) from exc
    out.print(f"Bank {name!r} created." if created else f"Bank {name!r} already exists; left as it was.")


@bank_app.command("set")
def bank_set(
    name: Annotated[str, typer.Argument(help="Bank name.")],
    pdq_threshold: Annotated[
        int | None, typer.Option("--pdq-threshold", min=0, max=256, help="This bank's PDQ match distance.")
    ] = None,
    text_threshold: Annotated[
        float | None,
        typer.Option("--text-threshold", min=0.01, max=1.0, help="This bank's text match similarity."),
    ] = None,
    global_thresholds: Annotated[
        bool, typer.Option("--global-thresholds", help="Drop the bank's own thresholds: use the global ones.")
    ] = False,
    kind: Annotated[str | None, typer.Option("--kind", help="block or allow.")] = None,
    description: Annotated[str | None, typer.Option("--description", "-d")] = None,
) -> None:
    """Change a bank's thresholds, kind or description.

    Example: [bold]posbon bank set known-posters --pdq-threshold 10[/bold]
    """
    from posbon.store.db import UNSET

    store = _open_store(state.settings())
    try:
        bank = store.update_bank(
            name,
            description=description,
            kind=kind,
            pdq_threshold=None if global_thresholds else (UNSET if pdq_threshold is None else pdq_threshold),
            text_threshold=None
            if global_thresholds
            else (UNSET if text_threshold is None else text_threshold),
        )
    except StoreError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(EXIT_USAGE) from exc
    out.print(f"Bank {name!r}: {_bank_controls(bank)}.")


def _bank_controls(bank: BankSummary) -> str:
    settings = state.settings()
    pdq = bank.pdq_threshold if bank.pdq_threshold is not None else f"{settings.pdq_threshold} (global)"
    text = bank.text_threshold if bank.text_threshold is not None else f"{settings.text_threshold} (global)"
    return f"{bank.kind} list, PDQ threshold {pdq}, text threshold {text}"


def _set_entry(entry_id: int, enabled: bool) -> None:
    store = _open_store(state.settings())
    try:
        entry = store.set_entry_enabled(entry_id, enabled)
    except StoreError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(EXIT_USAGE) from exc
    what = "enabled" if enabled else "disabled (kept, never matched)"
    out.print(f"Entry {entry.entry_id} ({entry.signal_type} in bank {entry.bank!r}) {what}.")


@bank_app.command("disable-entry")
def bank_disable_entry(entry_id: Annotated[int, typer.Argument(help="Entry id (`bank entries`).")]) -> None:
    """Stop matching one entry (e.g. a hash that over-matches); it stays in the bank, marked disabled.

    Example: [bold]posbon bank disable-entry 42[/bold]
    """
    _set_entry(entry_id, False)


@bank_app.command("enable-entry")
def bank_enable_entry(entry_id: Annotated[int, typer.Argument(help="Entry id (`bank entries`).")]) -> None:
    """Match a disabled entry again.

    Example: [bold]posbon bank enable-entry 42[/bold]
    """
    _set_entry(entry_id, True)


@bank_app.command("entries")
def bank_entries(
    name: Annotated[str, typer.Argument(help="Bank name.")],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Show at most this many.")] = 50,
) -> None:
    """List a bank's entries: id, kind, value, label, source and state (disabled, deleted by its source).

    Example: [bold]posbon bank entries known-posters --limit 20[/bold]
    """
    store = _open_store(state.settings())
    try:
        entries = store.entries(name, limit=limit)
    except StoreError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(EXIT_USAGE) from exc
    table = Table("id", "type", "value", "label", "source", "state")
    for e in entries:
        value = e.value if len(e.value) <= 64 else e.value[:61] + "..."
        state_ = "deleted" if e.deleted_at is not None else ("enabled" if e.enabled else "disabled")
        table.add_row(str(e.entry_id), e.signal_type, value, e.label or "", e.source, state_)
    out.print(table)


@bank_app.command("fetch")
def bank_fetch(
    name: Annotated[str, typer.Argument(help="Bank name.")],
    exchange: Annotated[str, typer.Option("--exchange", "-e", help="tat, threatexchange, stopncii or file.")],
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML/YAML file with a section per exchange.")
    ] = None,
) -> None:
    """Fetch what is new on an exchange into a bank (resumes from the last fetch; deletions honoured).

    Credentials come from the environment (POSBON_TAT_USERNAME / POSBON_TAT_PASSWORD, POSBON_TE_APP_TOKEN
    and POSBON_TE_PRIVACY_GROUP, POSBON_STOPNCII_KEYS) or the config file. See docs/banks.md.

    Example: [bold]posbon bank fetch tat-hashes --exchange tat[/bold]
    """
    from posbon.exchanges import ExchangeError, fetch_into_bank, make_exchange

    store = _open_store(state.settings())
    try:
        store.bank_id(name)
        source = make_exchange(exchange, config)
        summary = fetch_into_bank(store, name, source)
    except ExchangeError as exc:
        err.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(EXIT_USAGE) from exc
    except StoreError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(EXIT_STORE) from exc
    for problem in summary.problems:
        _say_problem(problem)
    r = summary.result
    skipped = sum(1 for p in summary.problems if not p.note)
    out.print(
        f"Bank {name!r} from {exchange}: {summary.fetched} records in {summary.pages} pages; "
        f"{r.added} added, {r.updated} updated, {r.restored} restored, {r.deleted} deleted"
        + (f", [yellow]{skipped} skipped[/yellow]" if skipped else "")
        + ".",
        soft_wrap=True,
    )
    raise typer.Exit(EXIT_SKIPPED if skipped else EXIT_OK)


def _add_to_bank(name: str, entries_and_problems: object, source: str = "") -> None:
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
        added, existing = store.add_entries(name, entries, source=source)
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
    logo: Annotated[
        bool,
        typer.Option("--logo", help="Bank the images as branding marks, found anywhere in scanned images."),
    ] = False,
) -> None:
    """Add files to a bank: images by PDQ and MD5, videos and other files by MD5, each .txt as one text.

    With --logo, images are branding marks (logos, watermarks) that posbon finds anywhere in an image, at
    any reasonable scale, after re-compression or cropping; the evidence shows where.

    Example: [bold]posbon bank add known-posters posters/ statement.txt[/bold]
    Example: [bold]posbon bank add outlet-marks --logo mark.png[/bold]
    """
    from posbon.match.banklist import entries_from_files, logo_entries

    if logo:
        logo_dir = state.settings().data_dir / "logos"
        _add_to_bank(name, logo_entries(list(paths), logo_dir), source="files")
    else:
        _add_to_bank(name, entries_from_files(list(paths)), source="files")


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
    _add_to_bank(name, read_bank_list(file, fmt), source=f"import:{file.name}")


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
    table = Table("bank", "kind", "entries", "by type", "pdq / text threshold", "description")
    for b in banks:
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(b.entries.items())) or "-"
        pdq = "global" if b.pdq_threshold is None else str(b.pdq_threshold)
        text = "global" if b.text_threshold is None else f"{b.text_threshold:g}"
        table.add_row(b.name, b.kind, str(sum(b.entries.values())), kinds, f"{pdq} / {text}", b.description)
    out.print(table)


def _match_dict(e: Evidence) -> dict[str, object]:
    d: dict[str, object] = {"bank": e.bank, "entry_id": e.entry_id, "signal_type": e.signal_type}
    if e.entry_label:
        d["label"] = e.entry_label
    if e.distance is not None:
        d["distance"] = e.distance
    if e.similarity is not None:
        d["similarity"] = e.similarity
    return d


def _match_line(query: str, evidence: list[Evidence], key: str = "query") -> dict[str, object]:
    matches = [_match_dict(e) for e in evidence if e.kind == "bank_match"]
    line: dict[str, object] = {key: query, "matches": matches}
    suppressed = [{**_match_dict(e), "detail": e.detail} for e in evidence if e.kind == "allow_listed"]
    if suppressed:
        line["allow_listed"] = suppressed
    return line


@app.command("match")
def match_command(
    paths: Annotated[list[Path] | None, typer.Argument(help="Media files or folders to look up.")] = None,
    signal_type: Annotated[
        str | None, typer.Option("--signal-type", "-t", help="With --hashes: pdq, md5, url or text.")
    ] = None,
    hashes: Annotated[
        Path | None, typer.Option("--hashes", help="A file of raw signals, one per line ('-': stdin).")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON line per file or query.")] = False,
    rotations: Annotated[
        bool, typer.Option("--rotations", help="Also look up rotated and flipped images (when supported).")
    ] = False,
) -> None:
    """Look media files, or raw signals, up in every bank (per-bank thresholds and allow lists applied).

    Examples: [bold]posbon match poster.jpg clips/[/bold] ·
    [bold]posbon match --signal-type pdq --hashes hashes.txt --json[/bold]
    """
    import json

    from posbon.domain import MediaKind, Signal, SignalType, media_kind_for
    from posbon.match.banklist import InvalidEntry, validate_signal
    from posbon.match.matcher import Matcher
    from posbon.signals.media import MediaError, media_signals
    from posbon.signals.video import video_signals, vpdq_unavailable

    if bool(paths) == (hashes is not None):
        err.print("[red]error:[/red] give media PATHs, or --signal-type with --hashes FILE (not both)")
        raise typer.Exit(EXIT_USAGE)
    if hashes is not None and signal_type not in ("pdq", "md5", "url", "text"):
        err.print("[red]error:[/red] --hashes needs --signal-type pdq, md5, url or text")
        raise typer.Exit(EXIT_USAGE)
    settings = state.settings()
    store = _open_store(settings)
    matcher = Matcher(
        store.bank_entries(),
        pdq_threshold=settings.pdq_threshold,
        text_threshold=settings.text_threshold,
        banks=store.bank_settings(),
        match_pdq_threshold=settings.pdq_threshold,
        match_text_threshold=settings.text_threshold,
    )
    store.close()
    problems = 0
    if hashes is not None:
        kind = SignalType(str(signal_type))
        name = "<stdin>" if str(hashes) == "-" else str(hashes)
        try:
            text = sys.stdin.read() if name == "<stdin>" else hashes.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            err.print(f"[red]error:[/red] {name}: cannot read: {exc}")
            raise typer.Exit(EXIT_USAGE) from exc
        for number, raw in enumerate(text.splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                value, _ = validate_signal(kind, raw)
            except InvalidEntry as exc:
                problems += 1
                _say_problem(Problem(name, number, str(exc)))
                if json_out:
                    out.print_json(json.dumps({"query": raw, "error": str(exc)}), indent=None)
                continue
            found = matcher.match([Signal(kind, value, origin=f"{name}:{number}")])
            _print_match(_match_line(raw.strip() if kind != SignalType.TEXT else raw, found), json_out)
        raise typer.Exit(EXIT_SKIPPED if problems else EXIT_OK)
    from posbon.match.banklist import _files_under

    for top in paths or []:
        if not top.exists():
            problems += 1
            _say_problem(Problem(str(top), None, "no such file or directory"))
            continue
        for path in _files_under(top):
            media_kind = media_kind_for(path)
            try:
                signals = media_signals(path, media_kind, rotations=rotations)
                if media_kind is MediaKind.VIDEO and vpdq_unavailable() is None:
                    signals += video_signals(path)
            except MediaError as exc:
                problems += 1
                _say_problem(Problem(str(path), None, str(exc)))
                continue
            queries = [Signal(s.signal_type, s.value, s.quality, origin=str(path)) for s in signals]
            found = matcher.match(queries)
            _print_match(_match_line(str(path), found, key="file"), json_out)
    raise typer.Exit(EXIT_SKIPPED if problems else EXIT_OK)


def _print_match(line: dict[str, object], json_out: bool) -> None:
    import json

    if json_out:
        out.print(json.dumps(line, ensure_ascii=False), markup=False, highlight=False, soft_wrap=True)
        return
    subject = str(line.get("file") or line.get("query"))
    matches = line["matches"]
    assert isinstance(matches, list)
    if not matches:
        out.print(f"{subject}: no match", markup=False, highlight=False, soft_wrap=True)
    else:
        table = Table("bank", "entry", "type", "label", "distance / similarity", title=subject)
        for m in matches:
            score = m.get("distance", m.get("similarity", ""))
            row = (m["bank"], m["entry_id"], m["signal_type"], m.get("label", ""), score)
            table.add_row(*(str(cell) for cell in row))
        out.print(table)
    suppressed = line.get("allow_listed") or []
    assert isinstance(suppressed, list)
    for s in suppressed:
        out.print(f"  allow-listed: {s['detail']}", markup=False, highlight=False, soft_wrap=True)


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


def _register_commands() -> None:
    """Command groups that live in their own modules (review and due process, text tools, the web app)."""
    from posbon import cli_misuse, cli_platform, cli_review, cli_roles, cli_rules, cli_text, cli_web

    cli_roles.register(app)
    cli_platform.register(app)
    cli_review.register(app)
    cli_misuse.register(app)
    cli_rules.register(app)
    cli_text.register(app, state)
    cli_web.register(app)


_register_commands()


def main() -> None:
    from posbon.logs import configure_logging

    configure_logging()  # POSBON_LOG_FORMAT=json: one JSON object per log line
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted: what was committed is kept; run the same command again to finish.")
        sys.exit(130)
