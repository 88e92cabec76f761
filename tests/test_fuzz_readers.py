"""Property tests for the readers that tests/test_ingest_*.py do not fuzz yet (Telegram, RSS, media folder,
CSV round trip): any input gives Items and one-line Problems, never an exception, and a post's text comes
through unchanged. JSON Lines and arbitrary CSV bytes are fuzzed in their own test files; normalisation in
tests/test_text_normalize.py and tests/test_text_analyze.py.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from posbon.domain import Item, Problem
from posbon.ingest import read_source

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
_message_keys = st.sampled_from(
    ["id", "type", "date", "date_unixtime", "from_id", "text", "text_entities", "photo", "file", "thumbnail"]
    + ["poll", "inline_bot_buttons", "reactions"]
)
_messages = st.dictionaries(_message_keys, _json_values, max_size=8).map(lambda m: {"type": "message", **m})
_paths = st.sampled_from(["photos/a.jpg", "../x.jpg", "/etc/passwd", "C:\\x", "file:///x", "a\x00b", ""])


def _read(path: Path, fmt: str | None = None) -> list[Item | Problem]:
    out = list(read_source(path, fmt, lambda a: None if a is None else f"p:{a}"))
    for entry in out:
        assert isinstance(entry, Item | Problem)
        if isinstance(entry, Problem):
            assert "\n" not in str(entry) and "\r" not in str(entry), str(entry)
        else:
            assert isinstance(entry.text, str)
            assert all(
                ref.path is None or ref.path.is_relative_to(path.parent.resolve()) for ref in entry.media
            )
    return out


@FUZZ
@given(messages=st.lists(_messages | _json_values, max_size=6), name=_json_values)
def test_telegram_any_structure_never_raises(messages: list[Any], name: Any) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "result.json"
        result.write_text(json.dumps({"name": name, "messages": messages}), encoding="utf-8")
        _read(result, "telegram")


@FUZZ
@given(data=st.binary(max_size=400))
def test_telegram_arbitrary_bytes_never_raise(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "result.json"
        result.write_bytes(b'{"name": "c", "messages": [' + data)
        _read(result, "telegram")


@FUZZ
@given(texts=st.lists(st.text(max_size=60), min_size=1, max_size=5), photo=_paths)
def test_telegram_text_comes_through_unchanged(texts: list[str], photo: str) -> None:
    messages = [{"id": n, "type": "message", "text": t, "photo": photo} for n, t in enumerate(texts)]
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "result.json"
        result.write_text(json.dumps({"name": "c", "messages": messages}), encoding="utf-8")
        items = [o for o in _read(result, "telegram") if isinstance(o, Item)]
    assert [i.text for i in items] == texts


@FUZZ
@given(data=st.binary(max_size=500))
def test_rss_arbitrary_bytes_never_raise(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        feed = Path(tmp) / "feed.rss"
        feed.write_bytes(b'<?xml version="1.0"?><rss version="2.0"><channel>' + data)
        _read(feed, "rss")


_markup = st.text(alphabet=st.sampled_from(list("<>/&;\"'= abcpscriptimgonerror#x1[]!-")), max_size=80)


@FUZZ
@example(entries=[("", "<![1")])  # html.parser raised AssertionError on this (found by this test)
@given(entries=st.lists(st.tuples(_markup, _markup), min_size=1, max_size=4))
def test_rss_generated_entries_never_raise(entries: list[tuple[str, str]]) -> None:
    def cdata(text: str) -> str:
        return "<![CDATA[" + text.replace("]]>", "") + "]]>"

    items = "".join(
        f"<item><title>{cdata(t)}</title><description>{cdata(d)}</description></item>" for t, d in entries
    )
    with tempfile.TemporaryDirectory() as tmp:
        feed = Path(tmp) / "feed.rss"
        feed.write_text(
            f'<?xml version="1.0"?><rss version="2.0"><channel>{items}</channel></rss>', encoding="utf-8"
        )
        _read(feed, "rss")


_names = st.text(alphabet=st.sampled_from(list("abc.-_ ñ中")), min_size=1, max_size=12).filter(
    lambda n: n not in (".", "..")
)
_suffixes = st.sampled_from([".jpg", ".png", ".mp4", ".jsonl", ".csv", ".rss", ".txt", ""])


@FUZZ
@given(files=st.lists(st.tuples(_names, _suffixes, st.binary(max_size=200)), max_size=6))
def test_media_folder_of_arbitrary_files_never_raises(files: list[tuple[str, str, bytes]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "in"
        (root / "sub").mkdir(parents=True)
        for n, (name, suffix, data) in enumerate(files):
            (root / ("sub" if n % 2 else ".") / f"{name}{suffix}").write_bytes(data)
        (Path(tmp) / "secret.jpg").write_bytes(b"outside")
        (root / "out.jpg").symlink_to(Path(tmp) / "secret.jpg")  # a file symlink that leads out
        (root / "up").symlink_to(Path(tmp), target_is_directory=True)  # not followed
        out = _read(root)
    assert sum(isinstance(o, Item) for o in out) <= len(files)
    assert any(isinstance(o, Problem) and "out.jpg" in o.file for o in out)  # the symlink out is refused


_no_nul = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"]), max_size=60)


@FUZZ
@given(rows=st.lists(st.tuples(st.text(max_size=40), _no_nul), min_size=1, max_size=5))
def test_csv_text_comes_through_unchanged(rows: list[tuple[str, str]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", "text"])
    writer.writerows((f"r{n}-{ident}", text) for n, (ident, text) in enumerate(rows))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "posts.csv"
        path.write_text(buffer.getvalue(), encoding="utf-8", newline="")
        items = [o for o in _read(path, "csv") if isinstance(o, Item)]
    expected = [text.replace("\r\n", "\n").replace("\r", "\n") for _, text in rows]
    assert [i.text.replace("\r\n", "\n").replace("\r", "\n") for i in items] == expected
