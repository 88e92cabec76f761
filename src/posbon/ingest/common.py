"""What every reader shares: limits, decoding, timestamps, media references, and the post record.

Readers stream: a file is read line by line (or message by message), never loaded whole, except feeds
(bounded by MAX_FEED_BYTES) which feedparser needs in one piece.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import math
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import BinaryIO

import charset_normalizer

from posbon.domain import Item, MediaRef, Problem, media_kind_for
from posbon.limits import LIMITS

Pseudonymize = Callable[[str | None], str | None]

# Limits (module-level so tests can tune them; deployments set POSBON_MAX_*, see posbon.limits).
MAX_LINE_BYTES = LIMITS.line_bytes  # a longer line is skipped with a Problem
MAX_TEXT_CHARS = LIMITS.text_chars  # a longer text is cut to this length with a Problem
MAX_FEED_BYTES = LIMITS.feed_bytes  # a larger RSS/Atom file is skipped (feedparser parses in memory)
MAX_JSON_DEPTH = LIMITS.json_depth  # a JSON record nested deeper is refused
MAX_PATH_CHARS = LIMITS.path_chars  # a longer media reference is refused
ENCODING_SAMPLE_BYTES = 1024 * 1024  # how much of a file's start is used to decide its encoding
_READ_CHUNK = 1024 * 1024

_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class IngestError(Exception):
    """A whole input cannot be read (missing path, unknown format). The message is one line."""


def short(value: object, limit: int = 80) -> str:
    """A value shortened for a one-line message."""
    text = str(value).replace("\n", " ").replace("\r", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------------------------------------- text


def too_deep(value: object, limit: int) -> bool:
    """Whether a parsed JSON value nests containers deeper than `limit` (the value itself is level 1).

    Iterative, so a deep value cannot exhaust the stack; stops at the first path that is too deep.
    """
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        for child in children:
            if isinstance(child, dict | list):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def cap_text(text: str, file: str, line: int | None, where: str = "") -> tuple[str, Problem | None]:
    """Cut a text longer than MAX_TEXT_CHARS; the Problem says so."""
    if len(text) <= MAX_TEXT_CHARS:
        return text, None
    return text[:MAX_TEXT_CHARS], Problem(
        file, line, f"{where}text longer than {MAX_TEXT_CHARS:,} characters; cut to that length"
    )


@dataclass(frozen=True)
class Encoding:
    name: str  # a Python codec name
    skip: int  # bytes of byte-order mark to skip
    note: str | None  # a message for the user when the encoding was guessed


def sniff_encoding(head: bytes) -> Encoding:
    """UTF-8 (with or without BOM) first; UTF-16/32 by BOM; otherwise charset-normalizer's best guess."""
    if head.startswith(codecs.BOM_UTF8):
        return Encoding("utf-8", len(codecs.BOM_UTF8), None)
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return Encoding("utf-32", 0, None)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return Encoding("utf-16", 0, None)
    try:
        # final=False: a sample cut in the middle of a character is still UTF-8
        codecs.getincrementaldecoder("utf-8")().decode(head, final=len(head) < ENCODING_SAMPLE_BYTES)
        return Encoding("utf-8", 0, None)
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(head).best()
    if best is None or codecs.lookup(best.encoding).name == "utf-8":
        return Encoding("utf-8", 0, None)
    # Decoding with a guessed encoding can be wrong (cp1251 and koi8-r look alike to a detector), so the
    # user is told once per file which encoding was used.
    return Encoding(best.encoding, 0, f"not valid UTF-8; decoded as {best.encoding} (detected)")


def _ascii_compatible(encoding: str) -> bool:
    try:
        return "\n,{a0".encode(encoding) == b"\n,{a0"
    except (UnicodeError, LookupError):
        return False


def iter_text_lines(path: Path) -> Iterator[tuple[int, str] | Problem]:
    """Decoded lines of a text file with their 1-based numbers (line ends kept, BOM removed).

    Yields a Problem for a guessed encoding (once), for a line longer than MAX_LINE_BYTES (skipped) and
    for a line with undecodable bytes (decoded with U+FFFD in their place).
    """
    file = str(path)
    with path.open("rb") as raw:
        head = raw.read(ENCODING_SAMPLE_BYTES)
        encoding = sniff_encoding(head)
        if encoding.note:
            yield Problem(file, None, encoding.note, note=True)
        raw.seek(encoding.skip)
        if _ascii_compatible(encoding.name):
            yield from _binary_lines(raw, file, encoding.name)
        else:
            yield from _wide_lines(raw, file, encoding.name)


def _binary_lines(raw: BinaryIO, file: str, encoding: str) -> Iterator[tuple[int, str] | Problem]:
    number = 0
    while True:
        data = raw.readline(MAX_LINE_BYTES + 1)
        if not data:
            return
        number += 1
        if len(data) > MAX_LINE_BYTES and not data.endswith(b"\n"):
            while True:  # skip the rest of the over-long line without holding it
                rest = raw.readline(_READ_CHUNK)
                if not rest or rest.endswith(b"\n"):
                    break
            yield Problem(file, number, f"line longer than {MAX_LINE_BYTES // (1024 * 1024)} MB; skipped")
            continue
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            text = data.decode(encoding, errors="replace")
            yield Problem(file, number, f"bytes that are not valid {encoding} replaced with U+FFFD")
        yield number, text


def _wide_lines(raw: BinaryIO, file: str, encoding: str) -> Iterator[tuple[int, str] | Problem]:
    """UTF-16/32 files: decoded by a text wrapper (line splitting on bytes would break characters)."""
    stream = io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="")
    number = 0
    try:
        while True:
            text = stream.readline(MAX_LINE_BYTES + 1)
            if not text:
                return
            number += 1
            if len(text) > MAX_LINE_BYTES and not text.endswith("\n"):
                while True:
                    rest = stream.readline(_READ_CHUNK)
                    if not rest or rest.endswith("\n"):
                        break
                yield Problem(file, number, f"line longer than {MAX_LINE_BYTES // (1024 * 1024)} MB; skipped")
                continue
            if "\ufffd" in text:
                yield Problem(file, number, f"bytes that are not valid {encoding} replaced with U+FFFD")
            yield number, text
    finally:
        stream.detach()


# ------------------------------------------------------------------------------------------ timestamps


def parse_timestamp(value: object) -> datetime:
    """ISO 8601 text or unix seconds (number or digits) -> aware UTC datetime. Raises ValueError.

    A time without an offset is taken as UTC.
    """
    if isinstance(value, bool):
        raise ValueError("a boolean is not a time")
    try:
        if isinstance(value, int | float):
            if not math.isfinite(value):
                raise ValueError("not a finite number")
            return datetime.fromtimestamp(value, tz=UTC)
        if isinstance(value, str):
            text = value.strip()
            if re.fullmatch(r"[+-]?\d+(\.\d+)?", text):
                return datetime.fromtimestamp(float(text), tz=UTC)
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is None:
                return moment.replace(tzinfo=UTC)
            return moment.astimezone(UTC)
    except (OverflowError, OSError) as error:
        raise ValueError(str(error)) from error
    raise ValueError(f"unsupported time value of type {type(value).__name__}")


# --------------------------------------------------------------------------------------------- media


class MediaResolver:
    """Resolves media references against the folder of the input; nothing outside it is ever returned."""

    def __init__(self, base_dir: Path) -> None:
        self.base = base_dir
        self.root = base_dir.resolve()

    def resolve(self, reference: str) -> MediaRef | str:
        """A MediaRef for a file inside the input folder, or the reason (a message) it was refused."""
        ref = reference.strip()
        shown = short(ref, 200)
        if not ref:
            return "empty media reference; ignored"
        if len(ref) > MAX_PATH_CHARS:
            return f"media reference of {len(ref):,} characters (limit {MAX_PATH_CHARS:,}) '{shown}'; ignored"
        if "\x00" in ref:
            return f"media reference '{short(ref.replace(chr(0), '?'), 200)}' is not a valid path; ignored"
        if _URL_SCHEME.match(ref):
            return f"media reference '{shown}' is a URL, not a file in the input folder; ignored"
        outside = f"media reference '{shown}' points outside the input folder; ignored"
        # Backslashes are read as separators: exports made on Windows use them.
        posix = ref.replace("\\", "/")
        if posix.startswith("/") or PureWindowsPath(ref).drive or PurePosixPath(posix).is_absolute():
            return outside
        parts: list[str] = []
        for part in PurePosixPath(posix).parts:
            if part == "..":
                if not parts:
                    return outside
                parts.pop()
            elif part not in (".", ""):
                parts.append(part)
        if not parts:
            return f"media reference '{shown}' is not a file; ignored"
        try:
            real = self.base.joinpath(*parts).resolve()
            if not real.is_relative_to(self.root):
                return outside  # a symlink that leads out of the input folder
            if not real.exists():
                return f"media file '{shown}' does not exist; ignored"
            if not real.is_file():
                return f"media reference '{shown}' is not a file; ignored"
        except (OSError, RuntimeError, ValueError):
            return f"media reference '{shown}' cannot be resolved; ignored"
        return MediaRef(reference=reference, path=real, kind=media_kind_for(ref))


# ---------------------------------------------------------------------------------------- post record


def content_id(*parts: str) -> str:
    """An id from a post's content, for posts without one: stable across rescans and file formats."""
    return "sha256-" + hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:32]


def build_post(
    fields: Mapping[str, object],
    media_refs: Sequence[str],
    *,
    file: str,
    line: int,
    default_source: str,
    resolver: MediaResolver,
    pseudonymize: Pseudonymize,
) -> Iterator[Item | Problem]:
    """One post from a JSON Lines object or a CSV row (the same columns): an Item plus any Problems.

    Missing `id`: the id is a hash of the text and the time (the parsed time in ISO form when it parses,
    so "...Z" and "...+00:00" agree; otherwise the raw value), so a rescan gives the same id; a line number
    would change whenever lines are added above.
    A post without `text` (missing or null) is kept with empty text when it has media, else skipped.
    """
    text = fields.get("text")
    if text is None and media_refs:
        text = ""
    if text is None:
        yield Problem(file, line, "no 'text' field; line skipped")
        return
    if not isinstance(text, str):
        yield Problem(file, line, f"'text' is a {type(text).__name__}, not a string; line skipped")
        return
    text, cut = cap_text(text, file, line)
    if cut:
        yield cut

    created_raw = fields.get("created_at")
    created_at: datetime | None = None
    if created_raw not in (None, ""):
        try:
            created_at = parse_timestamp(created_raw)
        except ValueError:
            yield Problem(
                file,
                line,
                f"'created_at' value '{short(created_raw, 40)}' is neither ISO 8601 nor unix seconds; "
                "kept without a time",
            )

    raw_id = fields.get("id")
    external_id: str | None = None
    if isinstance(raw_id, str) and raw_id.strip():
        external_id = raw_id.strip()
    elif isinstance(raw_id, int) and not isinstance(raw_id, bool):
        external_id = str(raw_id)
    elif raw_id not in (None, ""):
        yield Problem(file, line, "'id' is neither a string nor an integer; using a content-based id")
    if external_id is None:
        when = created_at.isoformat() if created_at else ("" if created_raw is None else str(created_raw))
        external_id = content_id(text, when)

    raw_author = fields.get("author")
    author: str | None = None
    if isinstance(raw_author, str) or (isinstance(raw_author, int) and not isinstance(raw_author, bool)):
        author = pseudonymize(str(raw_author))
    elif raw_author is not None:
        yield Problem(file, line, "'author' is neither a string nor an integer; ignored")

    raw_url = fields.get("url")
    url: str | None = None
    if isinstance(raw_url, str):
        url = raw_url.strip() or None
    elif raw_url is not None:
        yield Problem(file, line, "'url' is not a string; ignored")

    raw_source = fields.get("source")
    source = raw_source.strip() if isinstance(raw_source, str) and raw_source.strip() else default_source

    media: list[MediaRef] = []
    for ref in media_refs:
        resolved = resolver.resolve(ref)
        if isinstance(resolved, str):
            yield Problem(file, line, resolved)
        else:
            media.append(resolved)

    yield Item(
        source=source,
        external_id=external_id,
        text=text,
        created_at=created_at,
        author=author,
        url=url,
        media=media,
        origin=f"{file}:{line}",
    )


def is_hidden(name: str) -> bool:
    return name.startswith(".")


def file_size(path: Path) -> int:
    return os.stat(path).st_size
