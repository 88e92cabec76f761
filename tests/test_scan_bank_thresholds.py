"""Per-bank thresholds and allow-lists decide verdicts end to end, not only inside the matcher."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from posbon.domain import MediaKind, SignalType
from posbon.scan import run_scan
from posbon.settings import Settings
from posbon.signals.media import media_signals
from posbon.store import Store


@dataclass(frozen=True)
class Entry:
    signal_type: SignalType
    value: str
    label: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    original_text: str | None = None
    origin: str = ""


def flip(hex_hash: str, bits: int) -> str:
    value = int(hex_hash, 16)
    for bit in range(bits):
        value ^= 1 << (bit * 7 % 256)
    return f"{value:064x}"


def scan_one_image(tmp_path: Path, banks: dict[str, tuple[dict[str, Any], int]]) -> dict[str, Any]:
    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(3)
    Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)).resize((256, 256)).save(
        folder / "a.png"
    )
    pdq = next(s for s in media_signals(folder / "a.png", MediaKind.IMAGE) if s.signal_type == SignalType.PDQ)
    settings = Settings.load(tmp_path / "data")
    store = Store.open(settings.database_url)
    for name, (options, distance) in banks.items():
        store.create_bank(name, **options)
        store.add_entries(name, [Entry(SignalType.PDQ, flip(pdq.value, distance), label=name)])
    posts = folder / "posts.jsonl"
    posts.write_text(json.dumps({"id": "1", "text": "", "media": ["a.png"]}) + "\n")
    summary = run_scan(store, settings, [posts], ocr=False)
    (row,) = store.items(item_ids=summary.item_ids)
    return {"verdict": row.verdict, "evidence": row.evidence}


def test_a_strict_bank_sends_a_distance_20_hit_to_review(tmp_path: Path) -> None:
    result = scan_one_image(tmp_path, {"strict": ({"pdq_threshold": 10}, 20)})
    assert result["verdict"] == "review"
    assert result["evidence"][0]["kind"] == "near_match"


def test_a_loose_bank_matches_beyond_the_global_threshold(tmp_path: Path) -> None:
    result = scan_one_image(tmp_path, {"loose": ({"pdq_threshold": 36}, 34)})
    assert result["verdict"] == "match"


def test_an_allow_list_match_suppresses_the_block_match(tmp_path: Path) -> None:
    result = scan_one_image(tmp_path, {"known": ({}, 5), "benign": ({"kind": "allow"}, 2)})
    assert result["verdict"] == "clear"
    assert any(e["kind"] == "allow_listed" for e in result["evidence"])
