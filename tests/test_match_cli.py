"""`posbon match`: raw signals and media files looked up in every bank, one JSON line per query."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from posbon.cli import app

runner = CliRunner()
RNG = random.Random(8)


def posbon(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    if result.exc_info and not isinstance(result.exc_info[1], SystemExit):
        raise result.exc_info[1]
    return result.exit_code, result.stdout, result.stderr


def flip(hex_hash: str, bits: int) -> str:
    value = int(hex_hash, 16)
    for bit in range(bits):
        value ^= 1 << (bit * 11)
    return f"{value:064x}"


def test_match_raw_pdq_hashes_json_lines_with_per_bank_thresholds(tmp_path: Path) -> None:
    banked = f"{RNG.getrandbits(256):064x}"
    listing = tmp_path / "list.csv"
    listing.write_text(f"signal_type,signal,label\npdq,{banked},poster\n", encoding="utf-8")
    assert posbon("bank", "create", "strict", "--pdq-threshold", "10")[0] == 0
    assert posbon("bank", "create", "default")[0] == 0
    for bank in ("strict", "default"):
        assert posbon("bank", "import", bank, str(listing))[0] == 0
    queries = tmp_path / "q.txt"
    lines_in = [flip(banked, 20), "", flip(banked, 3).upper(), "not-hex", "f" * 64]
    queries.write_text("\n".join(lines_in) + "\n", encoding="utf-8")
    code, out, err = posbon("match", "--signal-type", "pdq", "--hashes", str(queries), "--json")
    assert code == 1 and f"{queries}:4: pdq hash must be 64 hex characters" in err
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 4
    assert lines[0] == {
        "query": flip(banked, 20),
        "matches": [
            {"bank": "default", "entry_id": 2, "signal_type": "pdq", "label": "poster", "distance": 20}
        ],
    }
    assert sorted((m["bank"], m["distance"]) for m in lines[1]["matches"]) == [("default", 3), ("strict", 3)]
    assert lines[2]["error"] and lines[3] == {"query": "f" * 64, "matches": []}


def test_match_media_files_table_and_json(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    pixels = (rng.random((64, 64, 3)) * 255).astype(np.uint8)
    image = tmp_path / "poster.png"
    Image.fromarray(np.kron(pixels, np.ones((4, 4, 1), dtype=np.uint8))).save(image)
    assert posbon("bank", "create", "posters")[0] == 0
    assert posbon("bank", "add", "posters", str(image))[0] == 0
    other = tmp_path / "other.bin"
    other.write_bytes(b"benign bytes")
    code, out, _ = posbon("match", str(image), str(other), "--json")
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["file"] for line in lines] == [str(image), str(other)]
    assert {m["signal_type"] for m in lines[0]["matches"]} == {"pdq", "md5"}
    assert lines[1]["matches"] == []
    code, out, _ = posbon("match", str(image))
    assert code == 0 and "posters" in out and "poster.png" in out
    code, _, err = posbon("match")
    assert code == 2 and "give media PATHs" in err
