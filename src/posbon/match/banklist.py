"""Read hash lists and text lists into bank entries, for `posbon bank import` and `posbon bank add`.

Formats: CSV (header with signal_type and signal, optional label, other columns kept as metadata), JSON
(a list of objects, or {"entries": [...]}; streamed with ijson), JSONL (one object a line: a text entry
{"text": ..., "label": ...} or a hash object like a CSV row). threatexchange's signal type names are
accepted (video_md5 -> md5, raw_text -> text). Every bad line yields a Problem and reading goes on.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import charset_normalizer
import ijson

from posbon.domain import MediaKind, Problem, SignalType, media_kind_for
from posbon.signals.media import MediaError, media_signals
from posbon.signals.text import MIN_LETTERS, letter_count
from posbon.signals.urls import normalize_domain, normalize_url
from posbon.signals.video import VideoHashUnavailable, video_signals, vpdq_unavailable
from posbon.text.normalize import normalize

PDQ_MIN_QUALITY = 50  # threatexchange's PdqSignal.QUALITY_THRESHOLD

SIGNAL_TYPE_NAMES: dict[str, SignalType] = {
    "pdq": SignalType.PDQ,
    "md5": SignalType.MD5,
    "video_md5": SignalType.MD5,
    "photo_md5": SignalType.MD5,
    "text": SignalType.TEXT,
    "raw_text": SignalType.TEXT,
    "url": SignalType.URL,
    "domain": SignalType.DOMAIN,
    "vpdq": SignalType.VPDQ,
}
_FORMATS = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_SNIFF_BYTES = 64 * 1024


@dataclass(frozen=True)
class NewEntry:
    """One entry to put in a bank; `origin` says where it was read ("file:line")."""

    signal_type: SignalType
    value: str
    label: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    original_text: str | None = None
    origin: str = ""


class _Invalid(ValueError):
    """A field that cannot be banked; the message is shown as it is."""


InvalidEntry = _Invalid  # public name, for other readers of hash lists (posbon.exchanges)


# ASCII hex only (str.isalnum/int(x, 16) would let other scripts' digits through); a regex is ~10x faster
# than a per-character test when a million-line hash list is banked.
_HEX64 = re.compile(r"[0-9a-f]{64}", re.ASCII)
_HEX32 = re.compile(r"[0-9a-f]{32}", re.ASCII)


def validate_signal(signal_type: SignalType, raw: str) -> tuple[str, str | None]:
    """(value to bank, original text) for a signal, or _Invalid with a one-line reason."""
    text = raw.strip()
    if signal_type == SignalType.PDQ:
        value = text.lower()
        if _HEX64.fullmatch(value) is None:
            raise _Invalid(f"pdq hash must be 64 hex characters, got {_show(raw)}")
        return value, None
    if signal_type == SignalType.MD5:
        value = text.lower()
        if _HEX32.fullmatch(value) is None:
            raise _Invalid(f"md5 hash must be 32 hex characters, got {_show(raw)}")
        return value, None
    if signal_type == SignalType.VPDQ:
        return _canonical_vpdq(text), None
    if signal_type == SignalType.URL:
        url = normalize_url(text)
        if url is None:
            raise _Invalid(f"not an http(s) URL: {_show(raw)}")
        return url, None
    if signal_type == SignalType.DOMAIN:
        domain = normalize_domain(text)
        if domain is None:
            raise _Invalid(f"not a domain name: {_show(raw)}")
        return domain, None
    normalized = normalize(raw)
    letters = letter_count(normalized)
    if letters < MIN_LETTERS:
        raise _Invalid(f"text too short to fingerprint: {letters} letters, need {MIN_LETTERS}")
    return normalized, raw


def _canonical_vpdq(text: str) -> str:
    """threatexchange's serialised vPDQ, re-serialised by threatexchange (one spelling per video)."""
    reason = vpdq_unavailable()
    if reason is not None:
        raise _Invalid(f"cannot bank a vpdq hash: {reason}")
    from threatexchange.extensions.vpdq.vpdq_util import json_to_vpdq, vpdq_to_json

    try:
        features = json_to_vpdq(text)
    except (ValueError, TypeError, AttributeError):
        features = None
    if not features:
        raise _Invalid(
            f'vpdq hash must be a JSON list of "pdq_hex,quality,seconds" frames, got {_show(text)}'
        )
    return str(vpdq_to_json(features))


def _show(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:37] + "...")


def _signal_type(name: Any) -> SignalType:
    key = str(name or "").strip().lower()
    if not key:
        raise _Invalid("signal_type is empty")
    if key not in SIGNAL_TYPE_NAMES:
        known = ", ".join(sorted(SIGNAL_TYPE_NAMES))
        raise _Invalid(f"unknown signal_type {key!r} (expected one of {known})")
    return SIGNAL_TYPE_NAMES[key]


def _plain(value: Any) -> Any:
    """ijson numbers (Decimal) -> int/float so metadata stays JSON-serialisable."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _entry_from_record(record: Any, origin: str) -> NewEntry:
    """A CSV row or JSON object -> NewEntry; raises _Invalid."""
    if not isinstance(record, dict):
        raise _Invalid(f"expected an object, got {type(record).__name__}")
    record = {str(k).strip().lower(): _plain(v) for k, v in record.items() if k is not None}
    label = record.pop("label", None)
    label = str(label).strip() or None if label is not None else None
    if "text" in record and "signal_type" not in record:
        signal_type, raw = SignalType.TEXT, record.pop("text")
    else:
        signal_type = _signal_type(record.pop("signal_type", None))
        raw = record.pop("signal", None)
        if raw is None:
            raw = record.pop("text", None) if signal_type == SignalType.TEXT else None
    if raw is None or not isinstance(raw, str) or not raw.strip():
        raise _Invalid("signal is missing or empty")
    value, original = validate_signal(signal_type, raw)
    if signal_type == SignalType.PDQ:
        check_pdq_quality(record.get("quality", record.get("pdq_quality")))
    metadata = {k: v for k, v in record.items() if v not in (None, "")}
    return NewEntry(signal_type, value, label, metadata, original, origin)


def check_pdq_quality(quality: Any) -> None:
    """Refuse a PDQ hash whose list gives a quality below PDQ_MIN_QUALITY (no quality given: accepted)."""
    if quality in (None, ""):
        return
    try:
        number = float(str(quality).strip())
    except ValueError:
        raise _Invalid(f"PDQ quality must be a number from 0 to 100, got {_show(str(quality))}") from None
    if number < PDQ_MIN_QUALITY:
        raise _Invalid(
            f"PDQ quality {number:g} below {PDQ_MIN_QUALITY}: too uniform an image to bank safely "
            "(it would match many unrelated images)"
        )


def _open_text(path: Path) -> TextIO:
    """Open for streaming: UTF-8 (with or without BOM) when the start of the file decodes as UTF-8,
    otherwise the encoding charset-normalizer detects on the first 64 KiB."""
    with path.open("rb") as raw:
        head = raw.read(_SNIFF_BYTES)
    encoding = "utf-8-sig"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the sniff boundary
            best = charset_normalizer.from_bytes(head).best()
            encoding = best.encoding if best is not None else "utf-8-sig"
    return path.open(encoding=encoding, newline="")


def read_bank_list(path: Path, fmt: str | None = None) -> Iterator[NewEntry | Problem]:
    """Entries of a CSV, JSON or JSONL bank list (fmt None: by suffix); a Problem for each bad line."""
    name = str(path)
    fmt = (fmt or _FORMATS.get(path.suffix.lower(), "")).lower()
    if fmt not in ("csv", "json", "jsonl"):
        what = path.suffix or fmt
        yield Problem(name, None, f"unknown bank list format {what!r}: use .csv, .json or .jsonl")
        return
    try:
        stream = _open_text(path)
    except OSError as exc:
        yield Problem(name, None, f"cannot read bank list: {exc.strerror or exc}")
        return
    with stream:
        try:
            if fmt == "csv":
                yield from _read_csv(stream, name)
            elif fmt == "jsonl":
                yield from _read_jsonl(stream, name)
            else:
                yield from _read_json(path, name)
        except UnicodeDecodeError as exc:
            yield Problem(name, None, f"cannot decode text ({exc.reason}); save the file as UTF-8")


def _read_csv(stream: TextIO, name: str) -> Iterator[NewEntry | Problem]:
    reader = csv.reader(stream)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        yield Problem(name, None, "empty file: expected a header with signal_type and signal columns")
        return
    except csv.Error as exc:
        yield Problem(name, 1, f"unreadable CSV header: {exc}")
        return
    if "signal_type" not in header or "signal" not in header:
        yield Problem(name, 1, f"header must name signal_type and signal columns, got {', '.join(header)}")
        return
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield Problem(name, start, f"unreadable CSV line: {exc}")
            continue
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            yield Problem(name, start, f"expected {len(header)} columns, got {len(row)}")
            continue
        try:
            yield _entry_from_record(dict(zip(header, row, strict=True)), f"{name}:{start}")
        except _Invalid as exc:
            yield Problem(name, start, str(exc))


def _read_jsonl(stream: TextIO, name: str) -> Iterator[NewEntry | Problem]:
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield Problem(name, number, f"invalid JSON: {exc.msg}")
            continue
        try:
            yield _entry_from_record(record, f"{name}:{number}")
        except _Invalid as exc:
            yield Problem(name, number, str(exc))


def _read_json(path: Path, name: str) -> Iterator[NewEntry | Problem]:
    """Streams the list (or the "entries" list) with ijson; lines are not known, so a problem names the
    entry's position instead ("entry 3")."""
    with path.open("rb") as raw:
        first = raw.read(_SNIFF_BYTES).lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    prefix = "item" if first == b"[" else "entries.item"
    if first not in (b"[", b"{"):
        yield Problem(name, None, 'expected a JSON list of entries or {"entries": [...]}')
        return
    count = 0
    with path.open("rb") as raw:
        try:
            for count, record in enumerate(ijson.items(raw, prefix), start=1):  # noqa: B007
                try:
                    yield _entry_from_record(record, f"{name}:entry {count}")
                except _Invalid as exc:
                    yield Problem(name, None, f"entry {count}: {exc}")
        except ijson.JSONError as exc:
            yield Problem(name, None, f"invalid JSON after entry {count}: {str(exc).splitlines()[0]}")
    if count == 0 and prefix == "entries.item":
        yield Problem(name, None, 'no entries found: expected a JSON list or {"entries": [...]}')


def _files_under(path: Path) -> Iterator[Path]:
    if path.is_dir():
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for file_name in sorted(files):
                if not file_name.startswith("."):
                    yield Path(root) / file_name
    else:
        yield path


def entries_from_files(paths: list[Path]) -> Iterator[NewEntry | Problem]:
    """Entries fingerprinting files, for `posbon bank add`; directories are walked (hidden files skipped).

    Images -> PDQ and MD5 (label = file name; an image whose PDQ quality is below 50 gets a Problem and
    only its MD5 is banked); videos -> MD5 and vPDQ (when vpdq is not installed, or the video cannot be
    fingerprinted, a Problem says so (once, for a missing vpdq) and the MD5 is still banked); other files ->
    MD5; .txt files -> one text entry for the whole file.
    """
    told_unavailable = False
    for top in paths:
        if not top.exists():
            yield Problem(str(top), None, "no such file or directory")
            continue
        for path in _files_under(top):
            name = str(path)
            if path.suffix.lower() == ".txt":
                yield from _text_file_entry(path)
                continue
            kind = media_kind_for(path)
            try:
                signals = media_signals(path, kind)
            except MediaError as exc:
                yield Problem(name, None, str(exc))
                continue
            if kind is MediaKind.VIDEO:
                try:
                    vpdq = video_signals(path)
                    if not vpdq:
                        message = "no video frame of PDQ quality 50 or more: banked by MD5 only, not vPDQ"
                        yield Problem(name, None, message, note=True)
                    signals = signals + vpdq
                except VideoHashUnavailable as exc:
                    if not told_unavailable:
                        yield Problem(name, None, f"{exc}: videos are banked by MD5 only", note=True)
                        told_unavailable = True
                except MediaError as exc:
                    yield Problem(name, None, f"{exc} (MD5 still banked)")
            for signal in signals:
                if (
                    signal.signal_type == SignalType.PDQ
                    and signal.quality is not None
                    and signal.quality < PDQ_MIN_QUALITY
                ):
                    yield Problem(
                        name,
                        None,
                        f"PDQ quality {signal.quality} below {PDQ_MIN_QUALITY}: too uniform to bank safely "
                        "(MD5 still banked)",
                    )
                    continue
                metadata: dict[str, Any] = {"media_kind": str(kind)}
                if signal.signal_type == SignalType.VPDQ:
                    metadata["vpdq_mean_quality"] = signal.quality
                elif signal.quality is not None:
                    metadata["pdq_quality"] = signal.quality
                yield NewEntry(signal.signal_type, signal.value, path.name, metadata, None, name)


def _text_file_entry(path: Path) -> Iterator[NewEntry | Problem]:
    name = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        yield Problem(name, None, f"cannot read file: {exc.strerror or exc}")
        return
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        best = charset_normalizer.from_bytes(data).best()
        if best is None:
            yield Problem(name, None, "cannot detect the text encoding; save the file as UTF-8")
            return
        text = str(best)
    try:
        value, original = validate_signal(SignalType.TEXT, text)
    except _Invalid as exc:
        yield Problem(name, None, str(exc))
        return
    yield NewEntry(SignalType.TEXT, value, path.name, {}, original, name)


__all__ = [
    "NewEntry",
    "Problem",
    "check_pdq_quality",
    "entries_from_files",
    "read_bank_list",
    "validate_signal",
]


def logo_entries(paths: list[Path], logo_dir: Path) -> Iterator[NewEntry | Problem]:
    """Entries for branding marks (`posbon bank add NAME --logo FILE...`): each image is copied into
    `logo_dir` under its sha256 and found later anywhere in scanned images (posbon.media.logos)."""
    from posbon.media.logos import LogoIndex

    for top in paths:
        if not top.exists():
            yield Problem(str(top), None, "no such file or directory")
            continue
        for path in _files_under(top):
            if media_kind_for(path) is not MediaKind.IMAGE:
                yield Problem(str(path), None, "a logo must be an image file")
                continue
            try:
                data = path.read_bytes()
                LogoIndex().add("check", path)  # refuses a mark with too little detail to be found
            except (OSError, ValueError) as exc:
                yield Problem(str(path), None, f"cannot use as a logo: {exc}")
                continue
            digest = hashlib.sha256(data).hexdigest()
            logo_dir.mkdir(parents=True, exist_ok=True)
            stored = logo_dir / f"{digest}{path.suffix.lower()}"
            if not stored.exists():
                stored.write_bytes(data)
            yield NewEntry(SignalType.LOGO, digest, path.name, {"file": stored.name}, None, str(path))
