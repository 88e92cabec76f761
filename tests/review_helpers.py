"""Shared helpers for the review tests: a store with items in it (no scan pipeline needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher

from posbon.review import accounts, create_user
from posbon.store import Store

PASSWORD = "correct horse battery"
# cheap hashes keep the tests fast; the production setting is tested in test_review_accounts.py
accounts._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def open_store(tmp_path: Path) -> Store:
    return Store.open(f"sqlite:///{tmp_path / 'review.db'}")


def item_row(
    n: int,
    *,
    verdict: str = "match",
    risk: float = 0.9,
    kind: str = "bank_match",
    author: str | None = "a_0123456789abcdef0123",
    text: str = "A benign stand-in post for the reading circle, write to @circle_keeper",
    language: str = "tg",
    seen: datetime | None = None,
) -> dict[str, Any]:
    return {
        "item_id": f"item{n:08d}",
        "source": "telegram:demo",
        "external_id": str(n),
        "text": text,
        "created_at": datetime(2026, 10, 1, tzinfo=UTC) + timedelta(minutes=n),
        "author": author,
        "url": None,
        "media": [{"reference": "photos/p.jpg", "kind": "image"}],
        "links": {"handles": ["@circle_keeper"]},
        "language": language,
        "language_confidence": 0.9,
        "verdict": verdict,
        "risk": risk,
        "evidence": [{"kind": kind, "detail": "stand-in", "weight": 1.0}] if verdict != "clear" else [],
        "first_seen_at": seen or datetime.now(UTC) - timedelta(minutes=10_000 - n),
    }


def add_items(store: Store, rows: list[dict[str, Any]]) -> None:
    scan_id = store.start_scan(["test"])
    store.save_items(scan_id, rows)


def add_reviewers(store: Store, *names: str) -> None:
    for name in names:
        create_user(store, name, PASSWORD, "reviewer")


def cli_app():  # type: ignore[no-untyped-def]
    """posbon's Typer app with the review commands registered (once, whoever registers them first)."""
    from posbon.cli import app
    from posbon.cli_review import register

    if not any(g.name == "audit" for g in app.registered_groups):
        register(app)
    return app
