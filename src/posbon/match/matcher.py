"""Look signals up in banks and explain every match as Evidence."""

from __future__ import annotations

import re
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from posbon.domain import BankEntry, Evidence, Signal, SignalType
from posbon.match.pdq import DEFAULT_THRESHOLD, PdqIndex
from posbon.match.text_index import TextIndex
from posbon.match.url_index import UrlIndex
from posbon.match.video_index import VideoIndex
from posbon.signals.urls import normalize_domain
from posbon.text.normalize import normalize

_HEX = frozenset("0123456789abcdef")
# A banked text's paragraphs are indexed on their own too, so that a post quoting one paragraph of a long
# statement matches it (containment of the whole statement would be only that paragraph's share).
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
MIN_PARAGRAPH_LETTERS = 80
_PARAGRAPH_KEYS = 1 << 40  # text-index keys at or above this stand for a paragraph of an entry


BANK_MATCH = "bank_match"
NEAR_MATCH = "near_match"
ALLOW_LISTED = "allow_listed"
DEFAULT_TEXT_THRESHOLD = 0.6

_QueryKey = tuple[str, str, str]  # (signal type, value, origin) of the signal that was looked up


@dataclass(frozen=True)
class BankSettings:
    """A bank's controls: `kind` "block" (known bad) or "allow" (known benign: a match against it
    suppresses block matches of the same signal), and its own match thresholds (None: the global ones)."""

    name: str
    kind: str = "block"
    pdq_threshold: int | None = None
    text_threshold: float | None = None

    @property
    def is_allow_list(self) -> bool:
        return self.kind == "allow"


def _is_hex(value: str, length: int) -> bool:
    return len(value) == length and set(value) <= _HEX


def _strength(evidence: Evidence) -> float:
    """Order of evidence, best first: exact hashes and URLs, then PDQ by distance, domains, text by score."""
    if evidence.signal_type == SignalType.PDQ and evidence.distance is not None:
        return 1.0 - evidence.distance / 256
    if evidence.signal_type in (SignalType.TEXT, SignalType.VPDQ) and evidence.similarity is not None:
        return evidence.similarity
    if evidence.signal_type == SignalType.DOMAIN:
        return 0.9
    return 1.0


class Matcher:
    """All banks' entries in memory: PDQ (numpy range search), MD5 and URL/domain (dicts), text (LSH).
    Videos by vPDQ (threatexchange's VPDQIndex; a hit's `similarity` is the share of the post video's
    frames found in the banked video).

    Entries whose value is malformed (e.g. a PDQ hash that is not 64 hex characters) are skipped and
    counted in `skipped`; the bank readers refuse them before they get this far.

    `pdq_threshold` and `text_threshold` are how far a lookup reaches (the scan passes its loose review
    thresholds and lets the assessor grade). `banks` adds each bank's controls:
    - a bank with its own threshold is graded here: a hit within it is "bank_match", a hit beyond it but
      within the reach is "near_match" (so a bank at PDQ 10 never yields a bank_match at distance 11);
    - a hit in an allow-list bank (within its own threshold, else `match_pdq_threshold` /
      `match_text_threshold`) suppresses block-bank hits of the same signal (type, value and origin): each
      becomes an "allow_listed" Evidence of weight 0 naming the suppressed entry and, in `detail`, the
      allow-list entry. Allow-list hits themselves are not returned.
    Banks missing from `banks` are block banks with the global thresholds.
    """

    def __init__(
        self,
        entries: Iterable[BankEntry],
        *,
        pdq_threshold: int = DEFAULT_THRESHOLD,
        text_threshold: float = DEFAULT_TEXT_THRESHOLD,
        banks: Mapping[str, BankSettings] | None = None,
        match_pdq_threshold: int = DEFAULT_THRESHOLD,
        match_text_threshold: float = DEFAULT_TEXT_THRESHOLD,
    ) -> None:
        self.pdq_threshold = pdq_threshold
        self.text_threshold = text_threshold
        self.banks: dict[str, BankSettings] = dict(banks or {})
        self.match_pdq_threshold = match_pdq_threshold
        self.match_text_threshold = match_text_threshold
        own_pdq = [b.pdq_threshold for b in self.banks.values() if b.pdq_threshold is not None]
        own_text = [b.text_threshold for b in self.banks.values() if b.text_threshold is not None]
        allow_pdq = [self._pdq_limit(b) for b in self.banks.values() if b.is_allow_list]
        allow_text = [self._text_limit(b) for b in self.banks.values() if b.is_allow_list]
        # how far to search: the reach, or further when a bank's own (or an allow list's) threshold is wider
        self._pdq_search = max([pdq_threshold, *own_pdq, *allow_pdq])
        self._text_search = min([text_threshold, *own_text, *allow_text])
        # ... and for `match(matches_only=True)`: only as far as some bank's match (or allow) threshold. A
        # PDQ search at the review reach (40) probes ~6x the keys of one at 31 (docs/pdq.md).
        self._pdq_match_search = max([match_pdq_threshold, *own_pdq, *allow_pdq])
        self._text_match_search = min([match_text_threshold, *own_text, *allow_text])
        self._entries: list[BankEntry] = []
        # PDQ hashes are indexed under their entry's key (its position in _entries), so a hit names the
        # entry with no mapping table in between (two of them cost ~125 MB at 1M hashes)
        pdq_keys: list[int] = []
        pdq_values: list[str] = []
        self._md5: dict[str, list[int]] = defaultdict(list)
        self._urls = UrlIndex()
        self._text = TextIndex()
        self._videos = VideoIndex()  # vPDQ, graded by threatexchange's frame-match percentages
        self._paragraphs: dict[int, tuple[int, int, str]] = {}  # index key -> (entry key, number, text)
        self.skipped = 0
        self._counts: Counter[str] = Counter()
        self._key_of: dict[int, int] = {}  # bank entry id -> its key (position in _entries)
        self._removed: set[int] = set()  # keys of entries taken out by apply(); their hits are dropped
        # match() and apply() hold this lock: PdqIndex changes must not run during a search
        self._lock = threading.Lock()
        for entry in entries:
            self._index(entry, pdq_keys, pdq_values)
        self._pdq = PdqIndex()
        self._pdq.add(pdq_keys, pdq_values)

    def _index(self, entry: BankEntry, pdq_keys: list[int], pdq_values: list[str]) -> bool:
        """Index one entry under the next key; a PDQ hash and its key are appended to `pdq_values` and
        `pdq_keys` for the caller, which adds them to the PDQ index in one go."""
        key = len(self._entries)
        value = entry.value.strip().lower() if entry.signal_type != SignalType.TEXT else entry.value
        if value == entry.value:
            value = entry.value  # the entry's own string, not an equal copy (a million of them at 1M hashes)
        added = False
        if entry.signal_type == SignalType.PDQ and _is_hex(value, 64):
            pdq_keys.append(key)
            pdq_values.append(value)
            added = True
        elif entry.signal_type == SignalType.MD5 and _is_hex(value, 32):
            self._md5[value].append(key)
            added = True
        elif entry.signal_type == SignalType.URL:
            added = self._urls.add_url(key, entry.value)
        elif entry.signal_type == SignalType.DOMAIN:
            added = self._urls.add_domain(key, entry.value)
        elif entry.signal_type == SignalType.TEXT:
            added = self._text.add(key, entry.value)
            if added:
                self._add_paragraphs(key, entry)
        elif entry.signal_type == SignalType.VPDQ:
            added = self._videos.add(key, entry.value)
        if added:
            self._entries.append(entry)
            self._counts[str(entry.signal_type)] += 1
            self._key_of[entry.entry_id] = key
        else:
            self.skipped += 1
        return added

    def apply(self, upserts: Iterable[BankEntry] = (), removals: Iterable[int] = ()) -> None:
        """Change the index in place: take out the entries with these ids, then add (or replace) these.

        PDQ hashes and MD5s are really removed; URL, domain, text and vPDQ entries are hidden (their keys
        join a removed set that match() filters out), because UrlIndex, TextIndex and VideoIndex have no
        removal. A replaced entry gets a new key; the old one stays hidden. The hidden keys cost a few
        bytes each until the next full rebuild (MatchService rebuilds when the backlog is large)."""
        upserts = list(upserts)
        with self._lock:
            for entry_id in [*removals, *(e.entry_id for e in upserts)]:
                self._take_out(entry_id)
            pdq_keys: list[int] = []
            pdq_values: list[str] = []
            for entry in upserts:
                self._index(entry, pdq_keys, pdq_values)
            if pdq_values:
                self._pdq.add(pdq_keys, pdq_values)

    def _take_out(self, entry_id: int) -> None:
        key = self._key_of.pop(entry_id, None)
        if key is None:
            return
        entry = self._entries[key]
        self._removed.add(key)
        self._counts[str(entry.signal_type)] -= 1
        if entry.signal_type == SignalType.PDQ:
            self._pdq.remove([key])  # a malformed hash that was never indexed: nothing to remove
        if entry.signal_type == SignalType.MD5:
            value = entry.value.strip().lower()
            keys = [k for k in self._md5.get(value, ()) if k != key]
            if keys:
                self._md5[value] = keys
            else:
                self._md5.pop(value, None)

    def __contains__(self, entry_id: int) -> bool:
        return entry_id in self._key_of

    @property
    def hidden(self) -> int:
        """Entries taken out by apply() that still hold memory (a full rebuild frees them)."""
        return len(self._removed)

    def entry(self, entry_id: int) -> BankEntry:
        """The indexed entry with this bank entry id (KeyError if it is not in the index)."""
        return self._entries[self._key_of[entry_id]]

    def _add_paragraphs(self, key: int, entry: BankEntry) -> None:
        paragraphs = [p.strip() for p in _PARAGRAPH_BREAK.split(entry.original_text or "")]
        paragraphs = [p for p in paragraphs if sum(c.isalnum() for c in p) >= MIN_PARAGRAPH_LETTERS]
        if len(paragraphs) < 2:
            return
        for number, paragraph in enumerate(paragraphs, start=1):
            index_key = _PARAGRAPH_KEYS + len(self._paragraphs)
            if self._text.add(index_key, normalize(paragraph)):
                self._paragraphs[index_key] = (key, number, paragraph)

    @property
    def size(self) -> dict[str, int]:
        """Entries per signal type."""
        return {str(t): self._counts.get(str(t), 0) for t in SignalType}

    def match(self, signals: Iterable[Signal], *, matches_only: bool = False) -> list[Evidence]:
        """Evidence for every bank entry a signal matches, best first; one per (entry, origin).

        `matches_only`: search only as far as the banks' match thresholds, not the review reach (a match
        API answers matches; near matches for a human are the scan's business).
        """
        signals = list(signals)
        with self._lock:
            return self._match(signals, matches_only)

    def _match(self, signals: list[Signal], matches_only: bool = False) -> list[Evidence]:
        found: list[tuple[int, Evidence, _QueryKey]] = []
        pdq_reach = self._pdq_match_search if matches_only else self._pdq_search
        text_reach = self._text_match_search if matches_only else self._text_search
        pdq_signals = [s for s in signals if s.signal_type == SignalType.PDQ and _is_hex(s.value.lower(), 64)]
        pdq_hits = self._pdq.search_batch([s.value.lower() for s in pdq_signals], pdq_reach)
        for signal, hits in zip(pdq_signals, pdq_hits, strict=True):
            for key, distance in hits:
                found.append((key, self._pdq_evidence(self._entries[key], signal, distance), _query(signal)))
        for signal in signals:
            if signal.signal_type == SignalType.MD5:
                for key in self._md5.get(signal.value.strip().lower(), ()):
                    entry = self._entries[key]
                    detail = f"file is identical (MD5) to {self._name(entry)}"
                    found.append((key, self._evidence(entry, signal, detail), _query(signal)))
            elif signal.signal_type == SignalType.URL:
                for key, matched in self._urls.lookup_url(signal.value):
                    entry = self._entries[key]
                    if entry.signal_type == SignalType.DOMAIN:
                        detail = f"link {signal.value} is on domain {matched}, {self._name(entry)}"
                    else:
                        detail = f"link {signal.value} is {self._name(entry)}"
                    found.append((key, self._evidence(entry, signal, detail), _query(signal)))
            elif signal.signal_type == SignalType.DOMAIN:
                host = normalize_domain(signal.value)
                for key, matched in self._urls.lookup_host(host or ""):
                    entry = self._entries[key]
                    detail = f"domain {host} is within {matched}, {self._name(entry)}"
                    found.append((key, self._evidence(entry, signal, detail), _query(signal)))
            elif signal.signal_type == SignalType.VPDQ:
                for video in self._videos.query(signal.value):
                    entry = self._entries[video.key]
                    detail = (
                        f"video matches {self._name(entry)}: {video.query_percent:.0f}% of its frames are "
                        f"in the banked video, {video.compared_percent:.0f}% of the banked video's frames "
                        f"are in it (vPDQ, frames within PDQ distance 31)"
                    )
                    evidence = replace(
                        self._evidence(entry, signal, detail), similarity=round(video.query_percent / 100, 4)
                    )
                    found.append((video.key, evidence, _query(signal)))
            elif signal.signal_type == SignalType.TEXT:
                for hit in self._text.query(signal.value, text_reach):
                    if hit.key in self._paragraphs:
                        entry_key, paragraph, matched_text = self._paragraphs[hit.key]
                    else:
                        entry_key, paragraph, matched_text = hit.key, 0, entry_text(self._entries[hit.key])
                    entry = self._entries[entry_key]
                    what = f"paragraph {paragraph} of " if paragraph else ""
                    detail = (
                        f"text matches {what}{self._name(entry)}: containment {hit.containment:.2f} "
                        f"(share of the banked text found in this text), resemblance {hit.resemblance:.2f}"
                    )
                    evidence = Evidence(
                        kind=BANK_MATCH,
                        signal_type=str(SignalType.TEXT),
                        bank=entry.bank,
                        entry_id=entry.entry_id,
                        entry_label=entry.label,
                        similarity=round(hit.score, 4),
                        detail=detail,
                        matched_text=matched_text,
                        origin=signal.origin,
                    )
                    found.append((entry_key, evidence, _query(signal)))
        block: list[tuple[int, Evidence, _QueryKey]] = []
        allowed: dict[_QueryKey, Evidence] = {}
        for key, evidence, query in found:
            if key in self._removed:
                continue
            settings = self.banks.get(evidence.bank or "")
            if settings is not None and settings.is_allow_list:
                if self._within_allow(evidence, settings) and (
                    query not in allowed or _strength(evidence) > _strength(allowed[query])
                ):
                    allowed[query] = evidence
                continue
            graded = self._grade(evidence, settings)
            if graded is not None:
                block.append((key, graded, query))
        best: dict[tuple[int, str], Evidence] = {}
        for key, evidence, query in block:
            if query in allowed:
                evidence = _suppressed(evidence, allowed[query])
            slot = (key, evidence.origin or "")
            if slot not in best or _rank(evidence) > _rank(best[slot]):
                best[slot] = evidence
        return sorted(best.values(), key=lambda e: (*(-r for r in _rank(e)), e.bank or "", e.entry_id or 0))

    def _pdq_limit(self, settings: BankSettings | None) -> int:
        if settings is not None and settings.pdq_threshold is not None:
            return settings.pdq_threshold
        return self.match_pdq_threshold

    def _text_limit(self, settings: BankSettings | None) -> float:
        if settings is not None and settings.text_threshold is not None:
            return settings.text_threshold
        return self.match_text_threshold

    def _within_allow(self, evidence: Evidence, settings: BankSettings) -> bool:
        if evidence.signal_type == SignalType.VPDQ:  # the video index applied its own thresholds
            return True
        if evidence.distance is not None:
            return evidence.distance <= self._pdq_limit(settings)
        if evidence.similarity is not None:
            return evidence.similarity >= self._text_limit(settings)
        return True

    def _grade(self, evidence: Evidence, settings: BankSettings | None) -> Evidence | None:
        """A block-bank hit graded by its bank's own threshold; None when beyond the reach."""
        if evidence.signal_type == SignalType.VPDQ:  # graded by the video index's frame-match percentages
            return evidence
        if evidence.distance is not None:
            own = settings.pdq_threshold if settings is not None else None
            if own is None:
                return evidence if evidence.distance <= self.pdq_threshold else None
            if evidence.distance <= own:
                return replace(evidence, detail=f"{evidence.detail} (bank threshold {own})")
            if evidence.distance > self.pdq_threshold:
                return None
            span = max(1, self.pdq_threshold - own + 1)
            weight = max(0.2, 0.5 * (1.0 - (evidence.distance - own) / span))
            detail = f"{evidence.detail}; above its bank's match threshold {own}, worth a human look"
            return replace(evidence, kind=NEAR_MATCH, weight=round(weight, 4), detail=detail)
        if evidence.similarity is not None:
            own_text = settings.text_threshold if settings is not None else None
            if own_text is None:
                return evidence if evidence.similarity >= self.text_threshold else None
            if evidence.similarity >= own_text:
                return replace(evidence, detail=f"{evidence.detail} (bank threshold {own_text})")
            if evidence.similarity < self.text_threshold:
                return None
            detail = f"{evidence.detail}; below its bank's match threshold {own_text}, worth a human look"
            weight = round(min(0.5, evidence.similarity), 4)
            return replace(evidence, kind=NEAR_MATCH, weight=weight, detail=detail)
        return evidence

    @staticmethod
    def _name(entry: BankEntry) -> str:
        label = f"'{entry.label}'" if entry.label else f"entry {entry.entry_id}"
        return f"{label} in bank {entry.bank}"

    def _pdq_evidence(self, entry: BankEntry, signal: Signal, distance: int) -> Evidence:
        return Evidence(
            kind=BANK_MATCH,
            signal_type=str(SignalType.PDQ),
            bank=entry.bank,
            entry_id=entry.entry_id,
            entry_label=entry.label,
            distance=distance,
            detail=f"image matches {self._name(entry)} at distance {distance}",
            origin=signal.origin,
        )

    @staticmethod
    def _evidence(entry: BankEntry, signal: Signal, detail: str) -> Evidence:
        return Evidence(
            kind=BANK_MATCH,
            signal_type=str(entry.signal_type),
            bank=entry.bank,
            entry_id=entry.entry_id,
            entry_label=entry.label,
            detail=detail,
            origin=signal.origin,
        )


def entry_text(entry: BankEntry) -> str:
    return entry.original_text or entry.value


def _query(signal: Signal) -> _QueryKey:
    value = signal.value if signal.signal_type == SignalType.TEXT else signal.value.strip().lower()
    return (str(signal.signal_type), value, signal.origin)


def _rank(evidence: Evidence) -> tuple[int, float]:
    """Matches before near matches before suppressed ones; then by strength."""
    order = {BANK_MATCH: 2, NEAR_MATCH: 1}.get(evidence.kind, 0)
    return (order, _strength(evidence))


def _suppressed(evidence: Evidence, allow: Evidence) -> Evidence:
    """A block-bank hit the same signal's allow-list match overrides: kept for the reviewer, weight 0."""
    how = f" at distance {allow.distance}" if allow.distance is not None else ""
    if allow.similarity is not None:
        how = f" with similarity {allow.similarity:.2f}"
    allow_name = f"'{allow.entry_label}'" if allow.entry_label else f"entry {allow.entry_id}"
    detail = (
        f"suppressed by allow list: {evidence.kind.replace('_', ' ')} ({evidence.detail}) is not counted, "
        f"because the same signal matches {allow_name} in allow-list bank {allow.bank}{how}"
    )
    return replace(evidence, kind=ALLOW_LISTED, weight=0.0, detail=detail)
