"""A banked branding mark is found in a scanned image, anywhere and re-compressed, with its box."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from posbon.cli import app
from test_media_logos import make_logo, scene

runner = CliRunner()


def test_a_banked_logo_in_a_corner_makes_a_match_with_its_box(tmp_path: Path) -> None:
    make_logo().save(tmp_path / "mark.png")
    assert runner.invoke(app, ["bank", "create", "marks"]).exit_code == 0
    added = runner.invoke(app, ["bank", "add", "marks", "--logo", str(tmp_path / "mark.png")])
    assert added.exit_code == 0, added.output
    listed = runner.invoke(app, ["bank", "list"])
    assert "logo 1" in listed.stdout
    folder = tmp_path / "in"
    folder.mkdir()
    with_mark = scene(4)
    with_mark.paste(make_logo().resize((150, 150)), (830, 530))  # banked at 240 px: a 0.6x copy
    with_mark.save(folder / "branded.jpg", quality=70)
    scene(5).save(folder / "plain.jpg", quality=70)
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["scan", str(folder), "--json", str(out), "--no-ocr"])
    assert result.exit_code == 0, result.output
    records = {r["external_id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert records["plain.jpg"]["verdict"] == "clear"
    branded = records["branded.jpg"]
    assert branded["verdict"] == "match"
    (hit,) = [e for e in branded["evidence"] if e.get("signal_type") == "logo"]
    x0, y0, x1, y1 = hit["box"]
    assert abs(x0 - 830) < 15 and abs(y0 - 530) < 15 and abs(x1 - 980) < 15 and abs(y1 - 680) < 15
    assert "branding mark 'mark.png'" in hit["detail"]


def test_an_image_with_too_little_detail_is_refused_as_a_logo(tmp_path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (200, 200), (255, 255, 255)).save(tmp_path / "blank.png")
    runner.invoke(app, ["bank", "create", "marks"])
    result = runner.invoke(app, ["bank", "add", "marks", "--logo", str(tmp_path / "blank.png")])
    assert result.exit_code == 1
    assert "cannot use as a logo" in result.stderr
