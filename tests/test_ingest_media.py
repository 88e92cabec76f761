from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from posbon.domain import Item, MediaKind, Problem
from posbon.ingest import IngestError, detect_format, read_source
from posbon.privacy import Pseudonymizer

PSEUDO = Pseudonymizer(b"test-key")


def read(path: Path, fmt: str | None = None) -> tuple[list[Item], list[Problem]]:
    out = list(read_source(path, fmt, PSEUDO))
    return [o for o in out if isinstance(o, Item)], [o for o in out if isinstance(o, Problem)]


def test_media_folder(tmp_path: Path) -> None:
    root = tmp_path / "drop"
    (root / "sub").mkdir(parents=True)
    (root / ".hidden").mkdir()
    (root / "b.png").write_bytes(b"png")
    (root / "sub" / "a.mp4").write_bytes(b"mp4")
    (root / "notes.pdf").write_bytes(b"pdf")
    (root / ".DS_Store").write_bytes(b"x")
    (root / ".hidden" / "c.jpg").write_bytes(b"x")
    (root / "empty.jpg").write_bytes(b"")
    (tmp_path / "secret.jpg").write_bytes(b"x")
    os.symlink(tmp_path / "secret.jpg", root / "link.jpg")
    os.utime(root / "b.png", (1709296496, 1709296496))
    assert detect_format(root) == "media"
    items, problems = read(root)
    assert [i.external_id for i in items] == ["b.png", "notes.pdf", "sub/a.mp4"]
    png = items[0]
    assert (
        png.text == "" and png.source == "drop" and png.created_at == datetime.fromtimestamp(1709296496, UTC)
    )
    assert png.media[0].kind is MediaKind.IMAGE and png.media[0].path == (root / "b.png").resolve()
    assert [i.media[0].kind for i in items] == [MediaKind.IMAGE, MediaKind.FILE, MediaKind.VIDEO]
    assert sorted(str(p) for p in problems) == [
        f"{root / 'empty.jpg'}: file is empty",
        f"{root / 'link.jpg'}: a symlink that points outside the input folder; ignored",
    ]
    assert [i.item_id for i in read(root)[0]] == [i.item_id for i in items]
    single, _ = read(root / "b.png")
    assert single[0].external_id == "b.png" and detect_format(root / "b.png") == "media"


def test_mixed_folder(tmp_path: Path) -> None:
    root = tmp_path / "mixed"
    (root / "img").mkdir(parents=True)
    (root / "img" / "used.jpg").write_bytes(b"x")
    (root / "img" / "loose.jpg").write_bytes(b"x")
    (root / "posts.jsonl").write_text(
        json.dumps({"id": "j1", "text": "hi", "media": ["img/used.jpg"]}) + "\n"
    )
    (root / "rows.csv").write_text("id,text\nc1,hello\n")
    export = root / "tg"
    (export / "photos").mkdir(parents=True)
    (export / "photos" / "p.jpg").write_bytes(b"x")
    (export / "result.json").write_text(
        json.dumps(
            {"name": "Chan", "messages": [{"id": 1, "type": "message", "text": "m", "photo": "photos/p.jpg"}]}
        )
    )
    items, problems = read(root)
    assert problems == []
    assert sorted((i.source, i.external_id) for i in items) == [
        ("Chan", "1"),
        ("mixed", "img/loose.jpg"),  # used.jpg is a post's media, not an item of its own
        ("posts", "j1"),
        ("rows", "c1"),
    ]


def test_empty_folder_missing_path_and_bad_format(tmp_path: Path) -> None:
    (tmp_path / "nothing").mkdir()
    assert read(tmp_path / "nothing") == (
        [],
        [Problem(str(tmp_path / "nothing"), None, "folder has nothing readable")],
    )
    with pytest.raises(IngestError, match="does not exist"):
        read_source(tmp_path / "nope.jsonl", None, PSEUDO)
    with pytest.raises(IngestError, match="does not exist"):
        detect_format(tmp_path / "nope")
    with pytest.raises(IngestError, match="unknown format"):
        read_source(tmp_path / "nothing", "xml", PSEUDO)
    with pytest.raises(IngestError, match="is a folder"):
        read_source(tmp_path / "nothing", "csv", PSEUDO)


def test_detect_format(tmp_path: Path) -> None:
    cases = {
        "a.jsonl": '{"text": "x"}\n',
        "a.ndjson": '{"text": "x"}\n',
        "posts.json": '{"id": 1, "text": "x"}\n{"id": 2, "text": "y"}\n',
        "a.csv": "id,text\n",
        "a.rss": "<rss></rss>",
        "feed.xml": '<?xml version="1.0"?>\n<feed xmlns="http://www.w3.org/2005/Atom"></feed>',
        "result.json": '{\n "name": "x",\n "type": "public_channel",\n "messages": [\n ]\n}',
        "a.webp": "x",
    }
    expected = ["jsonl", "jsonl", "jsonl", "csv", "rss", "rss", "telegram", "media"]
    for (name, content), fmt in zip(cases.items(), expected, strict=True):
        (tmp_path / name).write_text(content)
        assert detect_format(tmp_path / name) == fmt, name
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(IngestError, match="cannot tell the format"):
        detect_format(tmp_path / "notes.txt")
    (tmp_path / "other.json").write_text('{\n "a": 1\n}')
    with pytest.raises(IngestError):
        detect_format(tmp_path / "other.json")
