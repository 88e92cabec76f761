"""Readers stay inside their input (issue: hostile-input hardening, point 2).

A Telegram export and a JSON Lines file reference media outside themselves in every way we know. Each
reference is refused with one line naming the post, the post still goes in, and nothing outside is read:
the outside image is banked, so reading it would show as a match; an identical copy inside the export is
the control that proves the bank would catch it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from posbon.cli import app
from posbon.domain import Item, Problem
from posbon.ingest import read_source


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    if result.exc_info and not isinstance(result.exc_info[1], SystemExit):
        raise result.exc_info[1]
    return result.exit_code, result.stdout + result.stderr


def _image(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    cells = rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)
    Image.fromarray(cells).resize((256, 256), Image.Resampling.BICUBIC).save(path)
    return path


def _traps(secret: Path, outside_dir: Path) -> dict[str, str]:
    """Media references that lead out of the export, by the message id that carries them."""
    depth = "../" * 12
    return {
        "1": "../secret.png",
        "2": str(secret),  # absolute
        "3": "photos/leak.png",  # a file symlink inside the export pointing out
        "4": "linkdir/secret.png",  # a directory symlink pointing out
        "5": secret.as_uri(),  # file:///...
        "6": "..\\..\\" + secret.name,  # Windows separators
        "7": "photos/ok.png\x00../../secret.png",  # NUL byte
        "8": "photos/" + "a" * 5000 + ".png",  # very long
        "9": f"photos/{depth}{str(secret).lstrip('/')}",  # climbs out from a subfolder
        "10": "C:\\Windows\\win.ini",
        "11": "\\\\server\\share\\secret.png",  # UNC path
        "12": "photos/../../" + outside_dir.name + "/secret.png",
    }


def _export(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = _image(outside / "secret.png", seed=3)
    export = tmp_path / "work" / "ChatExport"
    photos = export / "photos"
    photos.mkdir(parents=True)
    os.symlink(secret, photos / "leak.png")
    os.symlink(outside, export / "linkdir", target_is_directory=True)
    traps = _traps(secret, outside)
    messages = [
        {
            "id": int(mid),
            "type": "message",
            "date_unixtime": "1760000000",
            "text": f"post {mid}",
            "photo": ref,
        }
        for mid, ref in traps.items()
    ]
    (photos / "control.png").write_bytes(secret.read_bytes())
    messages.append({"id": 99, "type": "message", "text": "control", "photo": "photos/control.png"})
    (export / "result.json").write_text(json.dumps({"name": "chan", "messages": messages}), encoding="utf-8")
    return export, secret, traps


def test_references_out_of_an_export_are_refused_per_post(tmp_path: Path) -> None:
    export, secret, traps = _export(tmp_path)
    out = list(read_source(export, None, lambda a: a))
    items = {o.external_id: o for o in out if isinstance(o, Item)}
    problems = [p for p in out if isinstance(p, Problem)]
    assert set(items) == {*traps, "99"}  # every post still goes in
    for mid in traps:
        assert items[mid].media == [], mid
        said = [p for p in problems if f"message {mid}:" in p.message]
        assert len(said) == 1, (mid, [str(p) for p in problems])
        assert "\n" not in str(said[0]) and "ignored" in said[0].message
    assert items["99"].media[0].path == (export / "photos" / "control.png").resolve()
    real_outside = secret.resolve()
    for item in items.values():
        assert all(ref.path is None or ref.path.is_relative_to(export.resolve()) for ref in item.media)
        assert all(ref.path != real_outside for ref in item.media)


def test_nothing_outside_the_export_is_read_by_a_scan(tmp_path: Path) -> None:
    export, secret, traps = _export(tmp_path)
    jsonl = tmp_path / "work" / "posts.jsonl"
    jsonl.write_text(
        "".join(
            json.dumps({"id": f"j{mid}", "text": "x", "media": [ref]}) + "\n" for mid, ref in traps.items()
        ),
        encoding="utf-8",
    )
    banked = tmp_path / "bank"
    banked.mkdir()
    (banked / "secret.png").write_bytes(secret.read_bytes())
    assert _cli("bank", "create", "outside")[0] == 0
    assert _cli("bank", "add", "outside", str(banked))[0] == 0
    out_json = tmp_path / "out.jsonl"
    code, said = _cli("scan", str(export), str(jsonl), "--json", str(out_json), "--no-ocr", "--quiet")
    assert code == 1  # refusals are reported as skipped input
    rows = [json.loads(line) for line in out_json.read_text(encoding="utf-8").splitlines()]
    by_id = {r["external_id"]: r for r in rows}
    assert len(rows) == 2 * len(traps) + 1
    assert by_id["99"]["verdict"] == "match"  # the control: the bank would have caught a leak
    leaked = [r["external_id"] for r in rows if r["verdict"] == "match" and r["external_id"] != "99"]
    assert leaked == []
    assert [r["external_id"] for r in rows if r["media"]] == ["99"]  # no refused reference kept
