import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from posbon.domain import Problem, SignalType
from posbon.match.banklist import NewEntry, entries_from_files, read_bank_list
from posbon.text.normalize import normalize

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
MD5 = "cab08b36195edb1a1231d2d09fa450e0"
TEXT = "Ин матни намунавӣ барои санҷиши бонки матнҳо навишта шудааст."


def _split(items: list[NewEntry | Problem]) -> tuple[list[NewEntry], list[Problem]]:
    return [i for i in items if isinstance(i, NewEntry)], [i for i in items if isinstance(i, Problem)]


def test_csv_bad_line_is_a_problem_and_good_lines_kept(tmp_path: Path) -> None:
    path = tmp_path / "hashes.csv"
    path.write_text(
        "signal_type,signal,label,source\n"
        f"pdq,{PDQ.upper()},poster,tat\n"
        "pdq,zz-not-hex,broken,tat\n"
        f"video_md5,{MD5},clip,gifct\n"
        'raw_text,"' + TEXT + '",statement,\n'
        "url,https://Example.com/a/?utm_source=x,link,\n"
        "tmk,abc,unknown type,\n",
        encoding="utf-8",
    )
    entries, problems = _split(list(read_bank_list(path)))
    assert [(e.signal_type, e.label) for e in entries] == [
        (SignalType.PDQ, "poster"),
        (SignalType.MD5, "clip"),
        (SignalType.TEXT, "statement"),
        (SignalType.URL, "link"),
    ]
    assert entries[0].value == PDQ and entries[0].metadata == {"source": "tat"}
    assert entries[0].origin == f"{path}:2"
    assert entries[2].value == normalize(TEXT) and entries[2].original_text == TEXT
    assert entries[3].value == "https://example.com/a"
    assert [(p.line, p.file) for p in problems] == [(3, str(path)), (7, str(path))]
    assert "64 hex characters" in problems[0].message
    assert "unknown signal_type 'tmk'" in problems[1].message


def test_csv_without_required_columns(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("hash,label\nabc,x\n", encoding="utf-8")
    (problem,) = list(read_bank_list(path))
    assert isinstance(problem, Problem) and problem.line == 1 and "signal_type" in problem.message


def test_json_list_and_entries_object(tmp_path: Path) -> None:
    rows = [
        {"signal_type": "pdq", "signal": PDQ, "label": "a", "score": 7},
        {"signal_type": "md5", "signal": "12"},
    ]
    listed = tmp_path / "list.json"
    listed.write_text(json.dumps(rows), encoding="utf-8")
    wrapped = tmp_path / "wrapped.json"
    wrapped.write_text(json.dumps({"entries": rows}), encoding="utf-8")
    for path in (listed, wrapped):
        entries, problems = _split(list(read_bank_list(path)))
        assert [(e.value, e.metadata) for e in entries] == [(PDQ, {"score": 7})]
        assert len(problems) == 1 and "entry 2" in problems[0].message and "md5" in problems[0].message


def test_jsonl_text_list_and_hash_objects(tmp_path: Path) -> None:
    path = tmp_path / "texts.jsonl"
    path.write_text(
        json.dumps({"text": TEXT, "label": "sample"}, ensure_ascii=False)
        + "\n{broken json\n"
        + json.dumps({"signal_type": "domain", "signal": "Example.COM"})
        + "\n"
        + json.dumps({"text": "кӯтоҳ"}, ensure_ascii=False)
        + "\n",
        encoding="utf-8",
    )
    entries, problems = _split(list(read_bank_list(path)))
    assert [(e.signal_type, e.value) for e in entries] == [
        (SignalType.TEXT, normalize(TEXT)),
        (SignalType.DOMAIN, "example.com"),
    ]
    assert entries[0].label == "sample" and entries[0].origin == f"{path}:1"
    assert [p.line for p in problems] == [2, 4]
    assert "invalid JSON" in problems[0].message and "too short" in problems[1].message


def test_unknown_format_and_missing_file(tmp_path: Path) -> None:
    (problem,) = list(read_bank_list(tmp_path / "list.xml"))
    assert "unknown bank list format" in problem.message  # type: ignore[union-attr]
    (problem,) = list(read_bank_list(tmp_path / "gone.csv"))
    assert "cannot read" in problem.message  # type: ignore[union-attr]


def test_entries_from_files(tmp_path: Path) -> None:
    folder = tmp_path / "known"
    (folder / "sub").mkdir(parents=True)
    rng = np.random.default_rng(1)
    small = rng.integers(0, 256, size=(16, 16, 3), dtype=np.uint8)
    Image.fromarray(small).resize((200, 200)).save(folder / "poster.png")
    Image.new("RGB", (200, 200), (128, 128, 128)).save(folder / "sub" / "grey.png")
    (folder / "sub" / "clip.mp4").write_bytes(b"\x00\x01" * 100)
    (folder / "statement.txt").write_text(TEXT, encoding="utf-8")
    (folder / "broken.jpg").write_bytes(b"garbage")
    entries, problems = _split(list(entries_from_files([folder, tmp_path / "missing.png"])))
    kinds = sorted((e.label or "", str(e.signal_type)) for e in entries)
    assert kinds == [
        ("clip.mp4", "md5"),
        ("grey.png", "md5"),
        ("poster.png", "md5"),
        ("poster.png", "pdq"),
        ("statement.txt", "text"),
    ]
    text_entry = next(e for e in entries if e.signal_type == SignalType.TEXT)
    assert text_entry.value == normalize(TEXT) and text_entry.original_text == TEXT
    messages = {Path(p.file).name: p.message for p in problems}
    assert "below 50: too uniform to bank safely" in messages["grey.png"]
    assert messages["grey.png"].startswith("PDQ quality ")
    assert messages["broken.jpg"].startswith("cannot read image")
    assert messages["missing.png"] == "no such file or directory"


def test_text_file_in_legacy_encoding(tmp_path: Path) -> None:
    russian = "Этот текст сохранён в старой кодировке Windows для проверки чтения файлов банка."
    path = tmp_path / "old.txt"
    path.write_bytes(russian.encode("cp1251"))
    (entry,) = list(entries_from_files([path]))
    assert isinstance(entry, NewEntry) and entry.original_text == russian


def test_hashes_must_be_ascii_hex() -> None:
    from posbon.match.banklist import InvalidEntry, validate_signal

    assert validate_signal(SignalType.PDQ, " " + "AB" * 32 + "\n") == ("ab" * 32, None)
    assert validate_signal(SignalType.MD5, "0F" * 16) == ("0f" * 16, None)
    for kind, length in ((SignalType.PDQ, 64), (SignalType.MD5, 32)):
        for bad in (
            "\u0660" * length,
            "\uff10" * length,
            "g" * length,
            "a" * (length - 1),
            "a" * (length + 1),
        ):
            with pytest.raises(InvalidEntry, match="hex characters"):
                validate_signal(kind, bad)
