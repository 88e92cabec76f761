"""CSV reader: a header row, then one post per record (the same columns as JSON Lines)."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path

from posbon.domain import Item, Problem
from posbon.ingest import common
from posbon.ingest.common import MediaResolver, Pseudonymize, build_post, iter_text_lines

COLUMNS = ("id", "text", "created_at", "author", "source", "url", "media")
_DELIMITERS = (",", ";", "\t", "|")
_MEDIA_SPLIT = re.compile(r"[;|]")
_BARE_CR = re.compile(r"(?<=\r)(?!\n)")  # after a CR that ends a line on its own (old Mac files)


class _Lines:
    """Feeds decoded lines to csv.reader while keeping the line numbers and Problems aside."""

    def __init__(self, path: Path) -> None:
        self._source = iter_text_lines(path)
        self.problems: list[Problem] = []
        self.fed: list[int] = []
        self._pending: list[str] = []
        self._pending_line = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self._pending:
            self.fed.append(self._pending_line)
            return self._pending.pop(0)
        for entry in self._source:
            if isinstance(entry, Problem):
                self.problems.append(entry)
                continue
            number, text = entry
            self.fed.append(number)
            # csv needs lines split at every line end; the byte reader splits at LF only
            first, *self._pending = _BARE_CR.split(text)
            self._pending_line = number
            return first
        raise StopIteration


def _header(line: str) -> tuple[str, list[str]] | None:
    """The delimiter and lower-cased column names: the first delimiter that yields a 'text' column."""
    for delimiter in _DELIMITERS:
        try:
            names = next(csv.reader(_BARE_CR.split(line), delimiter=delimiter), [])
        except csv.Error:
            continue
        columns = [name.strip().lstrip("\ufeff").lower() for name in names]
        if "text" in columns:
            return delimiter, columns
    return None


def read_csv(path: Path, pseudonymize: Pseudonymize) -> Iterator[Item | Problem]:
    """Posts from a CSV file with a header row (`text` required; id, created_at, author, source, url, media).

    The delimiter (comma, semicolon, tab or bar) is taken from the header. `media` may hold several paths
    separated by ';' or '|'. A record's line number is the line it starts on (quoted fields may span lines).
    """
    file = str(path)
    resolver = MediaResolver(path.parent)
    # The csv module's per-field limit is process-wide; raise it to our line limit so a long post is cut by
    # our own text limit (with a Problem), not refused by csv.
    csv.field_size_limit(max(csv.field_size_limit(), common.MAX_LINE_BYTES))
    lines = _Lines(path)
    header: tuple[str, list[str]] | None = None
    header_line = 0
    for number_text in lines:
        header_line = lines.fed[-1]
        if number_text.strip():
            header = _header(number_text)
            break
    yield from lines.problems
    lines.problems.clear()
    if header is None:
        if header_line:
            yield Problem(file, header_line, "header row has no 'text' column; file skipped")
        else:
            yield Problem(file, None, "no header row; file skipped")
        return
    delimiter, columns = header
    index = {name: columns.index(name) for name in COLUMNS if name in columns}
    reader = csv.reader(lines, delimiter=delimiter)
    while True:
        lines.fed.clear()
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            yield from lines.problems
            lines.problems.clear()
            start = lines.fed[0] if lines.fed else None
            yield Problem(file, start, f"unreadable CSV record ({error}); skipped")
            continue
        yield from lines.problems
        lines.problems.clear()
        if not row:
            continue  # a blank line
        start = lines.fed[0] if lines.fed else header_line
        if len(row) <= index["text"]:
            yield Problem(file, start, f"record has {len(row)} fields, no 'text'; skipped")
            continue
        fields: dict[str, object] = {
            name: row[position] for name, position in index.items() if position < len(row)
        }
        media = fields.pop("media", "")
        refs = [ref for ref in _MEDIA_SPLIT.split(str(media)) if ref.strip()]
        yield from build_post(
            fields,
            refs,
            file=file,
            line=start,
            default_source=path.stem,
            resolver=resolver,
            pseudonymize=pseudonymize,
        )
    yield from lines.problems
