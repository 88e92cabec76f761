"""Text inside images goes through the same matching as post text, and says where it came from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont
from typer.testing import CliRunner

from posbon.cli import app

runner = CliRunner()
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
BANKED = (
    "Клуб горных прогулок объявляет набор. Каждую пятницу мы поднимаемся по старой тропе к третьему мосту "
    "и читаем стихи при свете фонарей. Новичкам нужно сначала написать организатору в личные сообщения."
)


def poster(path: Path, text: str) -> Path:
    image = Image.new("RGB", (900, 700), (245, 240, 225))
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(FONT, 34)
    words, lines, line = text.split(), [], ""
    for word in words:
        if draw.textlength(f"{line} {word}", font=font) > 820:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    for number, text_line in enumerate(lines):
        draw.text((40, 40 + number * 48), text_line, font=font, fill=(20, 20, 30))
    image.save(path)
    return path


def test_a_poster_is_matched_by_the_text_in_it(tmp_path: Path) -> None:
    (tmp_path / "bank.txt").write_text(BANKED, encoding="utf-8")
    assert runner.invoke(app, ["bank", "create", "known"]).exit_code == 0
    assert runner.invoke(app, ["bank", "add", "known", str(tmp_path / "bank.txt")]).exit_code == 0
    media = tmp_path / "in"
    media.mkdir()
    poster(media / "poster.png", BANKED)
    Image.new("RGB", (400, 300), (90, 140, 200)).save(media / "sky.png")
    posts = media / "posts.jsonl"
    posts.write_text(
        json.dumps({"id": "1", "text": "смотрите", "media": ["poster.png"]}, ensure_ascii=False)
        + "\n"
        + json.dumps({"id": "2", "text": "небо", "media": ["sky.png"]}, ensure_ascii=False)
        + "\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["scan", str(posts), "--json", str(out)])
    assert result.exit_code == 0, result.stderr
    records = {r["external_id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert records["2"]["verdict"] == "clear"
    assert records["1"]["verdict"] == "match"
    text_hits = [e for e in records["1"]["evidence"] if e.get("signal_type") == "text"]
    assert text_hits, records["1"]["evidence"]
    hit = text_hits[0]
    assert hit["origin"] == "text in image poster.png"
    assert hit["detail"].startswith("text in image poster.png")
    x0, y0, x1, y1 = hit["box"]
    assert 0 <= x0 < x1 <= 900 and 0 <= y0 < y1 <= 700
    assert hit["confidence"] > 50


def test_without_tesseract_the_scan_says_so_once_and_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSBON_TESSDATA", str(tmp_path / "no-tessdata"))
    folder = tmp_path / "images"
    folder.mkdir()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(folder / "a.png")
    Image.new("RGB", (64, 64), (3, 2, 1)).save(folder / "b.png")
    result = runner.invoke(app, ["scan", str(folder)])
    assert result.exit_code == 0, result.stderr  # a note, not a skip
    notes = [ln for ln in result.stderr.splitlines() if "without OCR" in ln]
    assert len(notes) == 1
    assert "Scanned 2 items" in result.stdout
