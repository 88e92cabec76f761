"""Platform integration commands: webhook endpoints and deliveries, partner keys for authorities and
trusted flaggers. `register(app)` adds them (see docs/platform.md)."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.table import Table

from posbon.cli_common import EXIT_USAGE, _open_store, err, out, state

webhook_app = typer.Typer(
    help="Signed action webhooks to the platform (at least once).", no_args_is_help=True
)
authority_app = typer.Typer(
    help="Keys for competent authorities, internet referral units and trusted flaggers.", no_args_is_help=True
)


def _fail(exc: Exception) -> typer.Exit:
    err.print(f"[red]error:[/red] {exc}", highlight=False, markup=True)
    return typer.Exit(EXIT_USAGE)


@webhook_app.command("add")
def webhook_add(
    url: Annotated[str, typer.Argument(help="The platform's endpoint, http(s)://...")],
    secret_env: Annotated[
        str, typer.Option("--secret-env", help="Environment variable holding the signing secret.")
    ],
) -> None:
    """Register an endpoint; posbon stores the variable's name, never the secret.

    Example: [bold]posbon webhook add https://platform.example/hook --secret-env POSBON_HOOK_KEY[/bold]
    """
    from posbon.platform.webhooks import WebhookError, add_endpoint

    try:
        row = add_endpoint(_open_store(state.settings()), url, secret_env)
    except WebhookError as exc:
        raise _fail(exc) from exc
    out.print(f"Webhook endpoint {row.id} added: {row.url} (secret from ${row.secret_env}).")
    if not os.environ.get(secret_env):
        err.print(
            f"[yellow]note:[/yellow] {secret_env} is not set here: set it where `webhook deliver` runs."
        )


@webhook_app.command("list")
def webhook_list() -> None:
    """Endpoints, and deliveries that are not delivered yet."""
    from posbon.platform.webhooks import list_deliveries, list_endpoints

    store = _open_store(state.settings())
    table = Table("id", "url", "secret env", "active")
    for e in list_endpoints(store):
        table.add_row(str(e.id), e.url, e.secret_env, "yes" if e.active else "no")
    out.print(table)
    waiting = [d for d in list_deliveries(store) if d.status != "delivered"]
    if waiting:
        deliveries = Table(
            "delivery", "event", "endpoint", "status", "attempts", "next attempt", "last error"
        )
        for d in waiting:
            deliveries.add_row(
                str(d.id),
                str(d.event_id),
                str(d.endpoint_id),
                d.status,
                str(d.attempts),
                f"{d.next_attempt_at:%Y-%m-%d %H:%M:%S}" if d.next_attempt_at else "",
                d.last_error or "",
            )
        out.print(deliveries)


@webhook_app.command("deliver")
def webhook_deliver() -> None:
    """Send every due delivery once (run from cron or a loop); failures are retried with backoff."""
    from posbon.platform.webhooks import deliver_pending

    report = deliver_pending(_open_store(state.settings()))
    out.print(f"delivered {report.delivered}, retrying later {report.retrying}, failed {report.failed}")


@webhook_app.command("retry")
def webhook_retry(delivery: Annotated[int, typer.Argument(help="Delivery id (see `webhook list`).")]) -> None:
    """Put a failed delivery up for a new round of attempts."""
    from posbon.platform.webhooks import WebhookError, retry_delivery

    try:
        retry_delivery(_open_store(state.settings()), delivery)
    except WebhookError as exc:
        raise _fail(exc) from exc
    out.print(f"Delivery {delivery} will be sent by the next `posbon webhook deliver`.")


@authority_app.command("add")
def authority_add(
    name: Annotated[str, typer.Argument(help="The authority's (or flagger's) name, recorded on its orders.")],
    kind: Annotated[
        str, typer.Option("--kind", help="competent_authority, iru or trusted_flagger.")
    ] = "competent_authority",
) -> None:
    """Add a partner and print its key once (it opens only the intake routes).

    Example: [bold]posbon authority add "Example national authority" --kind competent_authority[/bold]
    """
    from posbon.platform.partners import add_partner
    from posbon.review import ReviewError

    try:
        token = add_partner(_open_store(state.settings()), name, kind)
    except ReviewError as exc:
        raise _fail(exc) from exc
    err.print("Give this key to the partner now: posbon keeps only its hash.")
    out.print(token)


@authority_app.command("list")
def authority_list() -> None:
    """Partners and their kinds."""
    from posbon.platform.partners import list_partners

    table = Table("name", "kind", "created", "revoked")
    for p in list_partners(_open_store(state.settings())):
        table.add_row(
            p.name, p.kind, f"{p.created_at:%Y-%m-%d}", f"{p.revoked_at:%Y-%m-%d}" if p.revoked_at else ""
        )
    out.print(table)


@authority_app.command("revoke")
def authority_revoke(name: Annotated[str, typer.Argument(help="Partner name.")]) -> None:
    """Revoke a partner's key."""
    from posbon.platform.partners import revoke_partner
    from posbon.review import ReviewError

    try:
        revoke_partner(_open_store(state.settings()), name)
    except ReviewError as exc:
        raise _fail(exc) from exc
    out.print(f"Key of {name!r} revoked.")


def register(app: typer.Typer) -> None:
    app.add_typer(webhook_app, name="webhook")
    app.add_typer(authority_app, name="authority")
