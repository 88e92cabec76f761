"""End-to-end: `posbon bank ...` and `posbon scan ...` through the real CLI, on a real SQLite store."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from posbon.cli import app

runner = CliRunner()


def write_jsonl(path: Path, posts: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in posts), encoding="utf-8")
    return path


BANKED = (
    "Lantern Signal Media announces: the closed reading circle meets again this Friday. "
    "Write to the organiser in private to receive the address and the rules of the circle."
)


def posbon(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    if result.exc_info and not isinstance(result.exc_info[1], SystemExit):
        raise result.exc_info[1]
    return result.exit_code, result.stdout, result.stderr


def poster(path: Path, seed: int = 7) -> Path:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)
    Image.fromarray(base).resize((320, 320), Image.Resampling.BICUBIC).save(path)
    return path


def bank_setup(tmp_path: Path) -> Path:
    texts = tmp_path / "bank"
    texts.mkdir()
    (texts / "statement.txt").write_text(BANKED, encoding="utf-8")
    poster(texts / "poster.png")
    assert posbon("bank", "create", "known")[0] == 0
    code, out, err = posbon("bank", "add", "known", str(texts))
    assert code == 0, err
    return texts


def test_bank_commands(tmp_path: Path) -> None:
    bank_setup(tmp_path)
    code, out, _ = posbon("bank", "list")
    assert code == 0
    assert "known" in out and "text 1" in out and "pdq 1" in out and "md5" in out
    hashes = tmp_path / "list.csv"
    hashes.write_text("signal_type,signal,label\nmd5,00112233445566778899aabbccddeeff,x\nmd5,nothex,y\n")
    code, out, err = posbon("bank", "import", "known", str(hashes))
    assert code == 1  # one line skipped
    assert "list.csv:3" in err.replace("\n", "")
    assert "1 entries added" in out
    assert posbon("bank", "import", "nope", str(hashes))[0] == 2


def test_scan_end_to_end_json_and_report(tmp_path: Path) -> None:
    bank = bank_setup(tmp_path)
    media = tmp_path / "in" / "media"
    media.mkdir(parents=True)
    img = Image.open(bank / "poster.png").convert("RGB").resize((300, 300))
    img.save(media / "repost.jpg", quality=70)
    posts = write_jsonl(
        tmp_path / "in" / "posts.jsonl",
        [
            {"id": "1", "text": "Погода в Душанбе завтра солнечная, до 25 градусов.", "source": "news"},
            {
                "id": "2",
                "text": "Lantern\u200b Signal Media announces: the closed reading circle meets again "
                "this Friday!! Write to the organiser in private to receive the address and the rules of "
                "the circle. #circle",
                "source": "chan",
                "author": "user123",
            },
            {"id": "3", "text": "look", "media": ["media/repost.jpg"], "source": "chan"},
            {
                "id": "4",
                "text": f"<script>alert(1)</script> {BANKED} https://t.me/+AbCdEfGhIjKl",
                "source": "chan",
            },
        ],
    )
    out_json, report = tmp_path / "out.jsonl", tmp_path / "report.html"
    code, out, err = posbon("scan", str(posts), "--json", str(out_json), "--report", str(report))
    assert code == 0, err
    records = {r["external_id"]: r for r in map(json.loads, out_json.read_text().splitlines())}
    assert set(records) == {"1", "2", "3", "4"}
    for r in records.values():
        assert {"item_id", "source", "external_id", "language", "verdict", "risk", "evidence"} <= set(r)
        if r["verdict"] != "clear":
            assert r["evidence"]
    assert records["1"]["verdict"] == "clear" and records["1"]["language"] == "ru"
    assert records["2"]["verdict"] == "match"
    assert records["2"]["evidence"][0]["signal_type"] == "text"
    assert records["3"]["verdict"] == "match"
    assert any(e.get("signal_type") == "pdq" and e["distance"] <= 31 for e in records["3"]["evidence"])
    html = report.read_text()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "Items that need a look (3)" in html
    assert "invite link into a private chat" in html
    # the author is a keyed pseudonym: the raw id is nowhere in the store
    db = tmp_path / "posbon-data" / "posbon.db"
    dump = "\n".join(sqlite3.connect(db).iterdump())
    assert "user123" not in dump


def test_rescan_stores_nothing_twice(tmp_path: Path) -> None:
    posts = write_jsonl(tmp_path / "p.jsonl", [{"id": str(i), "text": f"post number {i}"} for i in range(50)])
    assert posbon("scan", str(posts), "-q")[0] == 0
    assert posbon("scan", str(posts), "-q")[0] == 0
    db = sqlite3.connect(tmp_path / "posbon-data" / "posbon.db")
    assert db.execute("select count(*) from items").fetchone()[0] == 50
    assert db.execute("select count(*) from scans where status='finished'").fetchone()[0] == 2


def test_bad_input_is_reported_per_line_and_the_rest_goes_in(tmp_path: Path) -> None:
    good = write_jsonl(tmp_path / "good.jsonl", [{"id": "a", "text": "fine"}])
    broken = tmp_path / "broken.jsonl"
    broken.write_text(
        '{"id": "1", "text": "ok"}\n{not json\n{"id": "3", "text": "also ok", "media": ["gone.jpg"]}\n'
    )
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    cp1251 = tmp_path / "cyr.csv"
    cp1251.write_bytes("id,text\n1,Привет из Душанбе\n".encode("cp1251"))
    missing = tmp_path / "missing.jsonl"
    code, out, err = posbon("scan", str(good), str(broken), str(empty), str(cp1251), str(missing))
    flat = err.replace("\n", "")
    assert code == 1
    assert "broken.jsonl:2" in flat
    assert "gone.jpg" in flat
    assert "empty.jsonl" in flat
    assert "missing.jsonl" in flat
    db = sqlite3.connect(tmp_path / "posbon-data" / "posbon.db")
    texts = {r[0] for r in db.execute("select text from items")}
    assert {"fine", "ok", "also ok", "Привет из Душанбе"} <= texts


def test_unknown_format_is_a_usage_error(tmp_path: Path) -> None:
    assert posbon("scan", str(tmp_path), "--format", "xml")[0] == 2


def test_every_command_has_help_with_an_example() -> None:
    for args in (
        ["scan"],
        ["bank", "create"],
        ["bank", "add"],
        ["bank", "import"],
        ["bank", "list"],
        ["demo"],
    ):
        code, out, _ = posbon(*args, "--help")
        assert code == 0 and "Example" in out, args


def test_killed_scan_resumes_without_duplicates(tmp_path: Path) -> None:
    n = 30_000
    posts = write_jsonl(
        tmp_path / "big.jsonl",
        [{"id": str(i), "text": f"ordinary post {i} about the weather"} for i in range(n)],
    )
    env = {**os.environ, "POSBON_DATA_DIR": str(tmp_path / "data")}
    cmd = [sys.executable, "-c", "from posbon.cli import main; main()", "scan", str(posts), "-q"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db_path = tmp_path / "data" / "posbon.db"
    committed = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if db_path.exists():
            try:
                committed = sqlite3.connect(db_path).execute("select count(*) from items").fetchone()[0]
            except sqlite3.OperationalError:
                committed = 0
            if committed >= 1000:
                break
        time.sleep(0.05)
    assert proc.poll() is None, "the scan finished before it could be killed; make the input bigger"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    after_kill = sqlite3.connect(db_path).execute("select count(*) from items").fetchone()[0]
    assert 0 < after_kill < n
    rerun = subprocess.run(cmd, env=env, capture_output=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    db = sqlite3.connect(db_path)
    assert db.execute("select count(*) from items").fetchone()[0] == n
    assert db.execute("select count(distinct source || '/' || external_id) from items").fetchone()[0] == n


def test_a_rotated_repost_matches_only_with_rotations(tmp_path: Path) -> None:
    bank = bank_setup(tmp_path)
    folder = tmp_path / "in"
    folder.mkdir()
    Image.open(bank / "poster.png").convert("RGB").rotate(90, expand=True).save(
        folder / "turned.jpg", quality=85
    )
    plain_out, turned_out = tmp_path / "plain.jsonl", tmp_path / "turned.jsonl"
    assert posbon("scan", str(folder), "--no-ocr", "--json", str(plain_out))[0] == 0
    assert json.loads(plain_out.read_text())["verdict"] == "clear"
    assert posbon("scan", str(folder), "--no-ocr", "--rotations", "--json", str(turned_out))[0] == 0
    record = json.loads(turned_out.read_text())
    assert record["verdict"] == "match"
    assert any(e.get("origin", "").startswith("turned.jpg#rot") for e in record["evidence"])


def test_a_malformed_setting_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("POSBON_PDQ_THRESHOLD", "lots")
    code, _, err = posbon("bank", "list")
    assert code == 2 and "POSBON_PDQ_THRESHOLD" in err and "Traceback" not in err
