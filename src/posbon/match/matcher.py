"""Look signals up in banks and explain every match as Evidence."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable

from posbon.domain import BankEntry, Evidence, Signal, SignalType
from posbon.match.pdq import DEFAULT_THRESHOLD, PdqIndex
from posbon.match.text_index import TextIndex
from posbon.match.url_index import UrlIndex
from posbon.signals.urls import normalize_domain
from posbon.text.normalize import normalize

_HEX = frozenset("0123456789abcdef")
# A banked text's paragraphs are indexed on their own too, so that a post quoting one paragraph of a long
# statement matches it (containment of the whole statement would be only that paragraph's share).
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
MIN_PARAGRAPH_LETTERS = 80
_PARAGRAPH_KEYS = 1 << 40  # text-index keys at or above this stand for a paragraph of an entry


def _is_hex(value: str, length: int) -> bool:
    return len(value) == length and set(value) <= _HEX


def _strength(evidence: Evidence) -> float:
    """Order of evidence, best first: exact hashes and URLs, then PDQ by distance, domains, text by score."""
    if evidence.signal_type == SignalType.PDQ and evidence.distance is not None:
        return 1.0 - evidence.distance / 256
    if evidence.signal_type == SignalType.TEXT and evidence.similarity is not None:
        return evidence.similarity
    if evidence.signal_type == SignalType.DOMAIN:
        return 0.9
    return 1.0


class Matcher:
    """All banks' entries in memory: PDQ (numpy range search), MD5 and URL/domain (dicts), text (LSH).

    Entries whose value is malformed (e.g. a PDQ hash that is not 64 hex characters) are skipped and
    counted in `skipped`; the bank readers refuse them before they get this far.
    """

    def __init__(
        self,
        entries: Iterable[BankEntry],
        *,
        pdq_threshold: int = DEFAULT_THRESHOLD,
        text_threshold: float = 0.6,
    ) -> None:
        self.pdq_threshold = pdq_threshold
        self.text_threshold = text_threshold
        self._entries: list[BankEntry] = []
        self._pdq_keys: list[int] = []
        pdq_values: list[str] = []
        self._md5: dict[str, list[int]] = defaultdict(list)
        self._urls = UrlIndex()
        self._text = TextIndex()
        self._paragraphs: dict[int, tuple[int, int, str]] = {}  # index key -> (entry key, number, text)
        self.skipped = 0
        self._counts: Counter[str] = Counter()
        for entry in entries:
            key = len(self._entries)
            value = entry.value.strip().lower() if entry.signal_type != SignalType.TEXT else entry.value
            added = False
            if entry.signal_type == SignalType.PDQ and _is_hex(value, 64):
                self._pdq_keys.append(key)
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
            if added:
                self._entries.append(entry)
                self._counts[str(entry.signal_type)] += 1
            else:
                self.skipped += 1
        self._pdq = PdqIndex(pdq_values)

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

    def match(self, signals: Iterable[Signal]) -> list[Evidence]:
        """Evidence for every bank entry a signal matches, best first; one per (entry, origin)."""
        signals = list(signals)
        found: list[tuple[int, Evidence]] = []
        pdq_signals = [s for s in signals if s.signal_type == SignalType.PDQ and _is_hex(s.value.lower(), 64)]
        pdq_hits = self._pdq.search_batch([s.value.lower() for s in pdq_signals], self.pdq_threshold)
        for signal, hits in zip(pdq_signals, pdq_hits, strict=True):
            for position, distance in hits:
                key = self._pdq_keys[position]
                found.append((key, self._pdq_evidence(self._entries[key], signal, distance)))
        for signal in signals:
            if signal.signal_type == SignalType.MD5:
                for key in self._md5.get(signal.value.strip().lower(), ()):
                    entry = self._entries[key]
                    detail = f"file is identical (MD5) to {self._name(entry)}"
                    found.append((key, self._evidence(entry, signal, detail)))
            elif signal.signal_type == SignalType.URL:
                for key, matched in self._urls.lookup_url(signal.value):
                    entry = self._entries[key]
                    if entry.signal_type == SignalType.DOMAIN:
                        detail = f"link {signal.value} is on domain {matched}, {self._name(entry)}"
                    else:
                        detail = f"link {signal.value} is {self._name(entry)}"
                    found.append((key, self._evidence(entry, signal, detail)))
            elif signal.signal_type == SignalType.DOMAIN:
                host = normalize_domain(signal.value)
                for key, matched in self._urls.lookup_host(host or ""):
                    entry = self._entries[key]
                    detail = f"domain {host} is within {matched}, {self._name(entry)}"
                    found.append((key, self._evidence(entry, signal, detail)))
            elif signal.signal_type == SignalType.TEXT:
                for hit in self._text.query(signal.value, self.text_threshold):
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
                        kind="bank_match",
                        signal_type=str(SignalType.TEXT),
                        bank=entry.bank,
                        entry_id=entry.entry_id,
                        entry_label=entry.label,
                        similarity=round(hit.score, 4),
                        detail=detail,
                        matched_text=matched_text,
                        origin=signal.origin,
                    )
                    found.append((entry_key, evidence))
        best: dict[tuple[int, str], Evidence] = {}
        for key, evidence in found:
            slot = (key, evidence.origin or "")
            if slot not in best or _strength(evidence) > _strength(best[slot]):
                best[slot] = evidence
        return sorted(best.values(), key=lambda e: (-_strength(e), e.bank or "", e.entry_id or 0))

    @staticmethod
    def _name(entry: BankEntry) -> str:
        label = f"'{entry.label}'" if entry.label else f"entry {entry.entry_id}"
        return f"{label} in bank {entry.bank}"

    def _pdq_evidence(self, entry: BankEntry, signal: Signal, distance: int) -> Evidence:
        return Evidence(
            kind="bank_match",
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
            kind="bank_match",
            signal_type=str(entry.signal_type),
            bank=entry.bank,
            entry_id=entry.entry_id,
            entry_label=entry.label,
            detail=detail,
            origin=signal.origin,
        )


def entry_text(entry: BankEntry) -> str:
    return entry.original_text or entry.value
