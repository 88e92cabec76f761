"""Live bank-change propagation: MatchService applies the bank change log incrementally (no rebuilds)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from posbon.domain import Signal, SignalType
from posbon.match.banklist import NewEntry
from posbon.match.service import MatchService, parse_signal
from posbon.settings import Settings
from posbon.store import Store
from posbon.store.changelog_models import BankChangeRow

# benign stand-in texts (no real propaganda)
TEXT = (
    "The village library opens its doors on Saturday morning for the annual apricot festival, with "
    "music from the school band, a reading corner for children and free tea for every visitor who "
    "brings a book to swap with a neighbour."
)
PDQ_A = "f" * 64
PDQ_B = "0" * 64
MD5 = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def env(tmp_path: Path) -> tuple[Store, Settings]:
    # a PostgreSQL run (POSBON_TEST_PG=1) gives each test its database in POSBON_DATABASE_URL
    url = os.environ.get("POSBON_DATABASE_URL") or f"sqlite:///{tmp_path / 'posbon.db'}"
    settings = Settings(data_dir=tmp_path, database_url=url, pseudonym_key=b"k")
    store = Store.open(settings.database_url)
    store.create_bank("LIVE")
    return store, settings


def _changes(store: Store) -> list[tuple[str | None, int | None, str]]:
    with store.session() as s:
        rows = s.execute(select(BankChangeRow.bank, BankChangeRow.entry_id, BankChangeRow.op))
        return [(r[0], r[1], r[2]) for r in rows]


def test_every_bank_change_writes_a_change_row(env: tuple[Store, Settings]) -> None:
    store, _ = env
    store.add_entries("LIVE", [NewEntry(SignalType.MD5, MD5)])
    entry = store.entries("LIVE")[0].entry_id
    store.set_entry_enabled(entry, False)
    store.update_bank("LIVE", pdq_threshold=10)
    assert _changes(store) == [
        ("LIVE", None, "settings"),
        ("LIVE", entry, "add"),
        ("LIVE", entry, "remove"),
        ("LIVE", None, "settings"),
    ]


def test_changes_are_applied_incrementally_without_rebuilds(env: tuple[Store, Settings]) -> None:
    store, settings = env
    service = MatchService(store, settings, poll_seconds=0.0)
    pdq = Signal(SignalType.PDQ, PDQ_A)
    assert service.lookup([pdq]) == [[]]
    assert service.rebuilds == 1
    store.add_entries("LIVE", [NewEntry(SignalType.PDQ, PDQ_A), NewEntry(SignalType.MD5, MD5)])
    store.add_entries(
        "LIVE", [NewEntry(SignalType.TEXT, parse_signal("raw_text", TEXT).value, original_text=TEXT)]
    )
    hits = service.lookup([pdq, Signal(SignalType.MD5, MD5), parse_signal("raw_text", TEXT)])
    assert [[m.bank for m in h] for h in hits] == [["LIVE"], ["LIVE"], ["LIVE"]]
    ids = {e.signal_type: e.entry_id for e in store.entries("LIVE")}
    for entry_id in ids.values():
        store.set_entry_enabled(entry_id, False)
    assert service.lookup([pdq, Signal(SignalType.MD5, MD5), parse_signal("raw_text", TEXT)]) == [[], [], []]
    store.set_entry_enabled(ids["pdq"], True)
    assert [m.entry_id for m in service.lookup([pdq])[0]] == [ids["pdq"]]
    assert service.rebuilds == 1  # all of it applied in place
    status = service.index_status()
    assert status["pdq"]["size"] == 1 and status["video_md5"]["size"] == 0
    assert status["pdq"]["version"] == len(_changes(store))
    assert 0 <= float(status["pdq"]["age"]) < 5  # type: ignore[arg-type]


def test_settings_change_and_big_backlog_rebuild(env: tuple[Store, Settings]) -> None:
    store, settings = env
    service = MatchService(store, settings, poll_seconds=0.0, rebuild_backlog=5)
    service.lookup([Signal(SignalType.PDQ, PDQ_A)])
    store.add_entries("LIVE", [NewEntry(SignalType.PDQ, PDQ_A)])
    service.lookup([Signal(SignalType.PDQ, PDQ_A)])
    assert service.rebuilds == 1
    store.update_bank("LIVE", kind="allow")
    assert service.lookup([Signal(SignalType.PDQ, PDQ_A)]) == [[]]  # allow lists are never returned
    assert service.rebuilds == 2
    store.add_entries("LIVE", [NewEntry(SignalType.MD5, f"{i:032x}") for i in range(10)])
    service.lookup([Signal(SignalType.PDQ, PDQ_A)])
    assert service.rebuilds == 3


def test_out_of_order_commit_below_version_is_applied(env: tuple[Store, Settings]) -> None:
    """A change id that commits after a higher one was seen (as on PostgreSQL) is still applied."""
    store, settings = env
    service = MatchService(store, settings, poll_seconds=0.0)
    service.lookup([])
    late_md5, early_md5 = MD5, "f" * 32
    store.add_entries("LIVE", [NewEntry(SignalType.MD5, late_md5)])
    with store.session() as s:  # its change row "has not committed yet"
        late = s.scalars(select(BankChangeRow).order_by(BankChangeRow.id.desc())).first()
        assert late is not None
        late_row = (late.id, late.bank, late.entry_id, late.op)
        s.execute(delete(BankChangeRow).where(BankChangeRow.id == late.id))
    store.add_entries("LIVE", [NewEntry(SignalType.MD5, early_md5)])
    hits = service.lookup([Signal(SignalType.MD5, late_md5), Signal(SignalType.MD5, early_md5)])
    assert [len(h) for h in hits] == [0, 1]
    assert service.snapshot().version == late_row[0] + 1
    with store.session() as s:  # now the lower id commits
        s.add(BankChangeRow(id=late_row[0], bank=late_row[1], entry_id=late_row[2], op=late_row[3]))
    hits = service.lookup([Signal(SignalType.MD5, late_md5), Signal(SignalType.MD5, early_md5)])
    assert [len(h) for h in hits] == [1, 1]
    assert service.rebuilds == 1


def _posbon(settings: Settings, *args: str) -> float:
    env = {
        **os.environ,
        "POSBON_DATA_DIR": str(settings.data_dir),
        "POSBON_DATABASE_URL": settings.database_url,
    }
    subprocess.run(
        [str(Path(sys.executable).parent / "posbon"), *args],
        check=True,
        env=env,
        capture_output=True,
        timeout=60,
    )
    return time.monotonic()


def _wait(service: MatchService, signal: Signal, want_hit: bool, since: float) -> float:
    while time.monotonic() - since < 10:
        if bool(service.lookup([signal])[0]) == want_hit:
            return time.monotonic() - since
        time.sleep(0.05)
    return float("inf")


def test_a_change_made_by_another_process_is_visible_within_5_seconds(env: tuple[Store, Settings]) -> None:
    store, settings = env
    service = MatchService(store, settings)  # the default poll: 0.5 s
    text_file = settings.data_dir / "notice.txt"
    text_file.write_text(TEXT, encoding="utf-8")
    signal = parse_signal("raw_text", TEXT)
    assert service.lookup([signal]) == [[]]
    done = _posbon(settings, "bank", "add", "LIVE", str(text_file))
    assert _wait(service, signal, True, done) < 5
    entry = store.entries("LIVE")[0].entry_id
    done = _posbon(settings, "bank", "disable-entry", str(entry))
    assert _wait(service, signal, False, done) < 5
    assert service.rebuilds == 1


def test_memory_stays_flat_across_100_update_cycles(env: tuple[Store, Settings]) -> None:
    store, settings = env
    service = MatchService(store, settings, poll_seconds=0.0)
    store.add_entries("LIVE", [NewEntry(SignalType.PDQ, PDQ_B), NewEntry(SignalType.MD5, MD5)])
    ids = [e.entry_id for e in store.entries("LIVE")]
    pdq = Signal(SignalType.PDQ, PDQ_B)

    def cycle() -> None:
        for entry_id in ids:
            store.set_entry_enabled(entry_id, False)
        assert service.lookup([pdq]) == [[]]
        for entry_id in ids:
            store.set_entry_enabled(entry_id, True)
        assert len(service.lookup([pdq])[0]) == 1

    for _ in range(5):  # warm up caches (SQLAlchemy statement cache, numpy)
        cycle()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(100):
        cycle()
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert service.rebuilds == 1
    assert grown < 512 * 1024, f"memory grew {grown} bytes over 100 cycles"


def test_many_taken_out_entries_trigger_a_rebuild(
    env: tuple[Store, Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    import posbon.match.service as service_module

    store, settings = env
    monkeypatch.setattr(service_module, "HIDDEN_LIMIT", 2)
    service = MatchService(store, settings, poll_seconds=0.0)
    service.lookup([])
    store.add_entries("LIVE", [NewEntry(SignalType.MD5, f"{i:032x}") for i in range(3)])
    service.lookup([])
    assert service.rebuilds == 1
    for entry in store.entries("LIVE"):
        store.set_entry_enabled(entry.entry_id, False)
        service.lookup([])
    assert service.rebuilds == 2  # the third taken-out entry passed the limit
    assert service.snapshot().detectors.matcher.hidden == 0


def test_a_background_poller_keeps_the_index_current_without_lookups(env: tuple[Store, Settings]) -> None:
    import gc
    import threading

    store, settings = env
    service = MatchService(store, settings, poll_seconds=0.1)
    service.snapshot()
    service.start_polling()
    pdq = Signal(SignalType.PDQ, PDQ_A)
    store.add_entries("LIVE", [NewEntry(SignalType.PDQ, PDQ_A)])
    deadline = time.monotonic() + 5
    while True:  # no lookup runs meanwhile: only the thread can have applied the change
        snap = service.fresh_snapshot()
        if snap is not None and service.lookup([pdq], snapshot=snap) != [[]]:
            break
        assert time.monotonic() < deadline, "the poller did not apply the change within 5 s"
        time.sleep(0.05)
    assert service.rebuilds == 1
    # the thread holds only a weak reference: it ends with the service
    assert any(t.name == "posbon-index-poll" for t in threading.enumerate())
    del service, snap
    gc.collect()
    time.sleep(0.5)
    assert not any(t.name == "posbon-index-poll" for t in threading.enumerate())


WARM_CHECK = """
import random, sys
from posbon.match import pdq
from posbon.match.banklist import NewEntry
from posbon.domain import SignalType
from posbon.match.service import MatchService, parse_signal
from posbon.settings import Settings
from posbon.store import Store
from pathlib import Path

settings = Settings(data_dir=Path(sys.argv[1]), database_url=sys.argv[2], pseudonym_key=b"k")
store = Store.open(settings.database_url)
store.create_bank("WARM")
rng = random.Random(5)
hashes = [f"{rng.getrandbits(256):064x}" for _ in range(10_000)]  # enough for the compiled search path
store.add_entries("WARM", [NewEntry(SignalType.PDQ, h) for h in hashes])
assert not pdq._mih_kernel.signatures  # a fresh process: nothing loaded yet
service = MatchService(store, settings)
service.snapshot()
loaded = list(pdq._mih_kernel.signatures)
near = f"{int(hashes[7], 16) ^ 0b1011:064x}"
found = service.lookup([parse_signal("pdq", near)])  # parsed from hex, as the API does
assert [(m.bank, m.distance) for m in found[0]] == [("WARM", "3")], found
print(len(loaded), len(pdq._mih_kernel.signatures))
"""


def test_the_index_build_loads_the_compiled_pdq_search_so_the_first_lookup_does_not(tmp_path: Path) -> None:
    # In a fresh process numba took ~0.4 s to load the search loop from its cache, and the first lookup
    # paid it: a restarted match server answered its first request in 0.3-1.1 s. The build now loads it,
    # and every lookup calls it with the argument types the build loaded (no second signature).
    url = f"sqlite:///{tmp_path / 'warm.db'}"
    done = subprocess.run(
        [sys.executable, "-c", WARM_CHECK, str(tmp_path), url], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "1"]
