"""Telegram Desktop export reader (`result.json` of one channel or group, or the folder holding it).

The export is parsed as a stream (ijson) over `messages`, so a multi-gigabyte file is never loaded whole.

Privacy: only the fields listed in `_message_item` are read. Reactions (with their `recent` lists of who
reacted), forwarders, members of service messages, display names and any other list of people never
reach an Item; the author's `from_id` is kept only pseudonymised.
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import ijson
from ijson.backends import python as ijson_python

from posbon.domain import Item, MediaRef, Problem
from posbon.ingest import common
from posbon.ingest.common import MediaResolver, Pseudonymize, cap_text, parse_timestamp, short

RESULT_FILE = "result.json"
_BUFFER = 64 * 1024
_EXACT_POSITION_BYTES = 8 * 1024 * 1024  # up to here a parse error's exact line is looked for
_OPENING = frozenset({"start_map", "start_array"})
_CLOSING = frozenset({"end_map", "end_array"})
# Keys that only a whole-account export (all chats, contacts, profile) has at its top level.
_ACCOUNT_KEYS = frozenset({"chats", "left_chats", "contacts", "personal_information", "frequent_contacts"})


class _CountingReader:
    """Wraps a binary file for ijson and remembers where the last chunk began (bytes and lines)."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.chunk_start = 0
        self.chunk_start_line = 1
        self.offset = 0
        self.line = 1

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self.chunk_start, self.chunk_start_line = self.offset, self.line
        self.offset += len(data)
        self.line += data.count(b"\n")
        return data


def _open(path: Path) -> tuple[BinaryIO, _CountingReader, int]:
    """The file opened past any UTF-8 byte-order mark, a counting reader over it, and the mark's length."""
    raw = path.open("rb")
    skip = len(codecs.BOM_UTF8)
    if raw.read(skip) != codecs.BOM_UTF8:
        raw.seek(0)
        skip = 0
    return raw, _CountingReader(raw), skip


def _exact_line(path: Path, start: int, end: int) -> int | None:
    """The line of a JSON syntax error in the first `end` bytes, by ijson's pure-Python lexer (which, unlike
    the fast C parser, reports the position). Used only on small prefixes, since it is slow."""
    if end > _EXACT_POSITION_BYTES:
        return None
    with path.open("rb") as raw:
        raw.seek(start)
        data = raw.read(end - start)
    try:
        for _event in ijson_python.basic_parse(io.BytesIO(data)):
            pass
    except ijson.JSONError as error:
        found = re.search(r" at (\d+)$", str(error))
        if found:
            return data.decode("utf-8", errors="replace")[: int(found.group(1))].count("\n") + 1
    except ValueError:
        return None
    return None


def _parse_error(path: Path, skip: int, reader: _CountingReader, error: Exception, read: int) -> Problem:
    reason = (str(error).strip().splitlines() or ["parse error"])[0]
    line = _exact_line(path, skip, skip + reader.offset)
    if line is not None:
        where = f"line {line}"
    elif reader.line == reader.chunk_start_line:
        where = f"line {reader.chunk_start_line}"
    else:
        where = f"lines {reader.chunk_start_line}-{reader.line} (bytes {reader.chunk_start}-{reader.offset})"
    return Problem(
        str(path),
        line or reader.chunk_start_line,
        f"invalid JSON in {where}: {reason}; reading stopped there after {read} messages",
    )


def _header(path: Path) -> tuple[str | None, Problem | None]:
    """The chat's name from the top of the export; stops where `messages` begins."""
    file = str(path)
    raw, reader, skip = _open(path)
    name: str | None = None
    with raw:
        events = ijson.basic_parse(reader, buf_size=_BUFFER, use_float=True)
        try:
            first = next(events, None)
            if first is None or first[0] != "start_map":
                return None, Problem(file, None, "not a Telegram chat export (the file is not a JSON object)")
            depth, key = 1, None
            for event, value in events:
                if event in _OPENING:
                    depth += 1
                    if depth > common.MAX_JSON_DEPTH:
                        return None, Problem(file, reader.chunk_start_line, _too_deep("before 'messages'", 0))
                elif event in _CLOSING:
                    depth -= 1
                elif depth == 1 and event == "map_key":
                    if value in _ACCOUNT_KEYS:
                        return None, Problem(
                            file,
                            None,
                            "a whole-account Telegram export, not one chat's; export one channel or group",
                        )
                    if value == "messages":
                        return name, None
                    key = value
                elif depth == 1 and key == "name" and event == "string":
                    name = str(value).strip() or None
        except (ijson.JSONError, ValueError) as error:
            return None, _parse_error(path, skip, reader, error, 0)
    return None, Problem(file, None, "no 'messages' list; not a Telegram chat export")


def _too_deep(where: str, read: int) -> str:
    return (
        f"JSON nested deeper than {common.MAX_JSON_DEPTH} levels {where} (POSBON_MAX_JSON_DEPTH; Telegram "
        f"never writes this: the file was altered); reading stopped there after {read} messages"
    )


class _TooDeep(Exception):
    """A message nests deeper than MAX_JSON_DEPTH."""


def _skip_to_messages(events: Iterator[tuple[str, Any]]) -> bool:
    """Consume events up to the start of the top-level `messages` array; False when it is not a list."""
    depth = 0
    for event, value in events:
        if event in _OPENING:
            depth += 1
        elif event in _CLOSING:
            depth -= 1
        elif depth == 1 and event == "map_key" and value == "messages":
            return next(events, ("", None))[0] == "start_array"
    return False


def _messages(events: Iterator[tuple[str, Any]]) -> Iterator[Any]:
    """The entries of the `messages` array, built from parser events with a depth limit.

    Written here rather than using ijson.items because items() keeps the prefix path of every open level
    ("messages.item.x.item.item..."): memory grows with the square of the depth, and a 2 MB file of
    brackets takes gigabytes. Here memory is bounded by the message itself and depth by MAX_JSON_DEPTH.
    """
    limit = common.MAX_JSON_DEPTH - 3  # the file's object, `messages`, the message: three levels
    stack: list[Any] = []
    keys: list[Any] = []
    for event, value in events:
        if event == "map_key":
            keys[-1] = value
        elif event == "start_map" or event == "start_array":
            if len(stack) > limit:
                raise _TooDeep
            container: Any = {} if event == "start_map" else []
            if stack:
                top = stack[-1]
                if type(top) is dict:
                    top[keys[-1]] = container
                else:
                    top.append(container)
            stack.append(container)
            keys.append(None)
        elif event == "end_map" or event == "end_array":
            if not stack:
                return  # the end of `messages`
            done = stack.pop()
            keys.pop()
            if not stack:
                yield done
        elif stack:
            top = stack[-1]
            if type(top) is dict:
                top[keys[-1]] = value
            else:
                top.append(value)
        else:
            yield value  # a bare value in `messages`


def _not_included(value: str) -> bool:
    # "(File not included. Change data exporting settings to download.)", "(File exceeds maximum size...)"
    return value.startswith("(") and value.endswith(")") and "exporting settings" in value


def message_text(message: dict[str, Any]) -> str:
    """The text as shown, then each link target (text_link href, URL button) that the text lacks, one a line.

    Appending keeps hidden link targets discoverable by the text stage while the shown text stays first
    and unchanged.
    """
    raw = message.get("text")
    if not isinstance(raw, str | list):
        raw = message.get("text_entities")
    parts: list[str] = []
    targets: list[str] = []
    if isinstance(raw, str):
        parts.append(raw)
    elif isinstance(raw, list):
        for fragment in raw:
            if isinstance(fragment, str):
                parts.append(fragment)
            elif isinstance(fragment, dict):
                shown = fragment.get("text")
                if isinstance(shown, str):
                    parts.append(shown)
                href = fragment.get("href")
                if isinstance(href, str) and href.strip():
                    targets.append(href.strip())
    text = "".join(parts)
    poll = message.get("poll")
    if isinstance(poll, dict):
        answers = poll.get("answers")
        lines = [poll.get("question")]
        lines += [a.get("text") for a in answers if isinstance(a, dict)] if isinstance(answers, list) else []
        poll_text = "\n".join(line for line in lines if isinstance(line, str) and line)
        if poll_text:
            text = f"{text}\n{poll_text}" if text else poll_text
    buttons = message.get("inline_bot_buttons")
    if isinstance(buttons, list):
        for row in buttons:
            for button in row if isinstance(row, list) else []:
                if isinstance(button, dict):
                    for key in ("data", "url", "href"):
                        target = button.get(key)
                        if isinstance(target, str) and target.startswith(("http://", "https://", "tg://")):
                            targets.append(target)
    missing = [t for t in dict.fromkeys(targets) if t not in text]
    if missing:
        text = "\n".join([text, *missing]) if text else "\n".join(missing)
    return text


def _message_item(
    message: dict[str, Any],
    *,
    file: str,
    source: str,
    resolver: MediaResolver,
    pseudonymize: Pseudonymize,
) -> Iterator[Item | Problem]:
    raw_id = message.get("id")
    if isinstance(raw_id, bool) or not isinstance(raw_id, int | str) or str(raw_id).strip() == "":
        yield Problem(file, None, "a message without an id; skipped")
        return
    message_id = str(raw_id).strip()
    label = f"message {message_id}: "

    text, cut = cap_text(message_text(message), file, None, label)
    if cut:
        yield cut

    created_at: datetime | None = None
    # date_unixtime is exact; `date` is in the exporting computer's local time, taken as UTC if it is all
    # there is.
    for key in ("date_unixtime", "date"):
        value = message.get(key)
        if value in (None, ""):
            continue
        try:
            created_at = parse_timestamp(value)
            break
        except ValueError:
            yield Problem(file, None, f"{label}'{key}' value '{short(value, 40)}' is not a time; ignored")

    from_id = message.get("from_id")
    author = pseudonymize(str(from_id)) if isinstance(from_id, str | int) and from_id != "" else None

    media: list[MediaRef] = []
    included_file = False
    for key in ("photo", "file", "thumbnail"):
        value = message.get(key)
        if not isinstance(value, str) or not value.strip() or _not_included(value):
            continue  # a file the export left out: quietly no media
        if key == "thumbnail" and included_file:
            continue  # a video's thumbnail counts only when the video itself is missing from the export
        resolved = resolver.resolve(value)
        if isinstance(resolved, str):
            yield Problem(file, None, label + resolved)
            continue
        media.append(resolved)
        if key == "file":
            included_file = True

    yield Item(
        source=source,
        external_id=message_id,
        text=text,
        created_at=created_at,
        author=author,
        url=None,
        media=media,
        origin=f"{file}:message {message_id}",
    )


def read_telegram(path: Path, pseudonymize: Pseudonymize) -> Iterator[Item | Problem]:
    """Messages of a Telegram Desktop export; `path` is result.json or the folder that holds it."""
    result = path / RESULT_FILE if path.is_dir() else path
    file = str(result)
    if not result.is_file():
        yield Problem(file, None, "no result.json in this folder; not a Telegram export")
        return
    if result.stat().st_size == 0:
        yield Problem(file, None, "file is empty")
        return
    name, problem = _header(result)
    if problem:
        yield problem
        return
    source = name or result.parent.resolve().name or result.stem
    resolver = MediaResolver(result.parent)
    raw, reader, skip = _open(result)
    read = 0
    with raw:
        try:
            events = ijson.basic_parse(reader, buf_size=_BUFFER, use_float=True)
            if not _skip_to_messages(events):
                yield Problem(file, None, "'messages' is not a list; nothing read")
                return
            for message in _messages(events):
                read += 1
                if not isinstance(message, dict):
                    yield Problem(file, None, f"messages entry {read} is not an object; skipped")
                    continue
                if message.get("type") != "message":
                    continue  # service messages (joins, pins, calls...) are not posts
                yield from _message_item(
                    message, file=file, source=source, resolver=resolver, pseudonymize=pseudonymize
                )
        except _TooDeep:
            yield Problem(file, reader.chunk_start_line, _too_deep(f"in message {read + 1}", read))
        except (ijson.JSONError, ValueError) as error:
            yield _parse_error(result, skip, reader, error, read)
