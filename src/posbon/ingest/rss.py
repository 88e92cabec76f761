"""RSS/Atom reader (feedparser): each entry becomes an Item."""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import feedparser

from posbon.domain import Item, Problem
from posbon.ingest import common
from posbon.ingest.common import Pseudonymize, cap_text, content_id, short

_BLOCK_TAGS = frozenset(
    {
        *("address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption"),
        *("figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav"),
        *("ol", "p", "pre", "section", "table", "td", "th", "tr", "ul"),
    }
)
_HIDDEN_TAGS = frozenset({"script", "style", "template", "head", "title"})


class _TextExtractor(HTMLParser):
    """Text of an HTML fragment, with block elements on their own lines, plus the links' targets."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hrefs: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")
        if tag == "a":
            href = dict(attrs).get("href")
            if href and href.strip():
                self.hrefs.append(href.strip())

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def html_to_text(html: str) -> tuple[str, list[str]]:
    """Visible text of an HTML fragment (whitespace tidied, one line per block) and its link targets."""
    parser = _TextExtractor()
    try:
        parser.feed(html)
        parser.close()
    except AssertionError:  # html.parser asserts on some broken markup ("<![1"): keep it all, as text
        parser = _TextExtractor()
        parser.parts = [html]
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line), parser.hrefs


def _detail_text(value: object, detail: object) -> tuple[str, list[str]]:
    if not isinstance(value, str) or not value:
        return "", []
    kind = detail.get("type", "") if isinstance(detail, dict) else ""
    if "html" in str(kind) or "<" in value:
        return html_to_text(value)
    return value.strip(), []


def _time(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(key)
        if parsed:
            try:
                return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
            except (OverflowError, OSError, ValueError, TypeError):
                continue
    return None


def read_rss(path: Path, pseudonymize: Pseudonymize) -> Iterator[Item | Problem]:
    """Entries of an RSS or Atom feed.

    Text = title, a newline, then the entry's full content when the feed has it (a summary is often a cut
    version), else its summary; HTML is reduced to text, and link targets not already in it follow, one a
    line. A feed that is not well-formed but still yields entries is read, with one Problem.
    """
    file = str(path)
    size = path.stat().st_size
    if size > common.MAX_FEED_BYTES:
        yield Problem(file, None, f"feed larger than {common.MAX_FEED_BYTES // (1024 * 1024)} MB; skipped")
        return
    # Bytes, never the path: feedparser would take a missing file's name for a URL or a document.
    feed = feedparser.parse(path.read_bytes(), resolve_relative_uris=False, sanitize_html=False)
    entries = list(feed.entries)
    if feed.get("bozo"):
        error = feed.get("bozo_exception")
        reason = short((str(error).strip().splitlines() or ["not well-formed"])[0], 160)
        line_of = getattr(error, "getLineNumber", None)
        line = line_of() if callable(line_of) else None
        if not entries:
            yield Problem(file, line, f"not a readable RSS/Atom feed ({reason})")
            return
        yield Problem(
            file, line, f"feed is not well-formed ({reason}); its {len(entries)} entries were read", note=True
        )
    if not entries:
        yield Problem(file, None, "feed has no entries")
        return
    title = feed.feed.get("title")
    source = title.strip() if isinstance(title, str) and title.strip() else path.stem
    for number, entry in enumerate(entries, 1):
        label = f"entry {number}: "
        heading, heading_links = _detail_text(entry.get("title"), entry.get("title_detail"))
        body: str = ""
        body_links: list[str] = []
        for content in entry.get("content") or []:
            body, body_links = _detail_text(content.get("value"), content)
            if body:
                break
        if not body:
            body, body_links = _detail_text(entry.get("summary"), entry.get("summary_detail"))
        text = "\n".join(part for part in (heading, body) if part)
        missing = [href for href in dict.fromkeys(heading_links + body_links) if href not in text]
        if missing:
            text = "\n".join([text, *missing]) if text else "\n".join(missing)
        text, cut = cap_text(text, file, None, label)
        if cut:
            yield cut
        created_at = _time(entry)
        link = entry.get("link")
        url = link.strip() if isinstance(link, str) and link.strip() else None
        entry_id = entry.get("id")
        if isinstance(entry_id, str) and entry_id.strip():
            external_id = entry_id.strip()
        elif url:
            external_id = url
        else:
            external_id = content_id(text, created_at.isoformat() if created_at else "")
        raw_author = entry.get("author")
        author = pseudonymize(raw_author) if isinstance(raw_author, str) else None
        yield Item(
            source=source,
            external_id=external_id,
            text=text,
            created_at=created_at,
            author=author,
            url=url,
            media=[],
            origin=f"{file}:entry {number}",
        )
