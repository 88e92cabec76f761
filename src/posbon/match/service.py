"""The match service: one in-process index over every bank, kept current by the bank change log.

`MatchService` holds the `Detectors` of `posbon.scan.build_detectors` (the `Matcher` over every enabled bank
entry, the assessment policy, the classifier and branding marks), so lookups and item assessments of a
running server share one index instead of reading every entry from the database per request.

How it stays current (docs/live-index.md): every bank change writes a `bank_changes` row in its own
transaction (posbon.store.changelog_models). The service keeps `version`, the highest change id it applied.
A lookup reads the change rows after it at most every `poll_seconds` (0.5 s), or at once after
`mark_changed()` (the wake-up hint the curation routes give after every write), and applies them to the
matcher in place (`Matcher.apply`): the entries named by "add"/"remove" rows are re-read and put in or
taken out, whichever their current state says, so applying a row twice or late is harmless.

Out-of-order commits: ids are handed out when a transaction inserts, so on PostgreSQL a lower id can
commit after a higher one was seen. Ids below `version` that were missing when it was read are kept as
gaps (for GAP_SECONDS, at most GAP_WINDOW ids behind `version`) and asked for again on every poll; a
rolled-back transaction's id never appears and simply ages out.

Full rebuilds happen only at start, when a poll finds more than `rebuild_backlog` changes, when the
matcher holds more taken-out entries (HIDDEN_LIMIT) than live ones, when a bank's
settings change or a bank is deleted (the policy's thresholds come from them), and when a logo entry
changes (branding marks are built once).

Thread safety: `Matcher.match` and `Matcher.apply` share the matcher's lock. Applying runs under
`_build_lock` (one writer at a time); a full rebuild builds aside and swaps `self._snapshot`.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import threading
import time
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram
from sqlalchemy import ColumnElement, func, or_, select

from posbon.domain import BankEntry, Evidence, Signal, SignalType
from posbon.match import pdq
from posbon.match.banklist import InvalidEntry, validate_signal
from posbon.match.matcher import BANK_MATCH, BankSettings
from posbon.scan import Detectors, build_detectors
from posbon.settings import Settings
from posbon.store import Store
from posbon.store.changelog_models import OP_SETTINGS, BankChangeRow
from posbon.store.models import BankEntryRow, BankRow

# HMA's signal type names and posbon's. HMA calls the MD5 of a file's bytes "video_md5" (python-
# threatexchange's VideoMD5Signal, which posbon uses for any file); "md5" is accepted as posbon's own name.
HMA_SIGNAL_TYPES: dict[str, SignalType] = {
    "pdq": SignalType.PDQ,
    "video_md5": SignalType.MD5,
    "md5": SignalType.MD5,
    "raw_text": SignalType.TEXT,
    "url": SignalType.URL,
    "domain": SignalType.DOMAIN,
}
HMA_NAME: dict[SignalType, str] = {
    SignalType.PDQ: "pdq",
    SignalType.MD5: "video_md5",
    SignalType.TEXT: "raw_text",
    SignalType.URL: "url",
    SignalType.DOMAIN: "domain",
}
DEFAULT_POLL_SECONDS = 0.5
DEFAULT_REBUILD_BACKLOG = 20_000  # more new changes than this in one poll: rebuild instead
GAP_WINDOW = 1000  # how far behind `version` a missing change id is still waited for
GAP_SECONDS = 60.0  # ... and for how long
FREEZE_MIN_ENTRIES = 100_000  # an index this big is frozen out of the garbage collector's sight (_rebuild)
HIDDEN_LIMIT = 10_000  # rebuild once more taken-out entries than this (and than live ones) hold memory

log = logging.getLogger("posbon.match")


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


# Lookup metrics of every MatchService in the process, exported by posbon.web.metrics at /metrics.
METRICS = CollectorRegistry(auto_describe=True)
LOOKUPS = Counter("posbon_lookups", "Signals looked up in the bank index", ["signal_type"], registry=METRICS)
LOOKUP_SECONDS = Histogram(
    "posbon_lookup_seconds",
    "Time to look up one batch of signals (index catch-up included)",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
    registry=METRICS,
)


class SignalError(ValueError):
    """A signal type or value that cannot be looked up; the message is one line for the caller."""


def parse_signal(signal_type: str, value: str) -> Signal:
    """A posbon Signal for an HMA signal type name and value; SignalError with a one-line reason if bad."""
    kind = HMA_SIGNAL_TYPES.get(signal_type.strip().lower())
    if kind is None:
        known = ", ".join(sorted(HMA_SIGNAL_TYPES))
        raise SignalError(f"No such SignalType '{signal_type}' (known: {known})")
    try:
        normal, _original = validate_signal(kind, value)
    except InvalidEntry as exc:
        raise SignalError(f"invalid signal: {exc}") from None
    return Signal(kind, normal)


@dataclass(frozen=True)
class Match:
    """One banked entry a signal matched: HMA's bank_content_id is posbon's entry id."""

    bank: str
    entry_id: int
    distance: str  # as HMA gives it: a string ("7" for PDQ bits, "0" for exact, 1 - similarity for text)


@dataclass
class Snapshot:
    """The index and what it has applied; the matcher inside is changed in place by the service."""

    detectors: Detectors
    version: int  # the highest bank change id applied
    built_at: float  # time.time() of the last full build
    changed_at: float  # time.time() of the last applied change (or of the build)
    changes_applied: int = 0  # since the build

    @property
    def sizes(self) -> dict[str, int]:
        return self.detectors.matcher.size


def _distance(evidence: Evidence) -> str:
    if evidence.distance is not None:
        return str(evidence.distance)
    if evidence.similarity is not None:
        return f"{max(0.0, 1.0 - evidence.similarity):.4f}"
    return "0"


def _return_free_heap() -> None:
    """Hand the heap a build freed (rows read from the store, the old index) back to the system: glibc
    keeps it otherwise; 70 MB of a match process's resident memory at 1M hashes. glibc only."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc (musl, macOS): nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class MatchService:
    """The shared index of a server process (see the module docstring for how it stays current)."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
        rebuild_backlog: int = DEFAULT_REBUILD_BACKLOG,
    ) -> None:
        self.store = store
        self.settings = settings
        self.poll_seconds = poll_seconds
        self.rebuild_backlog = rebuild_backlog
        self._snapshot: Snapshot | None = None
        self._build_lock = threading.Lock()
        self._hint = False  # set by mark_changed(): the next lookup polls at once
        self._next_poll = 0.0
        self._gaps: dict[int, float] = {}  # change id missing below version -> when first missed
        self.rebuilds = 0
        self._poller: threading.Thread | None = None
        self._stop_polling = threading.Event()

    # ---- versions ----------------------------------------------------------------------------------

    def latest_change(self) -> int:
        """The highest bank change id in the store (0 when none)."""
        with self.store.session() as s:
            return int(s.scalar(select(func.coalesce(func.max(BankChangeRow.id), 0))) or 0)

    def mark_changed(self) -> None:
        """A bank changed through this process: the next lookup reads the change log at once."""
        self._hint = True

    # ---- the index ---------------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """The current index, brought up to date first when a poll is due (or a change was hinted)."""
        snap = self._snapshot
        if snap is not None and not self._hint and time.monotonic() < self._next_poll:
            return snap
        with self._build_lock:
            snap = self._snapshot
            if snap is not None and not self._hint and time.monotonic() < self._next_poll:
                return snap  # another thread polled while this one waited
            self._hint = False
            self._next_poll = time.monotonic() + self.poll_seconds
            if snap is None:
                return self._rebuild()
            return self._catch_up(snap)

    def fresh_snapshot(self) -> Snapshot | None:
        """The index if it is built and no poll of the change log is due (nor hinted), else None.

        Never touches the database: the match API's fast path answers from it on the event loop and leaves
        a due poll to the ordinary route, which runs it in a worker thread. With `start_polling` a
        background thread keeps the index current, so a poll that is a little late (the thread is about
        to run) is no reason to go the slow way; one that is several intervals late (the thread is stuck on
        an unreachable database) is.
        """
        snap = self._snapshot
        if snap is None or self._hint:
            return None
        grace = 4 * self.poll_seconds + 1.0 if self._poller is not None else 0.0
        if time.monotonic() >= self._next_poll + grace:
            return None
        return snap

    def start_polling(self) -> None:
        """Read the change log every `poll_seconds` in a background thread, so that no request waits for it.

        For long-running servers (`posbon serve`): a lookup that found a poll due ran it (a database query
        in a worker thread) and, with the GIL handed back and forth, sat in the p99 of every load test. The
        thread holds only a weak reference: it ends when the service is dropped, or on `stop_polling`.
        """
        if self._poller is not None:
            return
        ref = weakref.ref(self)
        stop, interval = self._stop_polling, self.poll_seconds  # (no `self` in the closure: a weak ref only)

        def poll() -> None:
            failed_at = 0.0
            while not stop.wait(interval):
                service = ref()
                if service is None:
                    return
                try:
                    service.snapshot()
                except Exception as exc:  # noqa: BLE001 - an unreachable database must not end the thread
                    if time.monotonic() - failed_at > 60:
                        failed_at = time.monotonic()
                        log.warning("match index: cannot read the bank change log (%s)", _first_line(exc))
                del service

        self._poller = threading.Thread(target=poll, daemon=True, name="posbon-index-poll")
        self._poller.start()

    def stop_polling(self) -> None:
        self._stop_polling.set()

    def _rebuild(self) -> Snapshot:
        version = self.latest_change()  # read first: a change after it is applied (again) next poll
        detectors = build_detectors(self.store, self.settings)
        pdq.warm_up()  # not on the first lookup: ~0.4 s in a fresh server or worker process
        with self.store.session() as s:
            present = set(
                s.scalars(select(BankChangeRow.id).where(BankChangeRow.id > version - GAP_WINDOW)).all()
            )
        now = time.monotonic()
        self._gaps = {
            i: now for i in range(max(1, version - GAP_WINDOW + 1), version + 1) if i not in present
        }
        snap = Snapshot(detectors=detectors, version=version, built_at=time.time(), changed_at=time.time())
        self._snapshot = snap  # the swap: readers from now on see the new index
        self.rebuilds += 1
        # The index holds an object per banked entry (a million at 1M hashes); every full collection of
        # the cyclic garbage collector walked them all, a pause of tens of milliseconds in the middle of
        # lookups (the match API's p99). Freezing moves what exists now out of the collector's sight; it
        # is still freed by reference counting when a later rebuild drops it.
        if sum(snap.sizes.values()) >= FREEZE_MIN_ENTRIES:
            gc.collect()
            gc.freeze()
            _return_free_heap()
        return snap

    def _catch_up(self, snap: Snapshot) -> Snapshot:
        now = time.monotonic()
        self._gaps = {
            i: seen
            for i, seen in self._gaps.items()
            if now - seen < GAP_SECONDS and i > snap.version - GAP_WINDOW
        }
        wanted: ColumnElement[bool] = BankChangeRow.id > snap.version
        if self._gaps:
            wanted = or_(wanted, BankChangeRow.id.in_(list(self._gaps)))
        with self.store.session() as s:
            rows = s.execute(
                select(BankChangeRow.id, BankChangeRow.entry_id, BankChangeRow.op)
                .where(wanted)
                .order_by(BankChangeRow.id)
                .limit(self.rebuild_backlog + 1)
            ).all()
        if not rows:
            return snap
        if len(rows) > self.rebuild_backlog or any(op == OP_SETTINGS for _, _, op in rows):
            return self._rebuild()
        entry_ids = {entry_id for _, entry_id, _ in rows if entry_id is not None}
        current = {e.entry_id: e for e in self._current_entries(entry_ids)}
        if any(e.signal_type == SignalType.LOGO for e in current.values()):
            return self._rebuild()
        matcher = snap.detectors.matcher
        if any(i in matcher and matcher.entry(i).signal_type == SignalType.LOGO for i in entry_ids):
            return self._rebuild()
        matcher.apply(upserts=current.values(), removals=entry_ids - set(current))
        if matcher.hidden > max(HIDDEN_LIMIT, sum(matcher.size.values())):
            return self._rebuild()  # taken-out entries of the dict/LSH indexes would hold memory for ever
        top = max(snap.version, max(i for i, _, _ in rows))
        seen = {i for i, _, _ in rows}
        for i in seen:
            self._gaps.pop(i, None)
        for i in range(max(snap.version + 1, top - GAP_WINDOW + 1), top + 1):
            if i not in seen:
                self._gaps[i] = now
        snap.version = top
        snap.changed_at = time.time()
        snap.changes_applied += len(rows)
        return snap

    def _current_entries(self, entry_ids: set[int]) -> list[BankEntry]:
        """The entries among these that are enabled and not deleted, as the matcher sees them."""
        if not entry_ids:
            return []
        with self.store.session() as s:
            rows = s.execute(
                select(
                    BankEntryRow.id,
                    BankRow.name,
                    BankEntryRow.signal_type,
                    BankEntryRow.value,
                    BankEntryRow.label,
                    BankEntryRow.original_text,
                )
                .join(BankRow, BankRow.id == BankEntryRow.bank_id)
                .where(
                    BankEntryRow.id.in_(list(entry_ids)),
                    BankEntryRow.enabled.is_(True),
                    BankEntryRow.deleted_at.is_(None),
                )
            ).all()
        return [BankEntry(r[0], r[1], SignalType(r[2]), r[3], r[4], r[5]) for r in rows]

    def index_status(self) -> dict[str, dict[str, object]]:
        """Per HMA signal type name: present, version (change id applied), size, age (seconds since the
        last applied change) and built_to (time of the last full build)."""
        snap = self.snapshot()
        age = max(0.0, time.time() - snap.changed_at)
        return {
            name: {
                "present": True,
                "version": snap.version,
                "size": snap.sizes.get(str(kind), 0),
                "age": round(age, 3),
                "built_to": int(snap.built_at),
            }
            for kind, name in HMA_NAME.items()
        }

    @property
    def ready(self) -> bool:
        return self._snapshot is not None

    def bank_settings(self) -> dict[str, BankSettings]:
        return self.snapshot().detectors.matcher.banks

    # ---- lookups -----------------------------------------------------------------------------------

    def lookup(
        self,
        signals: Sequence[Signal],
        banks: Iterable[str] | None = None,
        *,
        snapshot: Snapshot | None = None,
    ) -> list[list[Match]]:
        """For each signal, the entries it matches within each bank's own match threshold (or the global
        one), best first. Allow-list banks are never returned; a block-bank hit that an allow list
        overrides is left out. Signals are searched in one batch (PDQ as one range search).

        `snapshot`: an index the caller already holds (from `fresh_snapshot`); the change log is not polled.
        """
        started = time.perf_counter()
        for signal in signals:
            LOOKUPS.labels(signal_type=HMA_NAME.get(signal.signal_type, str(signal.signal_type))).inc()
        try:
            return self._lookup(snapshot or self.snapshot(), signals, banks)
        finally:
            LOOKUP_SECONDS.observe(time.perf_counter() - started)

    def _lookup(
        self, snap: Snapshot, signals: Sequence[Signal], banks: Iterable[str] | None
    ) -> list[list[Match]]:
        matcher = snap.detectors.matcher
        wanted = set(banks) if banks is not None else None
        tagged = [Signal(s.signal_type, s.value, s.quality, origin=str(i)) for i, s in enumerate(signals)]
        out: list[list[Match]] = [[] for _ in tagged]
        for evidence in matcher.match(tagged, matches_only=True):
            if evidence.kind != BANK_MATCH or evidence.bank is None or evidence.entry_id is None:
                continue  # near matches (beyond the bank's threshold) and allow-listed hits
            if wanted is not None and evidence.bank not in wanted:
                continue
            if not self._within_match_threshold(evidence, matcher.banks.get(evidence.bank)):
                continue
            out[int(evidence.origin or 0)].append(
                Match(evidence.bank, evidence.entry_id, _distance(evidence))
            )
        return out

    def _within_match_threshold(self, evidence: Evidence, bank: BankSettings | None) -> bool:
        # The matcher reaches as far as the loose review thresholds; a lookup answers matches only.
        if evidence.distance is not None:
            limit = bank.pdq_threshold if bank and bank.pdq_threshold is not None else None
            return evidence.distance <= (limit if limit is not None else self.settings.pdq_threshold)
        if evidence.similarity is not None:
            floor = bank.text_threshold if bank and bank.text_threshold is not None else None
            return evidence.similarity >= (floor if floor is not None else self.settings.text_threshold)
        return True
