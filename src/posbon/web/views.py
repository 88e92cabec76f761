"""Turn stored items into what a reviewer sees: text split into highlighted segments, evidence grouped.

Pure functions over plain values; templates only lay them out (Jinja2 autoescapes every value).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from posbon.platform.webhooks import endpoint_label


@dataclass(frozen=True)
class Segment:
    text: str
    highlighted: bool
    note: str = ""


@dataclass(frozen=True)
class BankMatch:
    bank: str
    entry_id: int | None
    entry_label: str
    signal_type: str
    distance: int | None
    similarity: float | None
    source: str
    detail: str
    matched_text: str | None


@dataclass(frozen=True)
class OcrEvidence:
    origin: str
    detail: str
    box: tuple[int, int, int, int] | None
    confidence: float | None
    matched_text: str | None


@dataclass(frozen=True)
class MediaView:
    index: int
    reference: str
    kind: str
    available: bool


@dataclass
class ItemView:
    item_id: str
    segments: list[Segment]
    matches: list[BankMatch] = field(default_factory=list)
    indicators: list[dict[str, Any]] = field(default_factory=list)
    near_duplicates: list[BankMatch] = field(default_factory=list)
    ocr: list[OcrEvidence] = field(default_factory=list)
    media: list[MediaView] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)  # (kind, value) shown as text, never a link


def _span(value: Any, length: int) -> tuple[int, int] | None:
    if not isinstance(value, list | tuple) or len(value) != 2:
        return None
    try:
        start, end = int(value[0]), int(value[1])
    except (TypeError, ValueError):
        return None
    start, end = max(0, start), min(length, end)
    return (start, end) if start < end else None


def highlight(text: str, evidence: list[dict[str, Any]]) -> list[Segment]:
    """Split `text` into plain and highlighted segments from the spans of evidence found in the post's text.

    Only evidence whose origin is "text" points into the post's text (other spans point into OCR text).
    Overlapping spans are merged; a bad span (out of range, not two numbers) is ignored.
    """
    spans: list[tuple[int, int, str]] = []
    for ev in evidence:
        if not isinstance(ev, dict) or ev.get("origin") != "text":
            continue
        span = _span(ev.get("span"), len(text))
        if span is not None:
            note = str(ev.get("entry_label") or ev.get("detail") or ev.get("kind") or "")
            spans.append((span[0], span[1], note))
    spans.sort()
    merged: list[tuple[int, int, str]] = []
    for start, end, note in spans:
        if merged and start <= merged[-1][1]:
            last = merged[-1]
            notes = last[2] if note in last[2].split("; ") else f"{last[2]}; {note}".strip("; ")
            merged[-1] = (last[0], max(last[1], end), notes)
        else:
            merged.append((start, end, note))
    segments: list[Segment] = []
    pos = 0
    for start, end, note in merged:
        if start > pos:
            segments.append(Segment(text[pos:start], False))
        segments.append(Segment(text[start:end], True, note))
        pos = end
    if pos < len(text) or not segments:
        segments.append(Segment(text[pos:], False))
    return segments


def _opt_int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _opt_float(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _box(value: Any) -> tuple[int, int, int, int] | None:
    if isinstance(value, list | tuple) and len(value) == 4:
        try:
            return (int(value[0]), int(value[1]), int(value[2]), int(value[3]))
        except (TypeError, ValueError):
            return None
    return None


def item_view(item: Any) -> ItemView:
    """The view of an `ItemRow` (or anything with its fields)."""
    evidence = [ev for ev in (item.evidence or []) if isinstance(ev, dict)]
    view = ItemView(item_id=item.item_id, segments=highlight(item.text or "", evidence))
    for ev in evidence:
        kind = str(ev.get("kind", ""))
        origin = str(ev.get("origin") or "")
        if ev.get("bank") is not None or kind == "bank_match":
            match = BankMatch(
                bank=str(ev.get("bank") or ""),
                entry_id=_opt_int(ev.get("entry_id")),
                entry_label=str(ev.get("entry_label") or ""),
                signal_type=str(ev.get("signal_type") or ""),
                distance=_opt_int(ev.get("distance")),
                similarity=_opt_float(ev.get("similarity")),
                source=origin,
                detail=str(ev.get("detail") or ""),
                matched_text=ev.get("matched_text") if isinstance(ev.get("matched_text"), str) else None,
            )
            view.matches.append(match)
            if match.matched_text:
                view.near_duplicates.append(match)
        else:
            view.indicators.append({k: v for k, v in ev.items() if k != "span"})
        if ev.get("box") is not None or ev.get("confidence") is not None or origin.startswith("text in"):
            view.ocr.append(
                OcrEvidence(
                    origin=origin,
                    detail=str(ev.get("detail") or ""),
                    box=_box(ev.get("box")),
                    confidence=_opt_float(ev.get("confidence")),
                    matched_text=ev.get("matched_text") if isinstance(ev.get("matched_text"), str) else None,
                )
            )
    for index, media in enumerate(item.media or []):
        if not isinstance(media, dict):
            continue
        view.media.append(
            MediaView(
                index=index,
                reference=str(media.get("reference") or ""),
                kind=str(media.get("kind") or "file"),
                available=media_file(item, index) is not None,
            )
        )
    links = item.links or {}
    if isinstance(links, dict):
        for kind, values in links.items():
            if isinstance(values, list):
                view.links.extend((str(kind), str(v)) for v in values)
    if item.url:
        view.links.insert(0, ("post", str(item.url)))
    return view


def media_file(item: Any, index: int) -> Path | None:
    """The file of the item's `index`-th media reference, if it may be served; else None.

    It must be a regular file the item names, and resolving it (symlinks included) must land in the folder
    the stored path names: a reference that climbs out ("../") or a symlink to elsewhere is refused.
    """
    media = item.media or []
    if not 0 <= index < len(media) or not isinstance(media[index], dict):
        return None
    raw = media[index].get("path")
    if not isinstance(raw, str) or not raw or "\x00" in raw:
        return None
    path = Path(raw)
    if ".." in path.parts:  # relative paths (a scan run with relative inputs) resolve from the cwd
        return None
    try:
        resolved = path.resolve(strict=True)
        folder = path.parent.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not resolved.is_file() or not resolved.is_relative_to(folder):
        return None
    return resolved


def evidence_cards(item: Any) -> list[Any]:
    """The model cards of the detectors behind an item's evidence (and of language identification), each
    once, in the order the evidence names them; shown next to the evidence on the item page."""
    from posbon.assess.cards import cards_for_evidence, load_cards

    cards = load_cards([])
    found: list[Any] = []
    for ev in item.evidence or []:
        if isinstance(ev, dict):
            found += [c for c in cards_for_evidence(ev, cards) if c not in found]
    found += [c for c in cards if c.item_field == "language" and c not in found]
    return found


def card_id_for(match: BankMatch) -> str:
    """The card id of a bank match's detector (its signal type), for the link in the matches table."""
    return {"domain": "url"}.get(match.signal_type, match.signal_type)


@dataclass
class DeliveryView:
    """One webhook delivery as the admin page shows it: no secret, no secret's name, no URL credentials."""

    id: int
    event_id: int
    endpoint: str
    status: str
    attempts: int
    next_attempt_at: str
    delivered_at: str
    last_error: str


def delivery_views(deliveries: list[Any], endpoints: list[Any]) -> list[DeliveryView]:
    urls = {e.id: e.url for e in endpoints}
    return [
        DeliveryView(
            id=d.id,
            event_id=d.event_id,
            endpoint=endpoint_label(urls.get(d.endpoint_id)),
            status=str(d.status),
            attempts=int(d.attempts or 0),
            next_attempt_at=d.next_attempt_at.isoformat(timespec="seconds") if d.next_attempt_at else "",
            delivered_at=d.delivered_at.isoformat(timespec="seconds") if d.delivered_at else "",
            last_error=str(d.last_error or ""),
        )
        for d in deliveries
    ]
