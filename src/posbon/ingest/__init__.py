"""Ingest: readers that turn source files into Items (and Problems for what cannot be used).

    read_source(path, fmt, pseudonymize) -> Iterator[Item | Problem]

Formats: jsonl, csv, telegram (Desktop export), rss (RSS/Atom), media (a media file, or a folder: every
file in it is read by its own format, media files become Items of their own).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

from posbon.domain import IMAGE_SUFFIXES, VIDEO_SUFFIXES, Item, Problem
from posbon.ingest.common import IngestError, Pseudonymize, is_hidden
from posbon.ingest.csvfile import read_csv
from posbon.ingest.jsonl import read_jsonl
from posbon.ingest.media import media_item, read_media_file
from posbon.ingest.rss import read_rss
from posbon.ingest.telegram import RESULT_FILE, read_telegram

__all__ = ["FORMATS", "IngestError", "detect_format", "read_source"]

FORMATS = ("jsonl", "csv", "telegram", "rss", "media")

_SNIFF_BYTES = 64 * 1024
_SYMLINK_OUT = "a symlink that points outside the input folder; ignored"
_FEED_ROOT = re.compile(r"<(rss|feed|rdf:RDF)[\s>]")
_MESSAGES_LIST = re.compile(r'"messages"\s*:\s*\[')


def _head(path: Path) -> str:
    try:
        with path.open("rb") as raw:
            data = raw.read(_SNIFF_BYTES)
    except OSError as error:
        raise IngestError(f"{path}: cannot read ({error.strerror or error})") from error
    return data.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")


def detect_format(path: Path) -> str:
    """The format of a file or folder, from its name and its first bytes. Raises IngestError."""
    path = Path(path)
    if not path.exists():
        raise IngestError(f"{path} does not exist")
    if path.is_dir():
        return "telegram" if (path / RESULT_FILE).is_file() else "media"
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".jsonlines"):
        return "jsonl"
    if suffix in (".csv", ".tsv"):
        return "csv"
    if suffix in (".rss", ".atom"):
        return "rss"
    if suffix in IMAGE_SUFFIXES or suffix in VIDEO_SUFFIXES:
        return "media"
    head = _head(path)
    if head.startswith("{"):
        first = head.split("\n", 1)[0]
        try:
            record = json.loads(first)
        except (ValueError, RecursionError):
            record = None
        if isinstance(record, dict):
            # one object on the first line: JSON Lines, unless it is a minified chat export
            return "telegram" if isinstance(record.get("messages"), list) else "jsonl"
        if _MESSAGES_LIST.search(head):
            return "telegram"
    if head.startswith("<") and _FEED_ROOT.search(head):
        return "rss"
    raise IngestError(f"cannot tell the format of {path}; name one of: {', '.join(FORMATS)}")


def _read_file(path: Path, fmt: str, pseudonymize: Pseudonymize) -> Iterator[Item | Problem]:
    try:
        if path.stat().st_size == 0:
            yield Problem(str(path), None, "file is empty")
            return
        if fmt == "jsonl":
            yield from read_jsonl(path, pseudonymize)
        elif fmt == "csv":
            yield from read_csv(path, pseudonymize)
        elif fmt == "telegram":
            yield from read_telegram(path, pseudonymize)
        elif fmt == "rss":
            yield from read_rss(path, pseudonymize)
        else:
            yield from read_media_file(path)
    except OSError as error:
        yield Problem(str(path), None, f"cannot read ({error.strerror or error}); stopped")


def _read_folder(root: Path, pseudonymize: Pseudonymize) -> Iterator[Item | Problem]:
    """Every file under `root` (recursive, sorted, hidden names skipped), each read by its own format.

    A subfolder holding result.json is a Telegram export (its photos are that export's media). Media files
    that a post in the folder refers to are not repeated as Items of their own.
    """
    problems: list[Problem] = []
    posts: list[tuple[Path, str]] = []
    media_files: list[Path] = []

    def walk_error(error: OSError) -> None:
        reason = error.strerror or error
        problems.append(Problem(str(error.filename or root), None, f"cannot list ({reason})"))

    for directory, subdirs, names in os.walk(root, onerror=walk_error):
        folder = Path(directory)
        subdirs[:] = sorted(name for name in subdirs if not is_hidden(name))
        if (folder / RESULT_FILE).is_file():
            posts.append((folder, "telegram"))
            subdirs[:] = []
            continue
        for name in sorted(names):
            if is_hidden(name):
                continue
            path = folder / name
            if not path.is_file():
                if path.is_symlink():
                    problems.append(Problem(str(path), None, "a broken symlink; ignored"))
                continue  # sockets, pipes
            if path.is_symlink() and not path.resolve().is_relative_to(root.resolve()):
                problems.append(Problem(str(path), None, _SYMLINK_OUT))
                continue
            try:
                fmt = detect_format(path)
            except IngestError:
                fmt = "media"  # any other file is content of its own (kind "file")
            if fmt == "media":
                media_files.append(path)
            else:
                posts.append((path, fmt))

    yield from problems
    referenced: set[Path] = set()
    items = 0
    for path, fmt in sorted(posts):
        for out in _read_file(path, fmt, pseudonymize):
            if isinstance(out, Item):
                items += 1
                referenced.update(ref.path for ref in out.media if ref.path is not None)
            yield out
    for path in sorted(media_files, key=lambda p: p.relative_to(root).as_posix()):
        if path.resolve() in referenced:
            continue
        out = media_item(root, path)
        items += isinstance(out, Item)
        yield out
    if not items:
        yield Problem(str(root), None, "folder has nothing readable")


def read_source(path: Path, fmt: str | None, pseudonymize: Pseudonymize) -> Iterator[Item | Problem]:
    """Items and Problems from a file or folder, streamed. `fmt` None = detect.

    Raises IngestError at once (before iteration) for a missing path, an unknown format, or a format that
    cannot be told. `pseudonymize` is applied to every author id; no raw author id reaches an Item.
    """
    path = Path(path)
    if not path.exists():
        raise IngestError(f"{path} does not exist")
    if fmt is not None and fmt not in FORMATS:
        raise IngestError(f"unknown format '{fmt}'; use one of: {', '.join(FORMATS)}")
    if path.is_dir():
        has_export = (path / RESULT_FILE).is_file()
        if fmt == "telegram" or (fmt is None and has_export):
            if not has_export:
                raise IngestError(f"{path} has no {RESULT_FILE}; not a Telegram export")
            return _read_file(path / RESULT_FILE, "telegram", pseudonymize)
        if fmt in (None, "media"):
            return _read_folder(path, pseudonymize)
        raise IngestError(f"{path} is a folder; format '{fmt}' reads one file (leave the format out)")
    if path.stat().st_size == 0:
        return _read_file(path, fmt or "media", pseudonymize)
    return _read_file(path, fmt or detect_format(path), pseudonymize)
