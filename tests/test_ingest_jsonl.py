from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posbon.domain import Item, MediaKind, Problem
from posbon.ingest import common, read_source
from posbon.privacy import Pseudonymizer

PSEUDO = Pseudonymizer(b"test-key")


def read(path: Path, fmt: str | None = "jsonl") -> tuple[list[Item], list[Problem]]:
    out = list(read_source(path, fmt, PSEUDO))
    assert all(isinstance(o, Item | Problem) for o in out)
    return [o for o in out if isinstance(o, Item)], [o for o in out if isinstance(o, Problem)]


def lines(path: Path, *rows: object) -> Path:
    path.write_text(
        "".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows)
    )
    return path


def test_fields_and_defaults(tmp_path: Path) -> None:
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.jpg").write_bytes(b"jpg")
    (tmp_path / "clip.mp4").write_bytes(b"mp4")
    path = lines(
        tmp_path / "posts.jsonl",
        {
            "id": "p1",
            "text": "Салом, дӯстон! Join t.me/example",
            "created_at": "2024-03-01T12:34:56+05:00",
            "author": "user123",
            "source": "chan",
            "url": "https://example.org/p1",
            "media": ["img/a.jpg", "clip.mp4"],
            "views": 10,
        },
        {"id": 7, "text": "second", "created_at": 1700000000, "media": "img/a.jpg"},
    )
    items, problems = read(path)
    assert problems == []
    first, second = items
    assert first.external_id == "p1" and first.source == "chan" and first.url == "https://example.org/p1"
    assert first.created_at == datetime(2024, 3, 1, 7, 34, 56, tzinfo=UTC)
    assert first.author == PSEUDO("user123") and "user123" not in repr(items)
    assert [(m.reference, m.kind) for m in first.media] == [
        ("img/a.jpg", MediaKind.IMAGE),
        ("clip.mp4", MediaKind.VIDEO),
    ]
    assert first.media[0].path == (tmp_path / "img" / "a.jpg").resolve()
    assert first.origin == f"{path}:1"
    assert second.external_id == "7" and second.source == "posts"  # the file's stem
    assert second.created_at == datetime.fromtimestamp(1700000000, tz=UTC)
    assert second.created_at.tzinfo is UTC and len(second.media) == 1
    assert second.origin == f"{path}:2"


def test_malformed_lines_named_and_later_lines_read(tmp_path: Path) -> None:
    path = lines(
        tmp_path / "p.jsonl",
        {"id": "a", "text": "ok"},
        "{not json",
        "",
        "[1, 2]",
        {"id": "b", "text": 5},
        {"id": "c"},
        {"id": "d", "text": "bad time", "created_at": "next tuesday"},
        {"id": "e", "text": "last"},
    )
    items, problems = read(path)
    assert [i.external_id for i in items] == ["a", "d", "e"]
    assert items[1].created_at is None
    where = [(p.line, p.message.split(" ")[0]) for p in problems]
    assert [p.line for p in problems] == [2, 4, 5, 6, 7], where
    assert str(problems[0]).startswith(f"{path}:2: not valid JSON")
    assert "'created_at'" in problems[-1].message


def test_missing_id_uses_stable_content_hash(tmp_path: Path) -> None:
    path = lines(tmp_path / "p.jsonl", {"text": "same words", "created_at": "2024-01-01T00:00:00Z"})
    other = lines(tmp_path / "q.jsonl", "", {"text": "same words", "created_at": "2024-01-01T00:00:00+00:00"})
    first, _ = read(path)
    again, _ = read(path)
    moved, _ = read(other)
    assert first[0].external_id.startswith("sha256-")
    assert first[0].external_id == again[0].external_id == moved[0].external_id
    assert first[0].item_id == again[0].item_id
    changed = lines(tmp_path / "r.jsonl", {"text": "other words", "created_at": "2024-01-01T00:00:00Z"})
    assert read(changed)[0][0].external_id != first[0].external_id


def test_media_refusals_keep_the_post(tmp_path: Path) -> None:
    inside = tmp_path / "in"
    inside.mkdir()
    (tmp_path / "secret.jpg").write_bytes(b"x")
    (inside / "ok.png").write_bytes(b"x")
    os.symlink(tmp_path / "secret.jpg", inside / "link.jpg")
    path = lines(
        inside / "p.jsonl",
        {
            "id": "1",
            "text": "t",
            "media": ["../secret.jpg", "/etc/passwd", "link.jpg", "missing.jpg", "ok.png"],
        },
    )
    items, problems = read(path)
    assert len(items) == 1 and [m.reference for m in items[0].media] == ["ok.png"]
    messages = [str(p) for p in problems]
    assert (
        messages[0] == f"{path}:1: media reference '../secret.jpg' points outside the input folder; ignored"
    )
    assert "'/etc/passwd' points outside" in messages[1]
    assert "'link.jpg' points outside" in messages[2]
    assert "'missing.jpg' does not exist" in messages[3]
    assert all(p.line == 1 for p in problems)


def test_cp1251_and_bom(tmp_path: Path) -> None:
    text = "Ассалому алейкум, бародарон! Ин матни тоҷикӣ нест, балки русӣ: привет всем друзьям"
    legacy = text.replace("ҷ", "ї").replace("ӣ", "ї")  # cp1251 has no Tajik letters: legacy look-alikes
    row = json.dumps({"id": "1", "text": legacy}, ensure_ascii=False) + "\n"
    cp = tmp_path / "cp.jsonl"
    cp.write_bytes((row * 5).encode("cp1251"))
    items, problems = read(cp)
    assert len(items) == 5 and items[0].text == legacy
    assert len(problems) == 1 and "decoded as cp1251" in problems[0].message
    bom = tmp_path / "bom.jsonl"
    bom.write_bytes(b"\xef\xbb\xbf" + row.encode())
    items, problems = read(bom)
    assert problems == [] and items[0].external_id == "1"


def test_undecodable_bytes_are_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the encoding is chosen from the file's start; bytes later on that do not fit it are replaced
    monkeypatch.setattr(common, "ENCODING_SAMPLE_BYTES", 1000)
    path = tmp_path / "p.jsonl"
    path.write_bytes(b'{"id": "1", "text": "ok"}\n' * 100 + b'{"id": "2", "text": "bad \xff\xfe"}\n')
    items, problems = read(path)
    assert len(items) == 101
    assert [str(p) for p in problems] == [f"{path}:101: bytes that are not valid utf-8 replaced with U+FFFD"]
    assert items[-1].text == "bad \ufffd\ufffd"


def test_empty_file_and_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "e.jsonl"
    empty.write_bytes(b"")
    assert read(empty) == ([], [Problem(str(empty), None, "file is empty")])
    monkeypatch.setattr(common, "MAX_LINE_BYTES", 200)
    monkeypatch.setattr(common, "MAX_TEXT_CHARS", 50)
    path = lines(tmp_path / "p.jsonl", {"id": "long", "text": "x" * 500}, {"id": "cut", "text": "y" * 120})
    items, problems = read(path)
    assert [i.external_id for i in items] == ["cut"] and items[0].text == "y" * 50
    assert problems[0].line == 1 and "longer than" in problems[0].message
    assert problems[1].line == 2 and "cut" in problems[1].message


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=600))
def test_arbitrary_bytes_never_raise(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "fuzz.jsonl"
    path.write_bytes(data)
    for out in read_source(path, "jsonl", PSEUDO):
        assert isinstance(out, Item | Problem)
        if isinstance(out, Item):
            assert out.created_at is None or out.created_at.tzinfo is not None


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(
        st.dictionaries(
            st.sampled_from(["id", "text", "created_at", "author", "media", "url"]),
            st.none() | st.integers() | st.text(max_size=20) | st.lists(st.text(max_size=5)),
        )
    )
)
def test_arbitrary_objects_never_raise(tmp_path: Path, rows: list[dict[str, object]]) -> None:
    path = lines(tmp_path / "fuzz.jsonl", *rows) if rows else lines(tmp_path / "fuzz.jsonl", "")
    for out in read_source(path, "jsonl", PSEUDO):
        assert isinstance(out, Item | Problem)
