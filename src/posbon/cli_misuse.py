"""Repeated-misuse steps (DSA Art. 23), model cards and the access report. `register(app)` adds
`posbon misuse ...`, `posbon cards ...` and `posbon audit access`."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from posbon.cli_common import EXIT_OK, EXIT_SKIPPED, EXIT_USAGE, _open_store, err, out, state

misuse_app = typer.Typer(
    help="Repeated misuse (DSA Art. 23): warnings and suspensions.", no_args_is_help=True
)
cards_app = typer.Typer(help="Model cards of posbon's detectors.", no_args_is_help=True)


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False, markup=True)
    return typer.Exit(EXIT_USAGE)


@misuse_app.command("evaluate")
def misuse_evaluate(
    jurisdiction: Annotated[
        str | None, typer.Option("--jurisdiction", help="Use this jurisdiction's active policy.")
    ] = None,
) -> None:
    """Compute and record the warnings and suspensions due now, each with the decisions it counted.

    Example: [bold]posbon misuse evaluate[/bold]
    """
    from posbon.policy import PolicyError
    from posbon.review import ReviewError, active_policy
    from posbon.review.misuse import evaluate

    store = _open_store(state.settings())
    try:
        made = evaluate(store, active_policy(store, jurisdiction), actor="cli")
    except (ReviewError, PolicyError) as exc:
        raise _fail(str(exc)) from exc
    for step in made:
        out.print(f"step {step.id}: {step.step} — {step.explanation}", highlight=False, markup=False)
    out.print(f"{len(made)} new step(s).")


@misuse_app.command("list")
def misuse_list(
    active: Annotated[bool, typer.Option("--active", help="Only steps in force now.")] = False,
) -> None:
    """Recorded steps, newest first (pseudonym and decision ids only)."""
    from posbon.review.misuse import steps

    found = steps(_open_store(state.settings()), active_at=datetime.now(UTC) if active else None)
    table = Table("step", "kind", "subject", "what", "until", "status", "appeal", "decisions")
    for st in found:
        table.add_row(
            str(st.id),
            st.subject_kind,
            st.subject,
            st.step,
            st.ends_at.isoformat(timespec="minutes") if st.ends_at else "-",
            st.status,
            st.appeal_status,
            ", ".join(map(str, st.decision_ids)),
        )
    out.print(table)


@misuse_app.command("appeal")
def misuse_appeal(
    step_id: Annotated[int, typer.Argument(help="The step appealed against.")],
    reason: Annotated[str, typer.Option("--reason", help="The complaint, as received.")],
) -> None:
    """Record an appeal against a warning or suspension; a reviewer resolves it (`misuse resolve`)."""
    from posbon.review import ReviewError
    from posbon.review.misuse import appeal_step

    try:
        step = appeal_step(_open_store(state.settings()), step_id, reason)
    except ReviewError as exc:
        raise _fail(str(exc)) from exc
    out.print(f"Appeal recorded against step {step.id} ({step.step}).")


@misuse_app.command("resolve")
def misuse_resolve(
    step_id: Annotated[int, typer.Argument(help="The step whose appeal is resolved.")],
    reviewer: Annotated[str, typer.Option("--reviewer", help="The reviewer resolving it.")],
    reason: Annotated[str, typer.Option("--reason", help="Why.")],
    reverse: Annotated[bool, typer.Option("--reverse/--uphold", help="Lift the step, or keep it.")] = False,
) -> None:
    """Uphold a step, or reverse it (`--reverse`): the step is lifted."""
    from posbon.review import ReviewError
    from posbon.review.misuse import resolve_step_appeal

    try:
        step = resolve_step_appeal(
            _open_store(state.settings()), step_id, reviewer=reviewer, upheld=not reverse, reason=reason
        )
    except ReviewError as exc:
        raise _fail(str(exc)) from exc
    out.print(f"Step {step.id}: appeal {step.appeal_status}; the step is {step.status}.")


@cards_app.command("list")
def cards_list() -> None:
    """Every detector's model card: id, name, evidence it produces."""
    from posbon.assess.cards import load_cards

    table = Table("id", "name", "evidence (kind/signal_type)")
    for c in load_cards():
        kinds = ", ".join(k + (f"/{s}" if s else "") for k, s in c.evidence) or (
            f"origin '{c.origin_prefix}...'" if c.origin_prefix else f"item {c.item_field}"
        )
        table.add_row(c.id, c.name, kinds)
    out.print(table)


@cards_app.command("show")
def cards_show(
    card_id: Annotated[str, typer.Argument(help="A card id (`cards list`), or a model directory.")],
) -> None:
    """One card in full; given a trained classifier's directory, the card made from its card.json."""
    from posbon.assess.cards import CardError, classifier_card, get_card, render_card

    path = Path(card_id)
    try:
        card = classifier_card(path / "card.json") if path.is_dir() else get_card(card_id)
    except CardError as exc:
        raise _fail(str(exc)) from exc
    if card is None:
        raise _fail(f"no model card {card_id!r}: see `posbon cards list`")
    out.print(render_card(card), highlight=False, markup=False, soft_wrap=True)


@cards_app.command("docs")
def cards_docs(
    write: Annotated[
        Path | None, typer.Option("--write", help="Write to this file instead of stdout.")
    ] = None,
) -> None:
    """The cards as Markdown (docs/model-cards.md is this output)."""
    from posbon.assess.cards import render_markdown

    text = render_markdown()
    if write is None:
        out.print(text, highlight=False, markup=False, soft_wrap=True)
    else:
        write.write_text(text, encoding="utf-8")
        out.print(f"Wrote {write}.")


def audit_access(
    actor: Annotated[str | None, typer.Option("--actor", help="Only this user or key.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="From this day (YYYY-MM-DD, UTC).")] = None,
    item: Annotated[str | None, typer.Option("--item", help="Only this item id.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000)] = 1000,
) -> None:
    """Who opened which item or media file, and when (from the audit log), newest first."""
    from posbon.review.access import access_report

    start = None
    if since:
        try:
            day = date.fromisoformat(since)
        except ValueError as exc:
            raise _fail(f"--since: {since!r} is not a date like 2026-01-31") from exc
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    entries = access_report(
        _open_store(state.settings()), actor=actor, since=start, item_id=item, limit=limit
    )
    table = Table("record", "when (UTC)", "actor", "action", "item", "via", "media")
    for e in entries:
        table.add_row(
            str(e.record_id),
            e.at.isoformat(timespec="seconds"),
            e.actor,
            e.action,
            e.item_id,
            e.via,
            "" if e.media_index is None else str(e.media_index),
        )
    out.print(table)
    raise typer.Exit(EXIT_OK if entries else EXIT_SKIPPED)


def register(app: typer.Typer) -> None:
    from posbon.cli_review import audit_app

    app.add_typer(misuse_app, name="misuse")
    app.add_typer(cards_app, name="cards")
    if not any(c.name == "access" for c in audit_app.registered_commands):
        audit_app.command("access")(audit_access)
