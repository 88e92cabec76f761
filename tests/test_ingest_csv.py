from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posbon.domain import Item, Problem
from posbon.ingest import common, detect_format, read_source
from posbon.privacy import Pseudonymizer

PSEUDO = Pseudonymizer(b"test-key")


def read(path: Path, fmt: str | None = "csv") -> tuple[list[Item], list[Problem]]:
    out = list(read_source(path, fmt, PSEUDO))
    return [o for o in out if isinstance(o, Item)], [o for o in out if isinstance(o, Problem)]


def table(rows: list[list[str]], delimiter: str = ",") -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


HEADER = ["id", "text", "created_at", "author", "source", "url", "media"]


def test_columns_multiline_and_media(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"x")
    (tmp_path / "b.png").write_bytes(b"x")
    (tmp_path / "c.mp4").write_bytes(b"x")
    path = tmp_path / "posts.csv"
    path.write_text(
        table(
            [
                HEADER,
                [
                    "1",
                    "first line\nsecond line, with comma",
                    "2024-03-01T10:00:00Z",
                    "u1",
                    "",
                    "",
                    "a.jpg;b.png|c.mp4",
                ],
                ["2", 'quoted "word"', "1700000000", "", "forum", "https://example.org/2", ""],
                [],
                ["", "no id here", "", "u2", "", "", ""],
            ]
        )
    )
    items, problems = read(path, None)
    assert problems == []
    one, two, three = items
    assert one.text == "first line\nsecond line, with comma" and one.origin == f"{path}:2"
    assert [m.reference for m in one.media] == ["a.jpg", "b.png", "c.mp4"]
    assert one.created_at == datetime(2024, 3, 1, 10, tzinfo=UTC) and one.source == "posts"
    assert one.author == PSEUDO("u1") and "'u1'" not in repr(items)
    assert two.origin == f"{path}:4" and two.source == "forum" and two.url == "https://example.org/2"
    assert two.author is None and two.text == 'quoted "word"'
    assert three.origin == f"{path}:6" and three.external_id.startswith("sha256-")


def test_semicolon_delimiter_cp1251_and_bom(tmp_path: Path) -> None:
    text = "Привет, друзья! Это обычный пост про погоду в Душанбе и про рынок."
    content = table([["id", "text"], *[[str(n), text] for n in range(5)]], delimiter=";")
    cp = tmp_path / "cp.csv"
    cp.write_bytes(content.encode("cp1251"))
    items, problems = read(cp)
    assert [i.text for i in items] == [text] * 5
    assert [p.message for p in problems] == ["not valid UTF-8; decoded as cp1251 (detected)"]
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + content.encode())
    items, problems = read(bom)
    assert problems == [] and len(items) == 5 and items[0].external_id == "0"


def test_bad_records_named_and_reading_goes_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "p.csv"
    path.write_text("id,source,text\n1\n2,s,ok\n3,s,fine,extra\n4,s,late,x\n5,s,bad,ts\n")
    path.write_text(path.read_text() + table([["6", "s", "t"]]))
    items, problems = read(path)
    assert [i.external_id for i in items] == ["2", "3", "4", "5", "6"]
    assert [str(p) for p in problems] == [f"{path}:2: record has 1 fields, no 'text'; skipped"]
    nohead = tmp_path / "n.csv"
    nohead.write_text("a,b\n1,2\n")
    assert read(nohead) == ([], [Problem(str(nohead), 1, "header row has no 'text' column; file skipped")])
    monkeypatch.setattr(common, "MAX_LINE_BYTES", 40)
    big = tmp_path / "big.csv"
    big.write_text('id,text\n1,"' + "z" * 100 + '"\n2,after\n')
    items, problems = read(big)
    assert [i.external_id for i in items] == ["2"]
    assert problems[0].line == 2 and "longer than" in problems[0].message


def test_old_mac_line_ends(tmp_path: Path) -> None:
    path = tmp_path / "mac.csv"
    path.write_bytes(b"id,text\r1,a\r2,b\r")
    items, problems = read(path)
    assert problems == [] and [(i.external_id, i.text) for i in items] == [("1", "a"), ("2", "b")]


def test_stable_ids_and_detect(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text(table([HEADER, ["", "words", "2024-01-01", "", "", "", ""]]))
    assert detect_format(path) == "csv"
    assert read(path)[0][0].item_id == read(path)[0][0].item_id


def test_empty(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes(b"")
    assert read(path) == ([], [Problem(str(path), None, "file is empty")])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=600))
def test_arbitrary_bytes_never_raise(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "fuzz.csv"
    path.write_bytes(b"id,text,media,created_at\n" + data)
    for out in read_source(path, "csv", PSEUDO):
        assert isinstance(out, Item | Problem)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300))
def test_arbitrary_whole_file_never_raises(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "fuzz.csv"
    path.write_bytes(data)
    for out in read_source(path, "csv", PSEUDO):
        assert isinstance(out, Item | Problem)
