"""Rule commands: load, list, status, backtest, hits. `register(app)` adds them as `posbon rules ...`."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

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
from posbon.rules import (
    BacktestError,
    BacktestResult,
    Rule,
    RuleError,
    backtest,
    hits,
    list_rules,
    load_rule,
    load_rules_file,
    set_status,
    stored_rule,
)
from posbon.rules.backtest import PARTITION_SIZE
from posbon.store import Store, StoreError

rules_app = typer.Typer(
    help="Enforcement and routing rules: draft, shadow (logged only), live, expired; backtests.",
    no_args_is_help=True,
)


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    return typer.Exit(EXIT_USAGE)


@rules_app.command("load")
def rules_load(
    file: Annotated[Path, typer.Argument(help="A YAML file of one rule or a list of rules.")],
    actor: Annotated[str, typer.Option("--actor", help="Who loads it (for the audit log).")] = "cli",
) -> None:
    """Load rule versions (audited). The same version with other content is refused: raise its version.

    Example: [bold]posbon rules load rules/tat-pdq.yaml[/bold]
    """
    rules, problems = load_rules_file(file)
    for problem in problems:
        _say_problem(problem)
    store = _open_store(state.settings())
    refused = 0
    for rule in rules:
        try:
            new = load_rule(store, rule, actor=actor)
        except RuleError as exc:
            err.print(f"[yellow]skipped:[/yellow] {escape(str(exc))}", highlight=False)
            refused += 1
            continue
        said = "loaded" if new else "unchanged"
        out.print(f"{said}: {rule.name} ({rule.kind}, {rule.status}) -> {rule.would_act}", highlight=False)
    if not rules and not problems:
        raise _fail(f"{file}: no rules in the file")
    raise typer.Exit(EXIT_SKIPPED if problems or refused else EXIT_OK)


@rules_app.command("list")
def rules_list() -> None:
    """The newest version of every rule, with its status.

    Example: [bold]posbon rules list[/bold]
    """
    store = _open_store(state.settings())
    rows = list_rules(store)
    if not rows:
        out.print("no rules loaded: `posbon rules load FILE`")
        return
    table = Table("rule", "version", "kind", "status", "expires", "acts")
    for row in rows:
        rule = stored_rule(store, row.rule_id, row.version)
        expires = rule.expires_at.date().isoformat() if rule.expires_at else ""
        status = rule.effective_status(datetime.now(UTC))
        table.add_row(row.rule_id, str(row.version), row.kind, status, expires, escape(rule.would_act))
    out.print(table)


@rules_app.command("status")
def rules_status(
    rule_id: Annotated[str, typer.Argument(help="The rule id.")],
    to: Annotated[str, typer.Option("--set", help="shadow, live or expired.")],
    actor: Annotated[str, typer.Option("--actor", help="Who changes it (for the audit log).")] = "cli",
) -> None:
    """Change the status of a rule's newest version (audited).

    Example: [bold]posbon rules status tat-pdq-remove --set shadow[/bold]
    """
    store = _open_store(state.settings())
    try:
        row = set_status(store, rule_id, to, actor=actor)
    except RuleError as exc:
        raise _fail(str(exc)) from exc
    out.print(f"{row.rule_id} v{row.version}: {row.status}", highlight=False)


def _rules_for(store: Store, target: str) -> list[Rule]:
    path = Path(target)
    if path.is_file():
        rules, problems = load_rules_file(path)
        for problem in problems:
            _say_problem(problem)
        if not rules:
            raise _fail(f"{target}: no usable rule in the file")
        return rules
    try:
        return [stored_rule(store, target)]
    except RuleError as exc:
        raise _fail(f"{exc} (and no file {target!r})") from exc


@rules_app.command("backtest")
def rules_backtest(
    target: Annotated[str, typer.Argument(help="A rules file, or the id of a loaded rule.")],
    since: Annotated[
        str | None, typer.Option("--since", help="Only items posted (or first seen) on or after DATE.")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Examine at most N items.")] = None,
    samples: Annotated[int, typer.Option("--samples", min=0, help="Matching items to show.")] = 10,
    engine: Annotated[
        str,
        typer.Option(
            "--engine",
            help="Where items are evaluated: local (this process) or dask (workers read the store: "
            "a SQLite store only works when every worker shares its file system; use PostgreSQL).",
        ),
    ] = "local",
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", help="Dask scheduler address for --engine dask, e.g. tcp://host:8786."),
    ] = None,
    partition_size: Annotated[
        int, typer.Option("--partition-size", min=1, help="Items per range sent to a worker (--engine dask).")
    ] = PARTITION_SIZE,
) -> None:
    """What a rule would have done over the stored history, and how that compares with human decisions.

    Nothing is written. Example: [bold]posbon rules backtest rules/tat-pdq.yaml --since 2026-01-01[/bold]

    On a Dask cluster, for a large store (the same result as a local run; --limit runs locally):
    [bold]posbon rules backtest tat-pdq-remove --engine dask --scheduler tcp://10.0.0.5:8786[/bold]
    """
    from posbon.engines import Engine, EngineError, open_engine

    start: datetime | None = None
    if since is not None:
        try:
            start = datetime.combine(date.fromisoformat(since), datetime.min.time(), UTC)
        except ValueError as exc:
            raise _fail(f"--since: {since!r} is not a date like 2026-01-31") from exc
    if engine not in ("local", "dask"):
        raise _fail(f"--engine: unknown engine {engine!r}: use local or dask")
    store = _open_store(state.settings())
    rules = _rules_for(store, target)
    runner: Engine | None = None
    if engine != "local":
        if limit is not None:
            err.print("note: --limit examines the first N items in order: the backtest runs in this process")
        else:
            try:
                runner = open_engine(engine, scheduler)
            except EngineError as exc:
                raise _fail(str(exc)) from exc
    try:
        for rule in rules:
            result = backtest(
                store,
                rule,
                since=start,
                limit=limit,
                samples=samples,
                engine=runner,
                partition_size=partition_size,
            )
            _show_backtest(result)
    except BacktestError as exc:
        raise _fail(str(exc)) from exc
    except StoreError as exc:  # a worker could not open or read the store
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(EXIT_STORE) from exc
    finally:
        if runner is not None:
            runner.close()


def _show_backtest(result: BacktestResult) -> None:
    rule = result.rule
    out.print(
        f"[bold]{escape(rule.name)}[/bold] ({rule.kind}, {rule.status}): "
        f"{result.matched} of {result.examined} items matched",
        highlight=False,
    )
    for action, count in sorted(result.actions.items()):
        out.print(f"  would {escape(action)}: {count}", highlight=False)
    overlap = result.overlap
    if overlap is not None:
        precision = (
            f"{overlap.precision:.2f}" if overlap.precision is not None else "n/a (no human decisions)"
        )
        out.print(
            f"  human decisions on them: agreed {overlap.agreed}, no action {overlap.no_action}, "
            f"other action {overlap.other}, reversed on appeal {overlap.reversed}, "
            f"pending {overlap.pending}, "
            f"undecided {overlap.undecided}; precision vs humans {precision}",
            highlight=False,
        )
    if result.samples:
        table = Table("item", "source", "lang", "verdict", "risk", "evidence that triggered")
        for sample in result.samples:
            evidence = "; ".join(f"{e.kind}: {e.detail}" for e in sample.evidence) or "(item fields)"
            table.add_row(
                sample.item_id,
                escape(sample.source),
                sample.language,
                sample.verdict,
                f"{sample.risk:.2f}",
                escape(evidence[:200]),
            )
        out.print(table)


@rules_app.command("hits")
def rules_hits(
    rule_id: Annotated[str, typer.Argument(help="The rule id.")],
    limit: Annotated[int, typer.Option("--limit", min=1, help="Newest N hits.")] = 50,
) -> None:
    """A rule's hits in scans: shadow hits (logged, never acted) and live ones.

    Example: [bold]posbon rules hits tat-pdq-remove[/bold]
    """
    store = _open_store(state.settings())
    rows = hits(store, rule_id, limit=limit)
    if not rows:
        out.print(f"no hits for rule {escape(rule_id)}")
        return
    table = Table("at", "version", "item", "status", "would", "acted", "decision", "note")
    for row in rows:
        table.add_row(
            row.at.strftime("%Y-%m-%d %H:%M"),
            str(row.rule_version),
            row.item_id,
            row.status,
            escape(row.would_act),
            "yes" if row.acted else "no",
            str(row.decision_id or ""),
            escape(row.note),
        )
    out.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(rules_app, name="rules")
