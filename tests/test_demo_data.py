"""Checks on the demo data shipped in src/posbon/demo/data (benign stand-ins) and on bench/gen_posts.py."""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import random
import re
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from threatexchange.signal_type.pdq.pdq_hasher import pdq_from_file
from threatexchange.signal_type.pdq.pdq_utils import simple_distance

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "src" / "posbon" / "demo" / "data"
CHANNEL = DATA / "channel"
BANK = DATA / "bank"
MISSING = "(File not included. Change data exporting settings to download.)"
PDQ_THRESHOLD = 31


def _load(name: str, path: Path) -> ModuleType:
    # Loaded by path: make_data.py is a build-time script and bench/ is not a package.
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@cache
def export() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CHANNEL / "result.json").read_text(encoding="utf-8"))
    return data


@cache
def expected() -> dict[str, dict[str, Any]]:
    data: dict[str, dict[str, Any]] = json.loads((CHANNEL / "EXPECTED.json").read_text(encoding="utf-8"))
    return data


def messages() -> list[dict[str, Any]]:
    return [m for m in export()["messages"] if m["type"] == "message"]


def flat_text(text: str | list[Any]) -> str:
    if isinstance(text, str):
        return text
    return "".join(part if isinstance(part, str) else part["text"] for part in text)


@cache
def pdq(path: Path) -> tuple[str, int]:
    return pdq_from_file(path)


def bank_images() -> dict[str, Path]:
    return {p.name: p for p in sorted((BANK / "images").glob("*.png"))}


def photo_of(why_contains: str) -> list[Path]:
    ids = {k for k, v in expected().items() if why_contains in v["why"]}
    return [CHANNEL / m["photo"] for m in messages() if str(m["id"]) in ids and m.get("photo") != MISSING]


def hashlist_rows() -> list[dict[str, str]]:
    with (BANK / "hashlist.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


# --- the channel export ----------------------------------------------------------------------------------


def test_result_json_has_telegram_desktop_shape() -> None:
    data = export()
    assert data["type"] == "public_channel"
    assert isinstance(data["id"], int) and data["name"]
    msgs = data["messages"]
    assert 35 <= len(msgs) <= 50
    ids = [m["id"] for m in msgs]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    services = [m for m in msgs if m["type"] == "service"]
    assert {m["action"] for m in services} >= {"create_channel"} and len(services) == 2
    for m in msgs:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", m["date"]), m["id"]
        assert isinstance(m["date_unixtime"], str) and m["date_unixtime"].isdigit()
    for m in messages():
        assert m["from_id"] == f"channel{data['id']}"


def test_text_and_text_entities_agree() -> None:
    kinds: set[str] = set()
    plain_strings = lists = 0
    for m in messages():
        text, entities = m["text"], m["text_entities"]
        assert flat_text(text) == "".join(e["text"] for e in entities), m["id"]
        if isinstance(text, str):
            plain_strings += 1
            assert all(e["type"] == "plain" for e in entities)
        else:
            lists += 1
            entity_parts = [e for e in entities if e["type"] != "plain"]
            assert [p for p in text if isinstance(p, dict)] == entity_parts, m["id"]
        for e in entities:
            kinds.add(e["type"])
            if e["type"] == "text_link":
                assert e["href"].startswith("https://")
            if e["type"] == "hashtag":
                assert e["text"].startswith("#")
    assert plain_strings >= 5 and lists >= 5
    assert kinds >= {"plain", "bold", "link", "text_link", "hashtag", "mention"}


def test_every_referenced_file_exists_except_the_deliberately_missing_one() -> None:
    missing = 0
    photos = 0
    for m in messages():
        for key in ("photo", "file"):
            if key not in m:
                continue
            if m[key] == MISSING:
                missing += 1
                continue
            assert (CHANNEL / m[key]).is_file(), f"message {m['id']}: {m[key]}"
            photos += key == "photo"
        if "photo" in m and m["photo"] != MISSING:
            assert m["photo_file_size"] == (CHANNEL / m["photo"]).stat().st_size
    assert missing == 1
    assert photos == 5


def test_reactions_carry_recent_reactors_for_posbon_to_drop() -> None:
    recent = [r for m in messages() for reaction in m.get("reactions", []) for r in reaction["recent"]]
    assert len(recent) >= 3
    assert all(r["from_id"].startswith("user") and r["from"] for r in recent)


def test_expected_covers_every_non_service_message() -> None:
    exp = expected()
    assert set(exp) == {str(m["id"]) for m in messages()}
    verdicts = [v["verdict"] for v in exp.values()]
    assert set(verdicts) <= {"match", "review", "clear"}
    assert verdicts.count("match") >= 12 and verdicts.count("clear") >= 20
    assert all(v["why"] for v in exp.values())


def test_reposts_are_altered_not_copied() -> None:
    banked = [p.read_text(encoding="utf-8").strip() for p in sorted((BANK / "texts").glob("*.txt"))]
    texts = [flat_text(m["text"]) for m in messages()]
    for b in banked:
        assert b not in texts
    joined = "\n".join(texts)
    assert "\u200b" in joined
    assert any(c in joined for c in "ѓїќўњљ")
    assert "\u0640" in joined and "ي" in joined


# --- the banks ---------------------------------------------------------------------------------------------


def test_bank_texts() -> None:
    texts = {p.stem: p.read_text(encoding="utf-8").strip() for p in sorted((BANK / "texts").glob("*.txt"))}
    assert len(texts) == 8
    for name, text in texts.items():
        assert 300 <= len(text) <= 900, name
        assert "https://t.me/+" in text and "Lantern Signal Media" in text and "#" in text
    assert set("ғӣқӯҳҷ") <= set(texts["lantern_signal_tg"])
    assert "o‘" in texts["lantern_signal_uz_latn"] and "g‘" in texts["lantern_signal_uz_latn"]


def test_bank_images_have_good_pdq_quality_and_differ() -> None:
    images = bank_images()
    assert len(images) == 4
    hashes = []
    for name, path in images.items():
        value, quality = pdq(path)
        assert quality >= 70, name
        hashes.append(value)
    for i, a in enumerate(hashes):
        for b in hashes[i + 1 :]:
            assert simple_distance(a, b) > PDQ_THRESHOLD


def test_reencoded_bank_posters_are_near_their_originals() -> None:
    for n in (1, 3):
        [photo] = photo_of(f"bank poster_{n}.png")
        distance = simple_distance(pdq(photo)[0], pdq(BANK / "images" / f"poster_{n}.png")[0])
        assert distance <= PDQ_THRESHOLD, (photo.name, distance)


def test_hashlist_poster_matches_only_its_channel_copy() -> None:
    rows = hashlist_rows()
    assert list(rows[0]) == ["signal_type", "signal", "label", "source", "ideology"]
    pdq_rows = [r for r in rows if r["signal_type"] == "pdq"]
    assert len(pdq_rows) == 4
    [photo] = photo_of("only in bank/hashlist.csv")
    photo_hash = pdq(photo)[0]
    distances = sorted(simple_distance(r["signal"], photo_hash) for r in pdq_rows)
    assert distances[0] <= PDQ_THRESHOLD < distances[1]
    listed = min(pdq_rows, key=lambda r: simple_distance(r["signal"], photo_hash))["signal"]
    for path in bank_images().values():  # the listed poster is not one of the bank images
        assert simple_distance(listed, pdq(path)[0]) > PDQ_THRESHOLD


def test_hashlist_md5_is_a_channel_file() -> None:
    md5s = {r["signal"] for r in hashlist_rows() if r["signal_type"] == "md5"}
    files = [CHANNEL / m["file"] for m in messages() if "file" in m]
    assert {hashlib.md5(f.read_bytes()).hexdigest() for f in files} == md5s


def test_unrelated_photo_is_far_from_everything_banked() -> None:
    [photo] = photo_of("unrelated")
    value = pdq(photo)[0]
    banked = [pdq(p)[0] for p in bank_images().values()]
    banked += [r["signal"] for r in hashlist_rows() if r["signal_type"] == "pdq"]
    assert min(simple_distance(value, b) for b in banked) > PDQ_THRESHOLD


def test_banked_url_and_domain_appear_in_the_channel() -> None:
    with (BANK / "urls.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["signal_type"] for r in rows} == {"url", "domain"}
    links = [e.get("href", e["text"]) for m in messages() for e in m["text_entities"] if "link" in e["type"]]
    url = next(r["signal"] for r in rows if r["signal_type"] == "url")
    domain = next(r["signal"] for r in rows if r["signal_type"] == "domain")
    assert url in links
    assert any(re.match(rf"https://([\w-]+\.)*{re.escape(domain)}(/|$)", link) for link in links)


def test_data_folder_is_small() -> None:
    size = sum(p.stat().st_size for p in DATA.rglob("*") if p.is_file())
    assert size < 1_500_000


# --- the scripts -------------------------------------------------------------------------------------------


def test_make_data_regenerates_the_shipped_data(tmp_path: Path) -> None:
    make_data = _load("posbon_demo_make_data_test", ROOT / "src" / "posbon" / "demo" / "make_data.py")
    make_data.build(tmp_path)
    for rel in ["channel/EXPECTED.json", "bank/urls.csv", "channel/files/highland_verse_rules.txt"]:
        assert (tmp_path / rel).read_bytes() == (DATA / rel).read_bytes(), rel
    for path in sorted((BANK / "texts").glob("*.txt")):
        assert (tmp_path / "bank" / "texts" / path.name).read_bytes() == path.read_bytes()

    def without_sizes(p: Path) -> dict[str, Any]:  # JPEG byte sizes may differ between Pillow builds
        data: dict[str, Any] = json.loads(p.read_text(encoding="utf-8"))
        for m in data["messages"]:
            m.pop("photo_file_size", None)
        return data

    assert without_sizes(tmp_path / "channel" / "result.json") == without_sizes(CHANNEL / "result.json")
    with (tmp_path / "bank" / "hashlist.csv").open(encoding="utf-8", newline="") as f:
        fresh = {(r["signal_type"], r["label"]): r["signal"] for r in csv.DictReader(f)}
    shipped = {(r["signal_type"], r["label"]): r["signal"] for r in hashlist_rows()}
    assert fresh.keys() == shipped.keys()
    for key, value in shipped.items():
        if key[0] == "pdq":  # a rendered poster's hash may move a few bits with another Pillow/FreeType
            assert simple_distance(fresh[key], value) <= 8, key
        else:
            assert fresh[key] == value, key


def test_alterations_change_text_but_keep_links() -> None:
    make_data = _load("posbon_demo_make_data_alter", ROOT / "src" / "posbon" / "demo" / "make_data.py")
    rng = random.Random(3)
    tg = make_data.BANK_TEXTS["lantern_signal_tg"]
    legacy = make_data.to_legacy_tajik(tg)
    assert legacy != tg and not set("ғӣқӯҳҷ") & set(legacy)
    zw = make_data.insert_zero_width(tg, rng, 30)
    assert zw.count("\u200b") == 30 and zw.replace("\u200b", "") == tg
    assert "https://t.me/+LsTgKh3mRb6yTe9w" in zw and "#БайтиКӯҳӣ" in zw
    ru = make_data.BANK_TEXTS["lantern_signal_ru"]
    look = make_data.latin_lookalikes(ru, rng, 0.5)
    assert look != ru and len(look) == len(ru) and "https://t.me/+LsRuGs4pXc8vNq2m" in look
    fa = make_data.arabic_variants(make_data.BANK_TEXTS["lantern_signal_fa"], rng, 0.5)
    assert "ی" not in fa and "ک" not in fa and "\u0640" in fa


def test_gen_posts_is_deterministic_and_well_formed(tmp_path: Path) -> None:
    gen = _load("posbon_bench_gen_posts", ROOT / "bench" / "gen_posts.py")
    counts = gen.generate(2000, tmp_path / "a", seed=7)
    gen.generate(2000, tmp_path / "b", seed=7)
    gen.generate(2000, tmp_path / "c", seed=8)
    a = (tmp_path / "a" / "posts.jsonl").read_bytes()
    assert a == (tmp_path / "b" / "posts.jsonl").read_bytes()
    assert a != (tmp_path / "c" / "posts.jsonl").read_bytes()
    posts = [json.loads(line) for line in a.decode("utf-8").splitlines()]
    assert len(posts) == 2000 == counts["posts"]
    assert len({p["id"] for p in posts}) == 2000
    for p in posts:
        assert set(p) == {"id", "text", "created_at", "author", "source", "url", "media"}
        assert p["text"]
        for ref in p["media"]:
            assert (tmp_path / "a" / ref).is_file()
    assert 50 <= counts["altered"] <= 160
    assert 5 <= counts["url"] <= 45
    assert 15 <= counts["media"] <= 70
    assert (
        sum("t.me/+AbCdEfGhIjKlMnOp" in p["text"] or "lantern-signal.example" in p["text"] for p in posts)
        >= 5
    )


@pytest.mark.parametrize("count", [0, 1])
def test_gen_posts_cli_small_counts(tmp_path: Path, count: int, capsys: pytest.CaptureFixture[str]) -> None:
    gen = _load("posbon_bench_gen_posts_cli", ROOT / "bench" / "gen_posts.py")
    assert gen.main(["--count", str(count), "--out", str(tmp_path)]) == 0
    lines = (tmp_path / "posts.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == count
    assert "posts" in capsys.readouterr().out
