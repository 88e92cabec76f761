"""Controls against over-matching: per-bank thresholds, allow lists, disabled and deleted entries,
quality refusal, and migration 0002 on a database that already holds data."""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine
from typer.testing import CliRunner

from posbon.assess import assess
from posbon.cli import app
from posbon.domain import BankEntry, Signal, SignalType
from posbon.match.matcher import BankSettings, Matcher
from posbon.store import Store
from posbon.store.db import ExchangeUpdate, _migrations_dir

runner = CliRunner()
RNG = random.Random(11)
BANKED = f"{RNG.getrandbits(256):064x}"


def flip(hex_hash: str, bits: int) -> str:
    value = int(hex_hash, 16)
    for bit in range(bits):
        value ^= 1 << (bit * 11)
    return f"{value:064x}"


def posbon(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    if result.exc_info and not isinstance(result.exc_info[1], SystemExit):
        raise result.exc_info[1]
    return result.exit_code, result.stdout, result.stderr


def test_per_bank_threshold_10_versus_31_on_distance_20() -> None:
    entries = [BankEntry(1, "strict", SignalType.PDQ, BANKED), BankEntry(2, "loose", SignalType.PDQ, BANKED)]
    banks = {
        "strict": BankSettings("strict", pdq_threshold=10),
        "loose": BankSettings("loose", pdq_threshold=31),
    }
    query = Signal(SignalType.PDQ, flip(BANKED, 20), quality=90, origin="photo.jpg")
    # the scan's loose reach (40): strict bank yields a near match only, loose bank a match
    evidence = Matcher(entries, pdq_threshold=40, banks=banks).match([query])
    kinds = {e.bank: (e.kind, e.distance) for e in evidence}
    assert kinds == {"loose": ("bank_match", 20), "strict": ("near_match", 20)}
    strict = next(e for e in evidence if e.bank == "strict")
    assert "threshold 10" in strict.detail and 0.2 <= strict.weight <= 0.5
    # the assessor leaves the matcher's near match alone: with only the strict bank, the verdict is review
    only_strict = Matcher(entries[:1], pdq_threshold=40, banks=banks).match([query])
    assert assess(only_strict).verdict == "review"
    assert assess(evidence).verdict == "match"
    # at distance 8 both banks match
    close = Matcher(entries, pdq_threshold=40, banks=banks).match([Signal(SignalType.PDQ, flip(BANKED, 8))])
    assert {e.kind for e in close} == {"bank_match"}
    # reach below the bank's own threshold: search widens to the bank's threshold
    wide = Matcher(entries[1:], pdq_threshold=15, banks=banks).match([query])
    assert [(e.kind, e.distance) for e in wide] == [("bank_match", 20)]


def test_allow_list_suppresses_block_matches_of_the_same_signal() -> None:
    logo = f"{RNG.getrandbits(256):064x}"
    entries = [
        BankEntry(1, "posters", SignalType.PDQ, flip(logo, 5), "poster with agency logo"),
        BankEntry(2, "benign", SignalType.PDQ, logo, "news agency logo"),
        BankEntry(3, "posters", SignalType.MD5, "0" * 32, "other file"),
    ]
    banks = {"benign": BankSettings("benign", kind="allow", pdq_threshold=8)}
    matcher = Matcher(entries, pdq_threshold=40, banks=banks)
    evidence = matcher.match(
        [Signal(SignalType.PDQ, logo, origin="a.jpg"), Signal(SignalType.MD5, "0" * 32, origin="a.jpg")]
    )
    by_kind = {e.kind: e for e in evidence}
    assert set(by_kind) == {"allow_listed", "bank_match"}  # the MD5 hit is another signal: kept
    suppressed = by_kind["allow_listed"]
    assert suppressed.weight == 0 and suppressed.entry_id == 1 and suppressed.bank == "posters"
    assert "news agency logo" in suppressed.detail and "benign" in suppressed.detail
    assert by_kind["bank_match"].entry_id == 3
    # an image only near the allow entry (beyond its threshold 8) is not allow-listed
    far = matcher.match([Signal(SignalType.PDQ, flip(logo, 12), origin="b.jpg")])
    assert [e.kind for e in far] == ["bank_match"]
    assert assess(matcher.match([Signal(SignalType.PDQ, logo, origin="c.jpg")])).verdict == "clear"


def test_disabled_and_deleted_entries_never_match(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'p.db'}")
    store.create_bank("b")
    other = f"{RNG.getrandbits(256):064x}"
    store.apply_exchange_fetch(
        "b",
        "file",
        [ExchangeUpdate(SignalType.PDQ, BANKED, "one"), ExchangeUpdate(SignalType.PDQ, other, "two")],
        {},
    )
    assert len(store.bank_entries()) == 2
    store.apply_exchange_fetch("b", "file", [ExchangeUpdate(SignalType.PDQ, other, deleted=True)], {})
    assert [e.label for e in store.bank_entries()] == ["one"]
    deleted = [e for e in store.entries("b") if e.deleted_at is not None]
    assert [e.label for e in deleted] == ["two"]  # kept for the record
    entry_id = store.bank_entries()[0].entry_id
    store.set_entry_enabled(entry_id, False)
    assert store.bank_entries() == []
    assert store.list_banks()[0].entries == {}


def test_cli_bank_controls(tmp_path: Path) -> None:
    code, out, _ = posbon("bank", "create", "strict", "--pdq-threshold", "10")
    assert code == 0, out
    assert posbon("bank", "create", "benign", "--allow-list")[0] == 0
    code, out, _ = posbon("bank", "set", "strict", "--text-threshold", "0.8")
    assert code == 0 and "PDQ threshold 10" in out and "text threshold 0.8" in out
    code, _, err = posbon("bank", "set", "strict", "--kind", "neither")
    assert code == 2 and "block, allow" in err
    hashes = tmp_path / "list.csv"
    low = f"{RNG.getrandbits(256):064x}"
    hashes.write_text(
        f"signal_type,signal,label,quality\npdq,{BANKED},good,90\npdq,zz-not-hex,bad,90\npdq,{low},flat,20\n",
        encoding="utf-8",
    )
    code, out, err = posbon("bank", "import", "strict", str(hashes), "--format", "csv")
    assert code == 1
    assert f"{hashes}:3: pdq hash must be 64 hex characters" in err
    assert f"{hashes}:4: PDQ quality 20 below 50" in err
    assert "1 entries added" in out
    code, out, _ = posbon("bank", "list")
    assert "strict" in out and "10 / 0.8" in out and "allow" in out
    code, out, _ = posbon("bank", "entries", "strict", "--limit", "5")
    assert code == 0 and BANKED[:20] in out and "import:list.csv" in out and "enabled" in out
    store = Store.open(f"sqlite:///{tmp_path / 'posbon-data' / 'posbon.db'}")
    entry_id = store.bank_entries()[0].entry_id
    code, out, _ = posbon("bank", "disable-entry", str(entry_id))
    assert code == 0 and "disabled" in out
    assert store.bank_entries() == []
    assert posbon("bank", "enable-entry", str(entry_id))[0] == 0
    assert len(store.bank_entries()) == 1
    code, _, err = posbon("bank", "disable-entry", "999")
    assert code == 2 and "no bank entry with id 999" in err


def test_migration_0002_upgrades_a_0001_database_with_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{path}")
    config = Config()
    config.set_main_option("script_location", _migrations_dir())
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    engine.dispose()
    with sqlite3.connect(path) as db:
        db.execute(
            "insert into banks (id, name, description, created_at) values (1, 'old', '', '2026-01-01')"
        )
        db.execute(
            "insert into bank_entries (bank_id, signal_type, value, value_digest, label, extra, origin,"
            " enabled, created_at) values (1, 'pdq', ?, 'd1', 'kept', ?, 'x', 1, '2026-01-01')",
            (BANKED, json.dumps({"a": 1})),
        )
    store = Store.open(f"sqlite:///{path}")
    bank = store.list_banks()[0]
    assert (bank.name, bank.kind, bank.pdq_threshold, bank.entries) == ("old", "block", None, {"pdq": 1})
    [entry] = store.entries("old")
    assert entry.label == "kept" and entry.source == "" and entry.deleted_at is None
    assert entry.extra == {"a": 1}
    assert store.bank_settings()["old"] == BankSettings("old")
    assert store.exchange_checkpoint("old", "tat") is None
