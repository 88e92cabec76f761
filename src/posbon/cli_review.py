"""Review and due-process commands: users, API keys, policy, queue, decisions, appeals, removal orders,
statements of reasons, the audit log, retention and the transparency report. `register(app)` adds them."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from posbon.cli_common import EXIT_OK, EXIT_SKIPPED, EXIT_USAGE, _open_store, err, out, state
from posbon.policy import PolicyError, load_policy
from posbon.review import ReviewError

user_app = typer.Typer(help="Users of the review web UI (admin, reviewer, viewer).", no_args_is_help=True)
apikey_app = typer.Typer(help="API keys: a token shown once, stored only as a hash.", no_args_is_help=True)
policy_app = typer.Typer(help="Policies: versioned rules per jurisdiction.", no_args_is_help=True)
review_app = typer.Typer(help="The review queue and decisions.", no_args_is_help=True)
order_app = typer.Typer(help="Removal orders (Regulation 2021/784, Art. 3): one hour.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
export_app = typer.Typer(
    help="Exports for authorities and the DSA Transparency Database.", no_args_is_help=True
)
report_app = typer.Typer(help="Reports.", no_args_is_help=True)


def _fail(exc: Exception) -> typer.Exit:
    err.print(f"[red]error:[/red] {exc}", highlight=False, markup=True)
    return typer.Exit(EXIT_USAGE)


def _day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise _fail(ValueError(f"{option}: {text!r} is not a date like 2026-01-31")) from exc


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[str, typer.Option("--role", help="admin, reviewer or viewer.")] = "reviewer",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Add a user; the password is read from stdin or prompted for, never given as an argument.

    Example: [bold]posbon user add alice --role reviewer[/bold]
    """
    from posbon.review import create_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    store = _open_store(state.settings())
    try:
        user = create_user(store, name, password, role)
    except ReviewError as exc:
        raise _fail(exc) from exc
    out.print(f"User {user.username!r} added with role {user.role}.")


@user_app.command("list")
def user_list() -> None:
    """List users."""
    from posbon.review import list_users

    table = Table("user", "role", "created", "disabled")
    for u in list_users(_open_store(state.settings())):
        table.add_row(u.username, u.role, f"{u.created_at:%Y-%m-%d}", "yes" if u.disabled else "")
    out.print(table)


@user_app.command("disable")
def user_disable(name: Annotated[str, typer.Argument(help="User name.")]) -> None:
    """Disable a user (kept for the record; can no longer log in or decide)."""
    from posbon.review import set_user_disabled

    try:
        set_user_disabled(_open_store(state.settings()), name, True)
    except ReviewError as exc:
        raise _fail(exc) from exc
    out.print(f"User {name!r} disabled.")


@apikey_app.command("create")
def apikey_create(
    name: Annotated[str, typer.Argument(help="Key name (who or what uses it).")],
    role: Annotated[
        str,
        typer.Option(
            "--role",
            help="admin, reviewer or viewer (people's roles), or matcher (match API lookups and hashing) "
            "or curator (matcher, plus reading and changing banks).",
        ),
    ] = "viewer",
) -> None:
    """Create an API key and print its token once; posbon stores only its hash.

    Example: [bold]posbon apikey create upload-matcher --role matcher[/bold]
    """
    from posbon.review import create_api_key

    try:
        token = create_api_key(_open_store(state.settings()), name, role)
    except ReviewError as exc:
        raise _fail(exc) from exc
    err.print("Store this token now: posbon keeps only its hash.")
    out.print(token)


@apikey_app.command("revoke")
def apikey_revoke(name: Annotated[str, typer.Argument(help="Key name.")]) -> None:
    """Revoke an API key."""
    from posbon.review import revoke_api_key

    try:
        revoke_api_key(_open_store(state.settings()), name)
    except ReviewError as exc:
        raise _fail(exc) from exc
    out.print(f"API key {name!r} revoked.")


@policy_app.command("load")
def policy_load(
    source: Annotated[str, typer.Argument(help="A policy YAML file, or a shipped profile: eu, default.")],
) -> None:
    """Make a policy (version) the active one for its jurisdiction; recorded in the audit log.

    Example: [bold]posbon policy load eu[/bold]
    """
    from posbon.review import activate_policy

    try:
        policy = load_policy(source)
        new = activate_policy(_open_store(state.settings()), policy)
    except (PolicyError, ReviewError) as exc:
        raise _fail(exc) from exc
    what = "loaded" if new else "already active"
    out.print(f"Policy {policy.id} version {policy.version} ({policy.jurisdiction}) {what}.")


@policy_app.command("show")
def policy_show(jurisdiction: Annotated[str | None, typer.Option("--jurisdiction")] = None) -> None:
    """Show the active policy."""
    from posbon.review import active_policy

    try:
        p = active_policy(_open_store(state.settings()), jurisdiction)
    except ReviewError as exc:
        raise _fail(exc) from exc
    out.print(f"{p.id} version {p.version} ({p.jurisdiction}): {p.title}", highlight=False)
    out.print(
        f"actions: {', '.join(p.actions)}; removal orders: {p.removal_order_hours:g} h", highlight=False
    )
    for rule in p.second_review:
        out.print(
            f"second reviewer for {rule.action} on {', '.join(rule.verdicts) or 'any'}", highlight=False
        )


@review_app.command("queue")
def review_queue(
    limit: Annotated[int, typer.Option("--limit", "-n")] = 20,
    jurisdiction: Annotated[str | None, typer.Option("--jurisdiction")] = None,
    queue_name: Annotated[
        str | None,
        typer.Option(
            "--queue",
            help="Only the items a live routing rule routed to this queue; 'default': those no rule routed.",
        ),
    ] = None,
) -> None:
    """Queue newly flagged items, then show the most urgent."""
    from posbon.review import active_policy, queue, queue_size, sync_queue
    from posbon.review.queue import MAX_QUEUE_NAME, known_queues

    if queue_name is not None and not 0 < len(queue_name) <= MAX_QUEUE_NAME:
        raise _fail(ReviewError(f"--queue: a queue name has 1 to {MAX_QUEUE_NAME} characters"))
    store = _open_store(state.settings())
    try:
        sync_queue(store, active_policy(store, jurisdiction))
    except ReviewError as exc:
        raise _fail(exc) from exc
    table = Table("item", "priority", "category", "queue", "why", "deadline", "verdict", "language")
    for e in queue(store, limit=limit, jurisdiction=jurisdiction, queue_name=queue_name):
        deadline = f"{e.deadline_at:%Y-%m-%d %H:%M} UTC" if e.deadline_at else ""
        table.add_row(
            e.item.item_id,
            f"{e.priority:.1f}",
            e.category,
            Text(e.routed_queue),  # a name from a rule file: shown as typed, never as markup
            e.reason,
            deadline,
            e.item.verdict,
            e.item.language,
        )
    out.print(table)
    waiting = queue_size(store, jurisdiction=jurisdiction, queue_name=queue_name)
    out.print(f"{waiting} items waiting" + (f" in queue {queue_name}." if queue_name else "."), markup=False)
    names = known_queues(store)
    if len(names) > 1:
        out.print("Queues: " + ", ".join(f"{name} ({count})" for name, count in names), markup=False)


@review_app.command("decide")
def review_decide(
    item_id: Annotated[str, typer.Argument(help="Item id.")],
    action: Annotated[str, typer.Argument(help="remove, restrict, geo_block, label, no_action, escalate.")],
    reviewer: Annotated[str, typer.Option("--reviewer", help="Your user name.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept internally, not in statements).")],
    category: Annotated[str | None, typer.Option("--category")] = None,
) -> None:
    """Decide on an item under the active policy."""
    from posbon.review import active_policy, decide

    store = _open_store(state.settings())
    try:
        d = decide(
            store,
            item_id,
            action,
            reviewer=reviewer,
            reason=reason,
            policy=active_policy(store),
            category=category,
        )
    except ReviewError as exc:
        raise _fail(exc) from exc
    out.print(f"Decision {d.id}: {d.action} ({d.status}).")


@review_app.command("appeal")
def review_appeal(
    decision_id: Annotated[int, typer.Argument(help="Decision id.")],
    complaint_file: Annotated[
        Path, typer.Option("--complaint", help="File with the complaint text; - for stdin.")
    ],
) -> None:
    """Record a complaint against a decision; the item goes to another reviewer."""
    from posbon.review import appeal

    text = sys.stdin.read() if str(complaint_file) == "-" else complaint_file.read_text(encoding="utf-8")
    try:
        a = appeal(_open_store(state.settings()), decision_id, text)
    except ReviewError as exc:
        raise _fail(exc) from exc
    out.print(f"Appeal {a.id} opened on decision {decision_id}.")


@review_app.command("resolve")
def review_resolve(
    appeal_id: Annotated[int, typer.Argument(help="Appeal id.")],
    reviewer: Annotated[str, typer.Option("--reviewer")],
    reason: Annotated[str, typer.Option("--reason")],
    upheld: Annotated[bool, typer.Option("--uphold/--reverse", help="Keep the decision, or reverse it.")],
) -> None:
    """Resolve an appeal: uphold the decision or reverse it (the item is restored)."""
    from posbon.review import resolve_appeal

    try:
        a = resolve_appeal(
            _open_store(state.settings()), appeal_id, reviewer=reviewer, upheld=upheld, reason=reason
        )
    except ReviewError as exc:
        raise _fail(exc) from exc
    out.print(f"Appeal {a.id}: {a.status}.")


@order_app.command("add")
def order_add(
    item_id: Annotated[str, typer.Argument(help="Item id.")],
    authority: Annotated[str, typer.Option("--authority", help="Issuing authority.")],
    reference: Annotated[str, typer.Option("--reference", help="The order's reference.")],
    received_at: Annotated[
        str | None,
        typer.Option("--received-at", help="ISO time, e.g. 2026-11-28T10:00:00+00:00 (default now)."),
    ] = None,
) -> None:
    """Record a removal order; it is due one hour after receipt."""
    from posbon.review import active_policy, record_order

    when = None
    if received_at:
        try:
            when = datetime.fromisoformat(received_at)
        except ValueError as exc:
            raise _fail(ValueError(f"--received-at: {received_at!r} is not an ISO time")) from exc
    store = _open_store(state.settings())
    try:
        o = record_order(
            store,
            item_id,
            authority=authority,
            reference=reference,
            received_at=when,
            policy=active_policy(store),
        )
    except ReviewError as exc:
        raise _fail(exc) from exc
    out.print(f"Order {o.id} recorded; due {o.deadline_at:%Y-%m-%d %H:%M} UTC.")


@order_app.command("action")
def order_action(
    order_id: Annotated[int, typer.Argument(help="Order id.")],
    reviewer: Annotated[str, typer.Option("--reviewer")],
    action: Annotated[str, typer.Option("--action", help="remove or geo_block.")] = "remove",
    not_actioned: Annotated[
        str | None, typer.Option("--not-actioned", help="Why it cannot be actioned.")
    ] = None,
) -> None:
    """Act on a removal order, or record why it was not actioned."""
    from posbon.review import action_order, active_policy

    store = _open_store(state.settings())
    try:
        o = action_order(
            store,
            order_id,
            reviewer=reviewer,
            policy=active_policy(store),
            action=action,
            not_actioned_reason=not_actioned,
        )
    except ReviewError as exc:
        raise _fail(exc) from exc
    out.print(f"Order {o.id}: {o.status}.")


@order_app.command("list")
def order_list(
    overdue: Annotated[bool, typer.Option("--overdue", help="Only orders past due.")] = False,
) -> None:
    """Open removal orders, the earliest deadline first."""
    from posbon.review import open_orders, orders_overdue

    store = _open_store(state.settings())
    rows = orders_overdue(store) if overdue else open_orders(store)
    table = Table("order", "item", "authority", "reference", "due (UTC)")
    for o in rows:
        table.add_row(
            str(o.id), o.item_id or "-", o.authority, o.reference, f"{o.deadline_at:%Y-%m-%d %H:%M}"
        )
    out.print(table)


@audit_app.command("verify")
def audit_verify() -> None:
    """Check that no audit record was edited, deleted or re-ordered (exit 1 with one line per break)."""
    from posbon.review import verify

    checked, breaks = verify(_open_store(state.settings()))
    for b in breaks:
        out.print(str(b), highlight=False, soft_wrap=True, markup=False)
    if breaks:
        raise typer.Exit(EXIT_SKIPPED)
    out.print(f"Audit log intact: {checked} records.")
    raise typer.Exit(EXIT_OK)


@export_app.command("sor")
def export_sor(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the batch files.")] = Path("sor-export"),
    since: Annotated[
        str | None, typer.Option("--since", help="Only statements made on or after this date.")
    ] = None,
) -> None:
    """Write statements of reasons not exported yet as DSA Transparency Database batches (100 a file).

    Example: [bold]posbon export sor --out sor/ --since 2026-01-01[/bold]
    """
    from posbon.review import export_statements

    start = datetime.combine(_day(since, "--since"), time(), UTC) if since else None
    files, count = export_statements(_open_store(state.settings()), out_dir, since=start)
    out.print(f"{count} statements in {len(files)} files under {out_dir}.")


@report_app.command("transparency")
def report_transparency(
    date_from: Annotated[str, typer.Option("--from", help="First day, e.g. 2026-01-01.")],
    date_to: Annotated[str, typer.Option("--to", help="Last day (included), e.g. 2026-12-31.")],
    out_file: Annotated[Path, typer.Option("--out", help="HTML file to write.")] = Path("transparency.html"),
) -> None:
    """A self-contained HTML transparency report, with the counts Art. 7 of Regulation 2021/784 asks for."""
    from posbon.report.transparency import write_transparency

    start, end = _day(date_from, "--from"), _day(date_to, "--to")
    if end < start:
        raise _fail(ValueError("--to is before --from"))
    write_transparency(_open_store(state.settings()), start, end, out_file)
    out.print(f"Transparency report: {out_file}")


def purge_command(
    older_than: Annotated[
        int | None, typer.Option("--older-than", help="Days (default: the policy's retention).", min=1)
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count only; delete nothing.")] = False,
) -> None:
    """Delete items past the retention period, except removed content under 6 months old (Art. 6) and items
    with open orders, appeals or second reviews. Audited (counts only)."""
    from posbon.platform.notices import purge_notice_contacts
    from posbon.review import active_policy, purge

    store = _open_store(state.settings())
    r = purge(store, active_policy(store), older_than_days=older_than, dry_run=dry_run)
    verb = "would purge" if dry_run else "purged"
    out.print(
        f"{r.older} items older than {r.cutoff:%Y-%m-%d}: {verb} {r.purged}; kept {r.kept_removed} removed "
        f"under the retention of removed content, {r.kept_open} with open orders, appeals or second reviews."
    )
    if not dry_run:
        erased = purge_notice_contacts(store)
        if erased:
            out.print(
                f"Erased the contact details of {erased} notifiers whose notices were decided long ago."
            )


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
    app.add_typer(apikey_app, name="apikey")
    app.add_typer(policy_app, name="policy")
    app.add_typer(review_app, name="review")
    app.add_typer(order_app, name="order")
    app.add_typer(audit_app, name="audit")
    app.add_typer(export_app, name="export")
    app.add_typer(report_app, name="report")
    app.command("purge")(purge_command)
