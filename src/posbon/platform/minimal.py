"""Minimal storage mode, for platforms that must not let posbon copy their content (docs/platform.md).

With POSBON_STORE_CONTENT=minimal a scan keeps only signals and decisions: `minimal_row` strips a stored
item of its text, media file paths, links, and every piece of the post's own text inside its evidence
(banked text found by a bank match stays: it is the platform's bank, not the post).

A reviewer still sees the post: the item page asks the platform for it on demand (`fetch_content`), through
the URL template in POSBON_CONTENT_CALLBACK, shows it, and never stores it.
"""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from posbon.signals.urls import domain_of

CALLBACK_ENV = "POSBON_CONTENT_CALLBACK"  # e.g. https://platform.example/content/{source}/{external_id}
CALLBACK_AUTH_ENV = "POSBON_CONTENT_CALLBACK_AUTH_ENV"  # the NAME of the env var holding the header value
CALLBACK_TIMEOUT_S = 3.0  # httpx's timeout: for each connect and each read, not for the whole fetch
FETCH_DEADLINE_S = 5.0  # the whole fetch (connect, headers, body): a byte-at-a-time drip cannot stall a page
MAX_CONTENT_BYTES = 1_000_000
REDACTED = "[post text not stored]"
_DOMAIN_LINK = re.compile(r"\blink (\S+) is on domain ")


def minimal_row(row: dict[str, Any]) -> dict[str, Any]:
    """The stored form of an item row in minimal mode (a new dict; the input is left as it was)."""
    text = str(row.get("text") or "")
    out = dict(row)
    out["text"] = ""
    out["media"] = [
        {"reference": str(m.get("reference") or ""), "path": None, "kind": str(m.get("kind") or "file")}
        for m in row.get("media") or []
        if isinstance(m, dict)
    ]
    out["links"] = {}
    out["evidence"] = [
        _minimal_evidence(ev, text) for ev in row.get("evidence") or [] if isinstance(ev, dict)
    ]
    return out


def _minimal_evidence(ev: dict[str, Any], text: str) -> dict[str, Any]:
    """Kinds, banks, entry ids, distances, spans kept; the post's own words removed from text fields."""
    out = dict(ev)
    own: set[str] = set()
    is_bank = out.get("bank") is not None or out.get("kind") == "bank_match"
    matched = out.get("matched_text")
    # a bank match quotes the banked text; anything else (indicators, OCR, links) quotes the post
    if isinstance(matched, str) and matched and not is_bank:
        own.add(matched)
        del out["matched_text"]
    span = out.get("span")
    if isinstance(span, list | tuple) and len(span) == 2 and all(isinstance(v, int) for v in span):
        piece = text[span[0] : span[1]]
        if piece.strip():
            own.add(piece)
    detail = out.get("detail")
    if isinstance(detail, str) and not is_bank:
        for piece in sorted(own, key=len, reverse=True):
            detail = detail.replace(piece, REDACTED)
        out["detail"] = _strip_quotes(detail)
    elif isinstance(detail, str) and out.get("signal_type") == "domain":
        # a banked domain matched a link: "link https://host/path is on domain host, ..." quotes the post's
        # full link, and only the domain is the bank's
        out["detail"] = _links_to_hosts(detail)
    return out


def _links_to_hosts(detail: str) -> str:
    """The link in "link <url> is on domain <domain>, ..." cut down to its host: the path and query are the
    post's (a link that does not parse is replaced whole)."""
    return _DOMAIN_LINK.sub(lambda m: f"link {domain_of(m.group(1)) or REDACTED} is on domain ", detail)


def _strip_quotes(detail: str) -> str:
    """Details quote post words between « »: keep the brackets, drop what is inside."""
    parts: list[str] = []
    rest = detail
    while "«" in rest and "»" in rest.split("«", 1)[1]:
        before, after = rest.split("«", 1)
        _, rest = after.split("»", 1)
        parts.append(f"{before}«{REDACTED}»")
    parts.append(rest)
    return "".join(parts)


@dataclass
class FetchedContent:
    """What the platform sent back for one post, or why nothing could be shown."""

    text: str = ""
    media: list[str] = field(default_factory=list)
    error: str | None = None


def callback_url(source: str, external_id: str) -> str | None:
    """The platform URL for one post (POSBON_CONTENT_CALLBACK filled in), or None when none is set."""
    template = os.environ.get(CALLBACK_ENV, "").strip()
    if not template:
        return None
    try:
        return template.format(source=quote(source, safe=""), external_id=quote(external_id, safe=""))
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(
            f"{CALLBACK_ENV}: the template may only name {{source}} and {{external_id}} ({exc})"
        ) from exc


def fetch_content(
    source: str,
    external_id: str,
    *,
    timeout: float = CALLBACK_TIMEOUT_S,
    deadline: float = FETCH_DEADLINE_S,
) -> FetchedContent:
    """Ask the platform for a post's content, server side; never raises, never stores what it gets.

    `timeout` bounds each connect and each read, `deadline` the whole fetch: the request runs in a
    helper thread, so a platform that drips its headers or body a byte at a time is given up on at the
    deadline; the body is read in chunks and refused as soon as it passes MAX_CONTENT_BYTES.
    """
    try:
        url = callback_url(source, external_id)
    except ValueError as exc:
        return FetchedContent(error=str(exc))
    if url is None:
        return FetchedContent(error=f"content is not stored here and {CALLBACK_ENV} is not set")
    headers = {"Accept": "application/json", "Accept-Encoding": "identity"}
    auth_env = os.environ.get(CALLBACK_AUTH_ENV, "").strip()
    if auth_env:
        value = os.environ.get(auth_env)
        if not value:
            return FetchedContent(error=f"{CALLBACK_AUTH_ENV} names {auth_env}, which is not set")
        headers["Authorization"] = value
    client = httpx.Client(timeout=timeout, follow_redirects=False)
    stop = threading.Event()
    outcome: list[FetchedContent] = []

    def run() -> None:
        try:
            outcome.append(_fetch(client, url, headers, timeout, stop))
        except Exception as exc:  # noqa: BLE001 - a client closed under it at the deadline, or a bug: one line
            outcome.append(FetchedContent(error=f"the platform could not be reached ({type(exc).__name__})"))

    worker = threading.Thread(target=run, name="posbon-content-fetch", daemon=True)
    worker.start()
    worker.join(deadline)
    if worker.is_alive():
        # the worker stops at its next chunk or when the closed client fails its next read (at most
        # `timeout` later); the page does not wait for it
        stop.set()
        client.close()
        return FetchedContent(error=f"the platform did not answer within {deadline:g} s")
    client.close()
    return outcome[0] if outcome else FetchedContent(error="the platform could not be reached")


def _fetch(
    client: httpx.Client, url: str, headers: dict[str, str], timeout: float, stop: threading.Event
) -> FetchedContent:
    too_large = FetchedContent(error="the platform's answer is too large to show")
    body = bytearray()
    try:
        with client.stream("GET", url, headers=headers) as response:
            if response.status_code != 200:
                return FetchedContent(error=f"the platform answered HTTP {response.status_code}")
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > MAX_CONTENT_BYTES:
                return too_large
            for chunk in response.iter_bytes():
                if stop.is_set():
                    return FetchedContent(error="the fetch was given up")
                body += chunk
                if len(body) > MAX_CONTENT_BYTES:
                    return too_large
    except httpx.TimeoutException:
        return FetchedContent(error=f"the platform did not answer within {timeout:g} s")
    except httpx.HTTPError as exc:
        return FetchedContent(error=f"the platform could not be reached ({type(exc).__name__})")
    try:
        data = json.loads(bytes(body))
    except ValueError:
        return FetchedContent(error="the platform's answer is not JSON")
    if not isinstance(data, dict) or not isinstance(data.get("text", ""), str):
        return FetchedContent(error='the platform\'s answer is not {"text": ..., "media": [...]}')
    media = data.get("media") or []
    if not isinstance(media, list):
        return FetchedContent(error='the platform\'s answer has "media" that is not a list')
    return FetchedContent(text=str(data.get("text") or ""), media=[str(m) for m in media])
