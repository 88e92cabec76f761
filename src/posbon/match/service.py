"""The match service: one in-process index over every bank, rebuilt when the banks change.

`MatchService` holds the `Detectors` of `posbon.scan.build_detectors` (the `Matcher` over every enabled bank
entry, the assessment policy, the classifier and branding marks), so lookups and item assessments of a
running server share one index instead of reading every entry from the database per request.

When it rebuilds (first version: a full rebuild, as HMA does; live incremental updates come later):
- at once, on the next lookup, after `mark_changed()` (the curation routes call it after every write),
  so a change made through the API is visible to the very next lookup;
- when the store's bank fingerprint changed (a change made elsewhere, e.g. `posbon bank add` in another
  process), checked at most every `poll_seconds` by a lookup.

Thread safety: readers take no lock. They read `self._snapshot` (one attribute read, atomic in CPython)
and use the immutable snapshot they got. A rebuild runs under `_build_lock` (one builder at a time; the
readers that do not need the new version never wait for it) and swaps the reference when done.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import case, func, select

from posbon.domain import Evidence, Signal, SignalType
from posbon.match.banklist import InvalidEntry, validate_signal
from posbon.match.matcher import BANK_MATCH, BankSettings
from posbon.scan import Detectors, build_detectors
from posbon.settings import Settings
from posbon.store import Store
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
DEFAULT_POLL_SECONDS = 10.0

Fingerprint = tuple[int, int, int, int]


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


@dataclass(frozen=True)
class Snapshot:
    """An index at one version; never changed after it is built."""

    detectors: Detectors
    fingerprint: Fingerprint
    generation: int
    built_at: float
    sizes: dict[str, int] = field(default_factory=dict)


def _distance(evidence: Evidence) -> str:
    if evidence.distance is not None:
        return str(evidence.distance)
    if evidence.similarity is not None:
        return f"{max(0.0, 1.0 - evidence.similarity):.4f}"
    return "0"


class MatchService:
    """The shared index of a server process (see the module docstring for when it rebuilds)."""

    def __init__(
        self, store: Store, settings: Settings, *, poll_seconds: float = DEFAULT_POLL_SECONDS
    ) -> None:
        self.store = store
        self.settings = settings
        self.poll_seconds = poll_seconds
        self._snapshot: Snapshot | None = None
        self._build_lock = threading.Lock()
        self._generation = 0  # bumped by mark_changed(); a snapshot older than it is rebuilt
        self._next_poll = 0.0
        self.rebuilds = 0

    # ---- versions ----------------------------------------------------------------------------------

    def fingerprint(self) -> Fingerprint:
        """Changes whenever an entry is added, enabled, disabled or deleted, or a bank or its settings
        change: (entries, newest entry id, sum of active entry ids, hash of the banks' settings)."""
        active = (BankEntryRow.enabled.is_(True)) & (BankEntryRow.deleted_at.is_(None))
        with self.store.session() as s:
            count, newest, active_sum = s.execute(
                select(
                    func.count(BankEntryRow.id),
                    func.coalesce(func.max(BankEntryRow.id), 0),
                    func.coalesce(func.sum(case((active, BankEntryRow.id), else_=0)), 0),
                )
            ).one()
            banks = s.execute(
                select(BankRow.id, BankRow.name, BankRow.kind, BankRow.pdq_threshold, BankRow.text_threshold)
            ).all()
        return (int(count), int(newest), int(active_sum), hash(tuple(sorted(tuple(b) for b in banks))))

    def mark_changed(self) -> None:
        """A bank changed through this process: the next lookup uses a rebuilt index."""
        with self._build_lock:
            self._generation += 1

    # ---- the index ---------------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """The current index, rebuilt first if a change was marked or the store's fingerprint moved."""
        snap = self._snapshot
        now = time.monotonic()
        if snap is not None and snap.generation == self._generation and now < self._next_poll:
            return snap
        with self._build_lock:
            snap = self._snapshot
            generation = self._generation
            if snap is not None and snap.generation == generation and time.monotonic() < self._next_poll:
                return snap  # another thread rebuilt (or polled) while this one waited
            fingerprint = self.fingerprint()
            self._next_poll = time.monotonic() + self.poll_seconds
            if snap is not None and snap.fingerprint == fingerprint:
                if snap.generation != generation:
                    snap = Snapshot(snap.detectors, fingerprint, generation, snap.built_at, snap.sizes)
                    self._snapshot = snap
                return snap
            detectors = build_detectors(self.store, self.settings)
            snap = Snapshot(
                detectors=detectors,
                fingerprint=fingerprint,
                generation=generation,
                built_at=time.time(),
                sizes=detectors.matcher.size,
            )
            self._snapshot = snap  # the swap: readers from now on see the new index
            self.rebuilds += 1
            return snap

    @property
    def ready(self) -> bool:
        return self._snapshot is not None

    def bank_settings(self) -> dict[str, BankSettings]:
        return self.snapshot().detectors.matcher.banks

    # ---- lookups -----------------------------------------------------------------------------------

    def lookup(self, signals: Sequence[Signal], banks: Iterable[str] | None = None) -> list[list[Match]]:
        """For each signal, the entries it matches within each bank's own match threshold (or the global
        one), best first. Allow-list banks are never returned; a block-bank hit that an allow list
        overrides is left out. Signals are searched in one batch (PDQ as one range search)."""
        snap = self.snapshot()
        matcher = snap.detectors.matcher
        wanted = set(banks) if banks is not None else None
        tagged = [Signal(s.signal_type, s.value, s.quality, origin=str(i)) for i, s in enumerate(signals)]
        out: list[list[Match]] = [[] for _ in tagged]
        for evidence in matcher.match(tagged):
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
