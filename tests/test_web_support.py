"""Shared builders for the web tests (no tests here): a store with queued items, users of every role, and
TestClient helpers that log in and carry the CSRF token."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from posbon.review.accounts import create_api_key, create_user
from posbon.review.policies import active_policy
from posbon.review.queue import sync_queue
from posbon.settings import Settings
from posbon.store import Store

PASSWORD = "correct horse battery"
USERS = {"ada": "admin", "rita": "reviewer", "ravi": "reviewer", "vera": "viewer"}
XSS_TEXT = 'Hi <script>alert(1)</script> " onmouseover="alert(2)" see javascript:alert(3)'


@dataclass
class Fixture:
    settings: Settings
    store: Store
    items: list[str]
    keys: dict[str, str]  # role -> API key
    media_dir: Path


def item_row(
    n: int, *, text: str, verdict: str = "review", risk: float = 0.5, **extra: Any
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "item_id": f"item{n:04d}",
        "source": "test",
        "external_id": str(n),
        "text": text,
        "created_at": None,
        "author": None,
        "url": None,
        "media": [],
        "links": {},
        "language": "tg",
        "language_confidence": 0.9,
        "verdict": verdict,
        "risk": risk,
        "evidence": [{"kind": "indicator", "detail": "call to join", "origin": "text", "span": [0, 5]}],
    }
    row.update(extra)
    return row


def build(tmp_path: Path, *, extra_items: int = 0) -> Fixture:
    """A data dir with: a banked near-duplicate with an image, an XSS-laden item, and plain review items."""
    settings = Settings.load(tmp_path / "data")
    store = Store.open(settings.database_url)
    media_dir = tmp_path / "export" / "photos"
    media_dir.mkdir(parents=True)
    from PIL import Image

    Image.new("RGB", (64, 48), (200, 30, 30)).save(media_dir / "photo_1.png")
    (tmp_path / "export" / "secret.txt").write_text("not for the web")
    text = "Join the lantern caravan tonight, brothers; the path opens at dawn."
    rows = [
        item_row(
            1,
            text=text,
            verdict="match",
            risk=0.95,
            language="tg",
            media=[
                {"reference": "photos/photo_1.png", "path": str(media_dir / "photo_1.png"), "kind": "image"},
                {"reference": "../secret.txt", "path": str(media_dir / ".." / "secret.txt"), "kind": "file"},
            ],
            links={"urls": ["https://example.org/x"], "invite_links": ["https://t.me/+abc"]},
            evidence=[
                {
                    "kind": "bank_match",
                    "signal_type": "text",
                    "bank": "lantern-bank",
                    "entry_id": 7,
                    "entry_label": "lantern signal (stand-in)",
                    "similarity": 0.91,
                    "detail": "near-duplicate of a banked text",
                    "matched_text": "Join the lantern caravan tonight, brothers; the road opens at dawn.",
                    "origin": "text",
                    "span": [0, 24],
                    "weight": 1.0,
                },
                {
                    "kind": "bank_match",
                    "signal_type": "pdq",
                    "bank": "poster-bank",
                    "entry_id": 3,
                    "entry_label": "poster 3",
                    "distance": 12,
                    "origin": "photos/photo_1.png",
                    "weight": 1.0,
                },
                {
                    "kind": "indicator",
                    "detail": "caravan slogan read in image",
                    "origin": "text in image photos/photo_1.png",
                    "span": [0, 7],
                    "box": [4, 5, 60, 20],
                    "confidence": 88.5,
                    "matched_text": "CARAVAN",
                    "weight": 0.5,
                },
            ],
        ),
        item_row(
            2,
            text=XSS_TEXT,
            risk=0.8,
            url="javascript:alert(4)",
            links={"urls": ["javascript:alert(5)", "https://evil.example/<b>x</b>"]},
            evidence=[
                {
                    "kind": "indicator",
                    "detail": "<img src=x onerror=alert(6)>",
                    "origin": "text",
                    "span": [3, 11],
                }
            ],
        ),
        item_row(3, text="A plain post that mentions a meeting.", risk=0.4),
    ]
    rows += [item_row(10 + i, text=f"Filler post number {i}.", risk=0.1) for i in range(extra_items)]
    scan_id = store.start_scan(["test"])
    store.save_items(scan_id, rows)
    sync_queue(store, active_policy(store))
    for name, role in USERS.items():
        create_user(store, name, PASSWORD, role)
    keys = {role: create_api_key(store, f"{role}-key", role) for role in ("admin", "reviewer", "viewer")}
    return Fixture(settings, store, [r["item_id"] for r in rows], keys, media_dir)


def client(fx: Fixture) -> TestClient:
    from posbon.web import create_app

    return TestClient(create_app(fx.settings), base_url="http://127.0.0.1", follow_redirects=False)


def login_token(c: TestClient) -> str:
    page = c.get("/login")
    assert page.status_code == 200
    found = re.search(r'id="login-form">\s*<input type="hidden" name="csrf_token" value="([^"]+)"', page.text)
    assert found, "login form carries a CSRF token"
    return found.group(1)


def login(c: TestClient, username: str, password: str = PASSWORD) -> str:
    """Log in; returns the session's CSRF token (read from a page's logout form)."""
    token = login_token(c)
    r = c.post("/login", data={"username": username, "password": password, "csrf_token": token})
    assert r.status_code == 303, r.text
    return csrf_of(c)


def csrf_of(c: TestClient) -> str:
    page = c.get("/queue")
    assert page.status_code == 200, page.status_code
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found
    return found.group(1)
