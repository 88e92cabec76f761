"""Minimal storage mode: a scan keeps signals and decisions but not the post's content, and the item page
fetches the post from the platform on demand (a local HTTP server here), shows it escaped, never stores it."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from posbon.platform.minimal import minimal_row
from posbon.scan import run_scan
from posbon.settings import Settings
from posbon.store import Store
from test_web_support import build, client, item_row, login

POST = "Quillwort meeting tonight: write to us and join the circle https://t.me/+quillwortXYZ"
OWN_WORDS = ("Quillwort", "quillwortXYZ", "circle")


def _scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str) -> bytes:
    monkeypatch.setenv("POSBON_STORE_CONTENT", mode)
    settings = Settings.load(tmp_path / mode)
    assert settings.store_content == mode
    posts = tmp_path / f"{mode}.jsonl"
    posts.write_text(json.dumps({"id": "1", "text": POST, "source": "plat"}) + "\n", encoding="utf-8")
    store = Store.open(settings.database_url)
    summary = run_scan(store, settings, [posts], ocr=False)
    assert summary.items_seen == 1 and summary.skipped == 0
    with store.session() as s:
        from posbon.store.models import ItemRow

        row = s.query(ItemRow).one()
        assert row.external_id == "1"
        kinds = [ev["kind"] for ev in row.evidence]
    db = sqlite3.connect(settings.data_dir / "posbon.db")
    dump = "\n".join(db.iterdump()).encode()
    db.close()
    assert "indicator" in kinds  # the invite link was still found and kept as evidence
    return dump


def test_minimal_scan_stores_no_post_words_but_full_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    full = _scan(tmp_path, monkeypatch, "full")
    assert all(w.encode() in full for w in OWN_WORDS)  # control: the full mode does keep them
    minimal = _scan(tmp_path, monkeypatch, "minimal")
    for word in OWN_WORDS:
        assert word.encode() not in minimal, word
        assert word.lower().encode() not in minimal.lower(), word


def test_an_unknown_mode_is_refused_with_the_setting_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSBON_STORE_CONTENT", "some")
    with pytest.raises(ValueError, match="POSBON_STORE_CONTENT"):
        Settings.load(tmp_path)


def test_minimal_row_keeps_signals_and_banked_text_drops_the_posts() -> None:
    row = item_row(
        1,
        text="Lantern caravan meets at dawn",
        url="https://platform.example/p/1",
        media=[{"reference": "m-77", "path": "/data/export/m-77.jpg", "kind": "image"}],
        links={"urls": ["https://example.org/x"]},
        evidence=[
            {
                "kind": "bank_match",
                "bank": "b",
                "entry_id": 7,
                "similarity": 0.9,
                "matched_text": "banked stand-in text",
                "origin": "text",
            },
            {
                "kind": "indicator",
                "detail": "call: «caravan» [pack 1 / x]",
                "matched_text": "caravan",
                "span": [8, 15],
                "origin": "text",
            },
            {
                "kind": "indicator",
                "detail": "read Lantern in image",
                "matched_text": "Lantern",
                "span": [0, 7],
            },
        ],
    )
    out = minimal_row(row)
    assert out["text"] == "" and out["links"] == {} and out["url"] == "https://platform.example/p/1"
    assert out["media"] == [{"reference": "m-77", "path": None, "kind": "image"}]
    bank, indicator, ocr = out["evidence"]
    assert bank["matched_text"] == "banked stand-in text" and bank["entry_id"] == 7
    assert "matched_text" not in indicator and indicator["span"] == [8, 15]
    assert "caravan" not in indicator["detail"] and "Lantern" not in ocr["detail"]
    assert row["text"] == "Lantern caravan meets at dawn"  # the input is left as it was


class Platform:
    """The platform's content endpoint on 127.0.0.1: answers `code` with `body`, records what it was sent."""

    def __init__(self, code: int, body: bytes) -> None:
        self.requests: list[dict[str, Any]] = []
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                platform.requests.append({"path": self.path, "auth": self.headers.get("Authorization")})
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


REMOTE_TEXT = 'Stand-in post <script>alert("x")</script> fetched live'


@pytest.fixture
def platform(request: pytest.FixtureRequest) -> Iterator[Platform]:
    code, body = getattr(
        request, "param", (200, json.dumps({"text": REMOTE_TEXT, "media": ["m-1"]}).encode())
    )
    p = Platform(code, body)
    yield p
    p.close()


def _minimal_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, template: str) -> Any:
    monkeypatch.setenv("POSBON_STORE_CONTENT", "minimal")
    monkeypatch.setenv("POSBON_CONTENT_CALLBACK", template)
    monkeypatch.setenv("POSBON_CONTENT_CALLBACK_AUTH_ENV", "PLATFORM_TOKEN")
    monkeypatch.setenv("PLATFORM_TOKEN", "Bearer stand-in-token")
    fx = build(tmp_path)
    row = item_row(50, text="", source="plat", external_id="a/b 1", evidence=[])
    fx.store.save_items(fx.store.start_scan(["test"]), [row])
    c = client(fx)
    login(c, "rita")
    return fx, c


def test_item_page_fetches_the_post_from_the_platform_and_escapes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, platform: Platform
) -> None:
    fx, c = _minimal_site(tmp_path, monkeypatch, platform.base + "/content/{source}/{external_id}")
    r = c.get("/items/item0050")
    assert r.status_code == 200
    assert platform.requests == [{"path": "/content/plat/a%2Fb%201", "auth": "Bearer stand-in-token"}]
    assert "Stand-in post &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; fetched live" in r.text
    assert "<script>alert(" not in r.text and 'id="remote-note"' in r.text and "m-1" in r.text
    db = sqlite3.connect(fx.settings.data_dir / "posbon.db")
    dump = "\n".join(db.iterdump())
    db.close()
    assert "fetched live" not in dump  # shown, never stored
    # a stored post (full-mode item) is shown from the store, with no call to the platform
    assert c.get("/items/item0003").status_code == 200 and len(platform.requests) == 1


@pytest.mark.parametrize("platform", [(500, b"oops"), (200, b"not json"), (200, b"[1, 2]")], indirect=True)
def test_a_failing_callback_is_a_clear_message_not_a_500(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, platform: Platform
) -> None:
    _, c = _minimal_site(tmp_path, monkeypatch, platform.base + "/content/{source}/{external_id}")
    r = c.get("/items/item0050")
    assert r.status_code == 200
    assert 'id="remote-error"' in r.text and "could not be fetched from the platform" in r.text


def test_an_unreachable_or_bad_callback_is_a_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = Platform(200, b"{}")
    base = closed.base
    closed.close()
    _, c = _minimal_site(tmp_path, monkeypatch, base + "/content/{source}/{external_id}")
    r = c.get("/items/item0050")
    assert r.status_code == 200 and "could not be reached" in r.text
    monkeypatch.setenv("POSBON_CONTENT_CALLBACK", base + "/content/{nope}")
    r = c.get("/items/item0050")
    assert r.status_code == 200 and "may only name {source} and {external_id}" in r.text
