"""The types that flow through posbon's pipeline.

ingest -> Item; text -> TextFacts; signals -> Signal; match -> Evidence; assess -> Assessment.
Stages talk to each other only through these types.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any


class Verdict(StrEnum):
    MATCH = "match"  # known content matched
    REVIEW = "review"  # signals that warrant a human look
    CLEAR = "clear"


class MediaKind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    FILE = "file"


IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff"})
VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".3gp"})


def media_kind_for(path: str | Path) -> MediaKind:
    suffix = Path(str(path)).suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return MediaKind.IMAGE
    if suffix in VIDEO_SUFFIXES:
        return MediaKind.VIDEO
    return MediaKind.FILE


@dataclass(frozen=True)
class MediaRef:
    """A media file a post refers to.

    `reference` is what the input said (e.g. "photos/photo_1.jpg"); `path` is the resolved file inside
    the input folder, or None when the reference was refused or the file is missing (a Problem says why).
    """

    reference: str
    path: Path | None
    kind: MediaKind


@dataclass(frozen=True)
class Problem:
    """Something in the input that could not be used. Rendered as one line: `file:line: message`.

    A `note` is worth telling the user but lost nothing (e.g. a file decoded from a guessed encoding): it
    does not make the command's exit status say that input was skipped.
    """

    file: str
    line: int | None
    message: str
    note: bool = False

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.message}"


def item_id_for(source: str, external_id: str) -> str:
    """Stable id for (source, external id): the same post scanned twice has the same id."""
    digest = hashlib.sha256(f"{source}\x1f{external_id}".encode()).hexdigest()
    return digest[:24]


@dataclass
class Item:
    """One post, as read from a source. `text` is the original text, never altered."""

    source: str
    external_id: str
    text: str
    created_at: datetime | None = None
    author: str | None = None  # already pseudonymised by the reader (keyed hash), never the raw id
    url: str | None = None
    media: list[MediaRef] = field(default_factory=list)
    origin: str = ""  # where it was read: "file:line", for messages

    @property
    def item_id(self) -> str:
        return item_id_for(self.source, self.external_id)


@dataclass(frozen=True)
class Links:
    """What text extraction finds in a post."""

    urls: tuple[str, ...] = ()
    telegram_links: tuple[str, ...] = ()  # t.me/<name> and t.me/c/... links
    invite_links: tuple[str, ...] = ()  # t.me/+..., t.me/joinchat/...
    handles: tuple[str, ...] = ()  # @name
    hashtags: tuple[str, ...] = ()  # #tag


@dataclass(frozen=True)
class LanguageGuess:
    code: str  # ISO 639-1 where one exists ("tg", "ru", "uz", ...); "und" when unknown
    confidence: float  # 0..1
    detector: str = ""


@dataclass(frozen=True)
class TextFacts:
    """The text stage's output for one piece of text (a post's text, or text found in media)."""

    original: str
    normalized: str
    language: LanguageGuess
    links: Links


class SignalType(StrEnum):
    PDQ = "pdq"
    MD5 = "md5"  # md5 of a media file's bytes (threatexchange's video_md5 covers any file)
    TEXT = "text"  # normalised text; matched by near-duplicate similarity
    URL = "url"  # a normalised URL; matched exactly
    DOMAIN = "domain"  # a host name; matches any URL on it or its subdomains
    LOGO = "logo"  # a branding mark (logo, watermark): sha256 of its image, kept in DATA_DIR/logos
    VPDQ = "vpdq"  # a video's PDQ hash per second, in threatexchange's serialised form (signals/video.py)


@dataclass(frozen=True)
class Signal:
    """A fingerprint of a piece of content."""

    signal_type: SignalType
    value: str
    quality: int | None = None  # PDQ quality 0..100
    origin: str = ""  # what it was computed from, e.g. the media reference


@dataclass(frozen=True)
class Evidence:
    """One reason for a verdict; something a reviewer can check."""

    kind: str  # "bank_match" | "indicator" | ...
    signal_type: str | None = None
    bank: str | None = None
    entry_id: int | None = None
    entry_label: str | None = None
    distance: int | None = None  # PDQ Hamming distance
    similarity: float | None = None  # text similarity 0..1
    detail: str = ""  # human-readable explanation
    span: tuple[int, int] | None = None  # (start, end) in the original text
    matched_text: str | None = None
    origin: str | None = None  # "text" (the post's text), a media reference, or "text in image <ref>"
    weight: float = 1.0  # contribution to risk
    box: tuple[int, int, int, int] | None = None  # region of an image (x0, y0, x1, y1): OCR text, a logo
    confidence: float | None = None  # OCR confidence 0..100 of text read from media
    # What rules test, set by the stage that found the evidence (never parsed back out of `detail`):
    category: str | None = None  # an indicator's category ("call_to_join", "invite_private_chat", ...)
    context: str | None = None  # a context evidence's kind: "reporting", "promotion" or "unknown"
    probability: float | None = None  # a classifier's calibrated probability 0..1

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind}
        for key in (
            "signal_type",
            "bank",
            "entry_id",
            "entry_label",
            "distance",
            "similarity",
            "detail",
            "matched_text",
            "origin",
            "confidence",
            "category",
            "context",
            "probability",
        ):
            value = getattr(self, key)
            if value not in (None, ""):
                d[key] = value
        if self.span is not None:
            d["span"] = list(self.span)
        if self.box is not None:
            d["box"] = list(self.box)
        d["weight"] = round(self.weight, 4)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Evidence:
        span = d.get("span")
        box = d.get("box")
        return cls(
            kind=d["kind"],
            signal_type=d.get("signal_type"),
            bank=d.get("bank"),
            entry_id=d.get("entry_id"),
            entry_label=d.get("entry_label"),
            distance=d.get("distance"),
            similarity=d.get("similarity"),
            detail=d.get("detail", ""),
            span=(int(span[0]), int(span[1])) if span else None,
            matched_text=d.get("matched_text"),
            origin=d.get("origin"),
            weight=float(d.get("weight", 1.0)),
            box=(int(box[0]), int(box[1]), int(box[2]), int(box[3])) if box else None,
            confidence=d.get("confidence"),
            category=d.get("category"),
            context=d.get("context"),
            probability=d.get("probability"),
        )


@dataclass(frozen=True)
class Assessment:
    verdict: Verdict
    risk: float  # 0..1
    evidence: tuple[Evidence, ...] = ()

    def __post_init__(self) -> None:
        if self.verdict is not Verdict.CLEAR and not self.evidence:
            raise ValueError("a verdict other than clear must carry evidence")
        if not 0.0 <= self.risk <= 1.0:
            raise ValueError(f"risk {self.risk} outside [0, 1]")


@dataclass(frozen=True, slots=True)  # slots: a match server holds one per banked entry (millions)
class BankEntry:
    """One piece of known content in a bank, as the matcher sees it."""

    entry_id: int
    bank: str
    signal_type: SignalType
    value: str  # hex hash, normalised text, normalised URL or domain
    label: str | None = None
    original_text: str | None = None  # for text entries: the text as banked, for side-by-side review
