"""vPDQ on videos generated with PyAV (benign block patterns): a re-encoded resized copy, an unrelated one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image

from posbon.assess import AssessPolicy
from posbon.domain import BankEntry, Item, MediaKind, MediaRef, Problem, SignalType, Verdict
from posbon.match.banklist import NewEntry, entries_from_files, read_bank_list
from posbon.match.matcher import Matcher
from posbon.scan import Detectors, assess_item
from posbon.signals.media import MediaError
from posbon.signals.video import video_signals


def _write(path: Path, frames: list[Any], fps: int = 8, bit_rate: int | None = None) -> Path:
    height, width = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if bit_rate:
            stream.bit_rate = bit_rate
        for array in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _scenes(
    seed: int, seconds: int = 6, fps: int = 8, size: tuple[int, int] = (320, 240)
) -> list[np.ndarray]:
    """Block patterns, a new one every 2 s; each frame a little shifted so frames differ."""
    rng = np.random.default_rng(seed)
    width, height = size
    frames = []
    blocks = rng.integers(0, 255, (6, 8, 3), dtype=np.uint8)
    for i in range(seconds * fps):
        if i and i % (2 * fps) == 0:
            blocks = rng.integers(0, 255, (6, 8, 3), dtype=np.uint8)
        image = np.kron(blocks, np.ones((height // 6, width // 8, 1), dtype=np.uint8))
        frames.append(np.ascontiguousarray(np.roll(image, i % fps, axis=1)))
    return frames


def _reencoded(source: Path, target: Path) -> Path:
    """Decoded, resized to 256x192, brightened a little and encoded again at a low bit rate."""
    frames = []
    with av.open(str(source)) as container:
        for frame in container.decode(video=0):
            image = frame.to_image().resize((256, 192), Image.Resampling.BILINEAR)
            array = np.clip(np.asarray(image, dtype=np.int16) + 12, 0, 255).astype(np.uint8)
            frames.append(array)
    return _write(target, frames, bit_rate=150_000)


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("videos")
    known = _write(folder / "known.mp4", _scenes(1))
    return {
        "known": known,
        "copy": _reencoded(known, folder / "copy.mp4"),
        "other": _write(folder / "other.mp4", _scenes(2)),
    }


def _bank(path: Path) -> list[BankEntry]:
    found = [e for e in entries_from_files([path]) if isinstance(e, NewEntry)]
    return [
        BankEntry(n, "videos", e.signal_type, e.value, label=e.label) for n, e in enumerate(found, start=1)
    ]


def test_video_signal_is_threatexchange_vpdq(videos: dict[str, Path]) -> None:
    [signal] = video_signals(videos["known"])
    assert signal.signal_type == SignalType.VPDQ
    frames = json.loads(signal.value)
    assert len(frames) == 6  # one frame hash per second
    pdq_hex, quality, seconds = frames[1].split(",")
    assert len(pdq_hex) == 64 and int(quality) >= 50 and float(seconds) == 1.0


def test_banking_a_video_gives_md5_and_vpdq(videos: dict[str, Path]) -> None:
    entries = list(entries_from_files([videos["known"]]))
    assert not [e for e in entries if isinstance(e, Problem)]
    assert sorted(str(e.signal_type) for e in entries if isinstance(e, NewEntry)) == ["md5", "vpdq"]


def test_reencoded_copy_matches_and_unrelated_does_not(videos: dict[str, Path]) -> None:
    matcher = Matcher(_bank(videos["known"]))
    assert matcher.size["vpdq"] == 1
    [copy] = video_signals(videos["copy"])
    evidence = matcher.match([copy])
    assert [(e.kind, e.signal_type, e.entry_label) for e in evidence] == [("bank_match", "vpdq", "known.mp4")]
    assert evidence[0].similarity is not None and evidence[0].similarity >= 0.8
    assert "of its frames" in evidence[0].detail
    [other] = video_signals(videos["other"])
    assert matcher.match([other]) == []


def test_scan_matches_a_post_with_the_copy(videos: dict[str, Path]) -> None:
    detectors = Detectors(matcher=Matcher(_bank(videos["known"])), policy=AssessPolicy())
    copy = Item("t", "1", "look", media=[MediaRef("copy.mp4", videos["copy"], MediaKind.VIDEO)])
    scanned = assess_item(copy, detectors)
    assert scanned.assessment.verdict is Verdict.MATCH
    assert any(e.signal_type == "vpdq" and e.origin == "copy.mp4" for e in scanned.assessment.evidence)
    other = Item("t", "2", "look", media=[MediaRef("other.mp4", videos["other"], MediaKind.VIDEO)])
    assert assess_item(other, detectors).assessment.verdict is Verdict.CLEAR


def test_vpdq_hash_list_rows_import(videos: dict[str, Path], tmp_path: Path) -> None:
    [signal] = video_signals(videos["known"])
    listing = tmp_path / "list.jsonl"
    rows = [
        {"signal_type": "vpdq", "signal": signal.value, "label": "known video"},
        {"signal_type": "vpdq", "signal": '["not,a,frame"]'},
    ]
    listing.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    read = list(read_bank_list(listing))
    assert isinstance(read[0], NewEntry) and read[0].signal_type == SignalType.VPDQ
    assert read[0].label == "known video"
    assert isinstance(read[1], Problem) and read[1].line == 2 and "vpdq hash must be" in read[1].message
    entry = BankEntry(1, "list", SignalType.VPDQ, read[0].value, label="known video")
    assert Matcher([entry]).match(video_signals(videos["copy"]))


def test_bad_video_is_one_line_problem_and_md5_still_banked(tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 50)
    with pytest.raises(MediaError, match="cannot read video"):
        video_signals(broken)
    entries = list(entries_from_files([broken]))
    problems = [e for e in entries if isinstance(e, Problem)]
    assert len(problems) == 1 and "MD5 still banked" in problems[0].message
    assert [e.signal_type for e in entries if isinstance(e, NewEntry)] == [SignalType.MD5]


def test_posbon_match_finds_a_video_copy_by_vpdq(videos: dict[str, Path], tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from posbon.cli import app

    runner = CliRunner()
    assert runner.invoke(app, ["bank", "create", "videos"]).exit_code == 0
    assert runner.invoke(app, ["bank", "add", "videos", str(videos["known"])]).exit_code == 0
    result = runner.invoke(app, ["match", str(videos["copy"]), "--json"])
    assert result.exit_code == 0, result.output
    line = json.loads(result.stdout.strip().splitlines()[-1])
    assert any(m["signal_type"] == "vpdq" and m["similarity"] >= 0.8 for m in line["matches"]), line
