"""The "done when" of the hostile-input issue, through the real CLI in its own process.

A hostile export (script tags, `../` media, a decompression bomb, a 100 MB line) scans to the end with a
message per trap, a report that runs no script, and nothing read outside the export; and the memory of a
reader over a 50 MB Telegram export stays flat (it streams).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
from PIL import Image

from test_hostile_limits import png_declaring

POSBON = str(Path(sys.executable).with_name("posbon"))
BANKED = (
    "Lantern Signal Media announces: the closed reading circle meets again this Friday. "
    "Write to the organiser in private to receive the address and the rules of the circle."
)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([POSBON, *args], capture_output=True, text=True, timeout=120, env=os.environ)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def test_hostile_export_scans_to_the_end(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    rng = np.random.default_rng(5)
    cells = rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)
    Image.fromarray(cells).resize((256, 256), Image.Resampling.BICUBIC).save(outside / "secret.png")
    (outside / "statement.txt").write_text(BANKED, encoding="utf-8")
    assert _run("bank", "create", "known").returncode == 0
    assert _run("bank", "add", "known", str(outside)).returncode == 0  # the text and the outside image

    export = tmp_path / "EXPORT"
    chat = export / "chat"
    (chat / "photos").mkdir(parents=True)
    png_declaring(chat / "photos" / "bomb.png", 50_000, 50_000)
    messages = [
        {
            "id": 1,
            "type": "message",
            "text": BANKED + "<script>alert(1)</script>",
            "photo": "../../outside/secret.png",
        },
        {
            "id": 2,
            "type": "message",
            "text": [BANKED, {"type": "text_link", "text": "x", "href": "javascript:alert(2)"}],
        },
        {
            "id": 3,
            "type": "message",
            "text": BANKED + '"><img src=x onerror=alert(3)>',
            "photo": "photos/bomb.png",
        },
    ]
    (chat / "result.json").write_text(
        json.dumps({"name": "<b onmouseover=alert(4)>c</b>", "messages": messages})
    )
    with (export / "posts.jsonl").open("wb") as f:
        f.write(b'{"id": "huge", "text": "')
        piece = b"B" * (1024 * 1024)
        for _ in range(100):
            f.write(piece)
        f.write(
            b'"}\n' + json.dumps({"id": "last", "text": BANKED + "<svg onload=alert(5)>"}).encode() + b"\n"
        )

    report = tmp_path / "r.html"
    done = _run("scan", str(export), "--report", str(report))
    assert done.returncode == 1, done.stderr  # finished, with skipped input
    said = " ".join(done.stderr.split())  # rich wraps long lines
    assert "posts.jsonl:1: line longer than 10 MB; skipped" in said
    assert "message 1: media reference '../../outside/secret.png' points outside the input folder" in said
    assert "image too large" in said and "message 3" in said
    assert "Scanned 4 items" in " ".join(done.stdout.split())

    html = report.read_text(encoding="utf-8")
    parsed = _Tags()
    parsed.feed(html)
    assert not [t for t, _ in parsed.tags if t in ("script", "img", "svg", "b", "a", "iframe")]
    assert not [name for _, attrs in parsed.tags for name, _ in attrs if name.startswith("on")]
    assert "Content-Security-Policy" in html and html.count('class="item"') == 4
    assert "secret.png" not in html.replace("../../outside/secret.png", "")  # the reference, never the file
    assert "(text)" in html and "(pdq)" not in html and "(md5)" not in html  # the outside image: never hashed


GENERATE = """
import json, sys
path, count = sys.argv[1], int(sys.argv[2])
with open(path, "w", encoding="utf-8") as f:
    f.write('{"name": "big", "type": "public_channel", "id": 1, "messages": [\\n')
    for i in range(count):
        m = {"id": i, "type": "message", "date_unixtime": str(1700000000 + i), "from_id": f"user{i % 977}",
             "text": ["post number %d about the river festival and the market " % i,
                      {"type": "text_link", "text": "link", "href": f"https://example.org/{i}"}],
             "reactions": [{"type": "emoji", "count": 2, "recent": [{"from_id": "user2"}]}]}
        f.write(("," if i else "") + json.dumps(m) + "\\n")
    f.write("]}")
"""

MEASURE = """
import resource, sys
from pathlib import Path
from posbon.ingest import read_source
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
n = sum(1 for _ in read_source(Path(sys.argv[1]), None, lambda a: a))
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(n, (after - before) // 1024)
"""


def test_reading_a_50_mb_export_keeps_memory_flat(tmp_path: Path) -> None:
    export = tmp_path / "result.json"
    subprocess.run([sys.executable, "-c", GENERATE, str(export), "170000"], check=True, timeout=60)
    assert export.stat().st_size > 50 * 1024 * 1024
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(export)], capture_output=True, text=True, timeout=120, check=True
    )
    items, growth_mb = map(int, done.stdout.split())
    assert items == 170_000
    assert growth_mb < 50, f"peak RSS grew by {growth_mb} MB reading a 50 MB export"
