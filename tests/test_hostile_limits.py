"""Resource limits (issue: hostile-input hardening, point 3): bombs, huge files, deep JSON, giant lines.

Each trap is skipped or cut with a one-line Problem under the limits of posbon.limits, and reading goes
on with the next post. The 100 MB line is written to disk in 1 MB pieces and read as a stream.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
import tracemalloc
import zlib
from pathlib import Path

import av
import pytest
from PIL import Image

from posbon.domain import Item, MediaKind, Problem
from posbon.ingest import common, read_source
from posbon.limits import Limits, load_limits
from posbon.media.video import keyframes
from posbon.signals.media import MediaError, media_signals


def _read(path: Path, fmt: str | None = None) -> tuple[list[Item], list[Problem]]:
    out = list(read_source(path, fmt, lambda a: a))
    items = [o for o in out if isinstance(o, Item)]
    problems = [o for o in out if isinstance(o, Problem)]
    for problem in problems:
        assert "\n" not in str(problem)
    return items, problems


def png_declaring(path: Path, width: int, height: int) -> Path:
    """A 100-byte PNG whose header declares width x height pixels (the pixel data is never there)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
    path.write_bytes(data + chunk(b"IEND", b""))
    return path


def test_image_declaring_50k_by_50k_pixels_is_not_decoded(tmp_path: Path) -> None:
    bomb = png_declaring(tmp_path / "bomb.png", 50_000, 50_000)
    started = time.perf_counter()
    with pytest.raises(
        MediaError, match=r"image too large: .*2500000000 pixels.* \(limit 60,000,000 pixels\)"
    ):
        media_signals(bomb, MediaKind.IMAGE)
    assert time.perf_counter() - started < 1.0


def test_small_file_with_huge_pixel_count_is_refused(tmp_path: Path) -> None:
    # 81 M one-bit pixels compress to a few kB; under Pillow's own bomb warning (89 M), over posbon's 60 M
    path = tmp_path / "flat.png"
    Image.new("1", (9000, 9000)).save(path, optimize=True)
    assert path.stat().st_size < 100_000
    with pytest.raises(MediaError, match="9000x9000 pixels"):
        media_signals(path, MediaKind.IMAGE)


def test_enormous_image_and_feed_files_are_refused_without_reading(tmp_path: Path) -> None:
    image = tmp_path / "huge.png"
    with image.open("wb") as f:
        f.truncate(Limits().image_bytes + 1)  # sparse: instant, no disk used
    with pytest.raises(MediaError, match="image too large"):
        media_signals(image, MediaKind.IMAGE)
    feed = tmp_path / "huge.rss"
    with feed.open("wb") as f:
        f.write(b"<rss>")
        f.truncate(common.MAX_FEED_BYTES + 1)
    items, problems = _read(feed)
    assert items == [] and "feed larger than" in problems[0].message


def test_a_100_mb_line_is_skipped_while_streaming(tmp_path: Path) -> None:
    path = tmp_path / "posts.jsonl"
    piece = b"A" * (1024 * 1024)
    with path.open("wb") as f:
        f.write(b'{"id": "huge", "text": "')
        for _ in range(100):
            f.write(piece)
        f.write(b'"}\n{"id": "after", "text": "still read"}\n')
    tracemalloc.start()
    items, problems = _read(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert [i.external_id for i in items] == ["after"]
    assert [(p.line, p.message) for p in problems] == [(1, "line longer than 10 MB; skipped")]
    assert peak < 3 * common.MAX_LINE_BYTES  # one line's worth, never the 100 MB


def test_jsonl_line_nested_10000_levels_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "deep.jsonl"
    deep = '{"id": "deep", "text": "x", "extra": ' + "[" * 10_000 + "]" * 10_000 + "}"
    moderate = '{"id": "mid", "text": "x", "extra": ' + "[" * 100 + "]" * 100 + "}"
    path.write_text(f"{deep}\n{moderate}\n" + json.dumps({"id": "ok", "text": "fine [[x]]"}) + "\n")
    items, problems = _read(path)
    assert [i.external_id for i in items] == ["ok"]
    assert [p.line for p in problems] == [1, 2]
    assert all("nested deeper than 64 levels" in p.message for p in problems)


def _export_with(tmp_path: Path, second: str) -> Path:
    export = tmp_path / "ChatExport"
    export.mkdir()
    first = json.dumps({"id": 1, "type": "message", "text": "before"})
    (export / "result.json").write_text('{"name": "c", "messages": [' + first + ", " + second + "]}")
    return export


def test_result_json_message_nested_10000_levels_stops_with_a_message(tmp_path: Path) -> None:
    nested = '{"id": 2, "type": "message", "text": "x", "x": ' + "[" * 10_000 + "]" * 10_000 + "}"
    items, problems = _read(_export_with(tmp_path, nested))
    assert [i.external_id for i in items] == ["1"]
    assert len(problems) == 1 and "nested deeper than 64 levels in message 2" in problems[0].message
    assert "after 1 messages" in problems[0].message


def test_result_json_of_a_million_brackets_is_cheap(tmp_path: Path) -> None:
    # ijson.items() keeps a prefix string per open level: this 2 MB file needed gigabytes before
    nested = '{"id": 2, "type": "message", "x": ' + "[" * 1_000_000 + "]" * 1_000_000 + "}"
    export = _export_with(tmp_path, nested)
    tracemalloc.start()
    started = time.perf_counter()
    items, problems = _read(export)
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert [i.external_id for i in items] == ["1"] and len(problems) == 1
    assert elapsed < 2.0 and peak < 20 * 1024 * 1024


def test_result_json_nested_before_messages_is_refused(tmp_path: Path) -> None:
    export = tmp_path / "ChatExport"
    export.mkdir()
    (export / "result.json").write_text(
        '{"name": "c", "junk": ' + "[" * 5000 + "]" * 5000 + ', "messages": []}'
    )
    items, problems = _read(export)
    assert items == [] and "nested deeper than 64 levels before 'messages'" in problems[0].message


def test_very_long_post_is_cut_and_kept(tmp_path: Path) -> None:
    text = "word " * 300_000  # 1.5 M characters
    export = _export_with(tmp_path, json.dumps({"id": 2, "type": "message", "text": text}))
    items, problems = _read(export)
    assert [i.external_id for i in items] == ["1", "2"]
    assert len(items[1].text) == common.MAX_TEXT_CHARS and text.startswith(items[1].text)
    assert problems[0].message == "message 2: text longer than 1,000,000 characters; cut to that length"


def test_feed_entity_tricks_read_nothing_outside_and_do_not_expand(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("SENTINEL-OUTSIDE-THE-FEED")
    laughs = "".join(f'<!ENTITY l{n} "{f"&l{n - 1};" * 10}">' for n in range(1, 10))
    feed = tmp_path / "feed.rss"
    feed.write_text(
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY l0 "lol">{laughs}'
        f'<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>'
        '<rss version="2.0"><channel><title>t</title>'
        "<item><title>laughs &l9;</title><description>xxe &xxe;</description></item>"
        "<item><title>plain entry</title></item></channel></rss>"
    )
    started = time.perf_counter()
    items, _ = _read(feed)
    assert time.perf_counter() - started < 5.0
    assert all("SENTINEL" not in i.text for i in items)
    assert all(len(i.text) < 10_000 for i in items)


def _video(path: Path, size: tuple[int, int], frames: int) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for k in range(frames):
            image = Image.new("RGB", size, (k * 40 % 255, 60, 90))
            for packet in stream.encode(av.VideoFrame.from_image(image)):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def test_video_limits_cut_long_and_huge_videos(tmp_path: Path) -> None:
    video = _video(tmp_path / "clip.mp4", (64, 48), frames=30)  # 3 s
    frames, note = keyframes(video, max_pixels=64 * 48 - 1)
    assert frames == [] and note is not None and "64x48 pixels" in note
    frames, note = keyframes(video, max_seconds=1)
    assert note is not None and "first 1 s" in note and "\n" not in note
    everything, note = keyframes(video)
    assert note is None and len(everything) > len(frames)


def test_limits_come_from_the_environment() -> None:
    limits, ignored = load_limits({"POSBON_MAX_LINE_BYTES": "1_000", "POSBON_MAX_JSON_DEPTH": " 8 "})
    assert limits.line_bytes == 1000 and limits.json_depth == 8 and ignored == []
    limits, ignored = load_limits({"POSBON_MAX_TEXT_CHARS": "lots", "POSBON_MAX_IMAGE_PIXELS": "0"})
    assert limits == Limits() and len(ignored) == 2
    assert "POSBON_MAX_TEXT_CHARS='lots' is not a positive whole number; using 1_000_000" in ignored


def test_readers_use_the_limits_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "posts.jsonl"
    path.write_text(json.dumps({"id": "a", "text": "x" * 50}) + "\n")
    script = (
        "import sys; from pathlib import Path; from posbon.ingest import read_source\n"
        "for o in read_source(Path(sys.argv[1]), None, lambda a: a): print(o)\n"
    )
    env = {**os.environ, "POSBON_MAX_TEXT_CHARS": "10", "POSBON_MAX_JSON_DEPTH": "x"}
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "text longer than 10 characters; cut to that length" in done.stdout
    assert done.stderr.strip() == "posbon: POSBON_MAX_JSON_DEPTH='x' is not a positive whole number; using 64"
