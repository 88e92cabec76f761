"""Nothing from a post becomes code in the scan report (issue: hostile-input hardening, point 1).

Posts carry script tags, event handlers, broken-out attributes and Telegram link entities with active
schemes; they are scanned through the real CLI, flagged (so the report shows them), and the report is
parsed to prove every payload arrived as inert text.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

from typer.testing import CliRunner

from posbon.cli import app

BANKED = (
    "Lantern Signal Media announces: the closed reading circle meets again this Friday. "
    "Write to the organiser in private to receive the address and the rules of the circle."
)
PAYLOADS = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'><svg/onload=alert(2)>",
    '<a href="javascript:alert(3)">read more</a>',
    "</code></div></article><script src=https://evil.invalid/x.js></script>",
    "<iframe srcdoc='<script>alert(4)</script>'></iframe>",
    '<meta http-equiv="refresh" content="0;url=javascript:alert(5)">',
    "{{ 7*7 }}{% if 1 %}template{% endif %}",
)
ACTIVE_LINKS = ("javascript:alert(1)", "data:text/html,<script>alert(6)</script>", "vbscript:msgbox(7)")
ACTIVE_SCHEMES = ("javascript:", "data:", "vbscript:")
URL_ATTRIBUTES = frozenset({"href", "src", "action", "formaction", "srcdoc", "xlink:href", "content"})


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    if result.exc_info and not isinstance(result.exc_info[1], SystemExit):
        raise result.exc_info[1]
    return result.exit_code, result.stdout + result.stderr


def _hostile_inputs(tmp_path: Path) -> list[Path]:
    bank = tmp_path / "bank"
    bank.mkdir()
    (bank / "statement.txt").write_text(BANKED, encoding="utf-8")
    assert _cli("bank", "create", "known")[0] == 0
    assert _cli("bank", "add", "known", str(bank))[0] == 0

    posts = tmp_path / "in" / "posts.jsonl"
    posts.parent.mkdir()
    lines = [
        {"id": f"p{n}{payload}", "source": payload, "url": payload, "text": f"{BANKED}\n{payload}"}
        for n, payload in enumerate(PAYLOADS)
    ]
    posts.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")

    export = tmp_path / "in" / "ChatExport"
    export.mkdir()
    messages = [
        {
            "id": 10 + n,
            "type": "message",
            "date_unixtime": "1760000000",
            "from_id": "user1",
            "text": [BANKED + " ", {"type": "text_link", "text": "details", "href": href}],
        }
        for n, href in enumerate(ACTIVE_LINKS)
    ]
    chat = {"name": '<script>alert("channel")</script>', "type": "public_channel", "messages": messages}
    (export / "result.json").write_text(json.dumps(chat), encoding="utf-8")
    return [posts, export]


def test_report_renders_hostile_posts_as_inert_text(tmp_path: Path) -> None:
    inputs = _hostile_inputs(tmp_path)
    report = tmp_path / "r.html"
    code, out = _cli("scan", *map(str, inputs), "--report", str(report), "--no-ocr", "--quiet")
    assert code in (0, 1), out
    html = report.read_text(encoding="utf-8")
    parsed = _Collect()
    parsed.feed(html)
    parsed.close()

    tags = [tag for tag, _ in parsed.tags]
    assert "script" not in tags and "iframe" not in tags and "img" not in tags and "svg" not in tags
    assert tags.count("meta") == 4  # charset, viewport, CSP, referrer: none came from a post
    for tag, attrs in parsed.tags:
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name, value)
            if name in URL_ATTRIBUTES and value and tag != "meta":
                assert not value.strip().lower().startswith(ACTIVE_SCHEMES), (tag, name, value)
    assert not any(tag == "a" for tag in tags)  # links from posts are shown as text, never clickable
    csp = [dict(attrs) for tag, attrs in parsed.tags if tag == "meta" and dict(attrs).get("http-equiv")]
    assert csp and csp[0]["http-equiv"] == "Content-Security-Policy"
    assert "script-src 'none'" in (csp[0]["content"] or "") and "default-src 'none'" in (
        csp[0]["content"] or ""
    )

    # every hostile post was flagged and shown, as text: the payloads are there, escaped
    text = "".join(parsed.text)
    assert html.count('class="item"') == len(PAYLOADS) + len(ACTIVE_LINKS)
    for payload in PAYLOADS:
        assert payload in text, payload
    for href in ACTIVE_LINKS:
        assert href in text, href
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "{{ 7*7 }}" in text and "template{% endif %}" in text  # never evaluated as a template
