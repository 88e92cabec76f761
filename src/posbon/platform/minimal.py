"""Minimal storage mode, for platforms that must not let posbon copy their content (docs/platform.md).

With POSBON_STORE_CONTENT=minimal a scan keeps only signals and decisions: `minimal_row` strips a stored
item of its text, media file paths, links, and every piece of the post's own text inside its evidence
(banked text found by a bank match stays: it is the platform's bank, not the post).

A reviewer still sees the post: the item page asks the platform for it on demand (`fetch_content`), through
the URL template in POSBON_CONTENT_CALLBACK, shows it, and never stores it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

CALLBACK_ENV = "POSBON_CONTENT_CALLBACK"  # e.g. https://platform.example/content/{source}/{external_id}
CALLBACK_AUTH_ENV = "POSBON_CONTENT_CALLBACK_AUTH_ENV"  # the NAME of the env var holding the header value
CALLBACK_TIMEOUT_S = 3.0
MAX_CONTENT_BYTES = 1_000_000
REDACTED = "[post text not stored]"


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
    return out


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


def fetch_content(source: str, external_id: str, *, timeout: float = CALLBACK_TIMEOUT_S) -> FetchedContent:
    """Ask the platform for a post's content, server side; never raises, never stores what it gets."""
    try:
        url = callback_url(source, external_id)
    except ValueError as exc:
        return FetchedContent(error=str(exc))
    if url is None:
        return FetchedContent(error=f"content is not stored here and {CALLBACK_ENV} is not set")
    headers = {"Accept": "application/json"}
    auth_env = os.environ.get(CALLBACK_AUTH_ENV, "").strip()
    if auth_env:
        value = os.environ.get(auth_env)
        if not value:
            return FetchedContent(error=f"{CALLBACK_AUTH_ENV} names {auth_env}, which is not set")
        headers["Authorization"] = value
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            response = client.get(url, headers=headers)
    except httpx.TimeoutException:
        return FetchedContent(error=f"the platform did not answer within {timeout:g} s")
    except httpx.HTTPError as exc:
        return FetchedContent(error=f"the platform could not be reached ({type(exc).__name__})")
    if response.status_code != 200:
        return FetchedContent(error=f"the platform answered HTTP {response.status_code}")
    if len(response.content) > MAX_CONTENT_BYTES:
        return FetchedContent(error="the platform's answer is too large to show")
    try:
        data = response.json()
    except ValueError:
        return FetchedContent(error="the platform's answer is not JSON")
    if not isinstance(data, dict) or not isinstance(data.get("text", ""), str):
        return FetchedContent(error='the platform\'s answer is not {"text": ..., "media": [...]}')
    media = data.get("media") or []
    if not isinstance(media, list):
        return FetchedContent(error='the platform\'s answer has "media" that is not a list')
    return FetchedContent(text=str(data.get("text") or ""), media=[str(m) for m in media])
