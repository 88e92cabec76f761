"""The scan service: ingest -> text -> signals -> match -> assess -> store, one item at a time.

`assess_item` is a pure stage function (an Item in, a ScannedItem out, no hidden global state), so the same
function can run in one process, in a worker, or on a distributed engine. `run_scan` drives it over files
and commits to the store in small batches: a scan killed half-way keeps what it committed, and a rerun
stores nothing twice because items are keyed by (source, external id).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from posbon.assess import AssessPolicy, assess
from posbon.assess.classifier import TextClassifier, load_latest
from posbon.assess.context import REPORTING, ContextModel, default_context_model
from posbon.assess.indicator_packs import IndicatorMatcher, default_matcher
from posbon.assess.indicators import link_indicators
from posbon.domain import (
    Assessment,
    BankEntry,
    Evidence,
    Item,
    MediaKind,
    MediaRef,
    Problem,
    Signal,
    SignalType,
    TextFacts,
)
from posbon.ingest import IngestError, read_source
from posbon.match.matcher import Matcher
from posbon.media.logos import LogoIndex
from posbon.media.reading import MediaReader, MediaText
from posbon.privacy import Pseudonymizer
from posbon.review import active_policy, sync_queue
from posbon.rules import apply_rules
from posbon.settings import Settings
from posbon.signals.media import MediaError, media_signals
from posbon.signals.text import text_signal
from posbon.signals.urls import url_signals
from posbon.store import Store
from posbon.text import analyze

BATCH_SIZE = 200  # items per transaction
CHUNK_SIZE = 32  # items whose media are read (OCR) together, in parallel
BATCH_SECONDS = 2.0  # ... or at least this often, so a slow scan still commits as it goes


@dataclass
class ScannedItem:
    item: Item
    facts: TextFacts
    assessment: Assessment
    problems: list[Problem] = field(default_factory=list)

    def to_row(self, store_content: str | None = None) -> dict[str, Any]:
        """The item as the store keeps it: content, pseudonymous author, assessment. No engagement lists.

        `store_content` "minimal" keeps signals and decisions only (posbon.platform.minimal); None reads
        POSBON_STORE_CONTENT.
        """
        item, facts = self.item, self.facts
        row = {
            "item_id": item.item_id,
            "source": item.source,
            "external_id": item.external_id,
            "text": item.text,
            "created_at": item.created_at,
            "author": item.author,
            "url": item.url,
            "media": [_media_dict(m) for m in item.media],
            "links": {
                "urls": list(facts.links.urls),
                "telegram_links": list(facts.links.telegram_links),
                "invite_links": list(facts.links.invite_links),
                "handles": list(facts.links.handles),
                "hashtags": list(facts.links.hashtags),
            },
            "language": facts.language.code,
            "language_confidence": round(facts.language.confidence, 4),
            "verdict": str(self.assessment.verdict),
            "risk": self.assessment.risk,
            "evidence": [e.to_dict() for e in self.assessment.evidence],
        }
        from posbon.settings import store_content_mode

        if (store_content or store_content_mode()) == "minimal":
            from posbon.platform.minimal import minimal_row

            return minimal_row(row)
        return row


def _media_dict(m: MediaRef) -> dict[str, Any]:
    return {"reference": m.reference, "path": str(m.path) if m.path else None, "kind": str(m.kind)}


class MediaHasher:
    """Hashes media once per file: the same image in a thousand posts is read once per scan."""

    def __init__(self, *, rotations: bool = False) -> None:
        self.rotations = rotations  # also hash the 7 rotated and mirrored copies of each image
        self._cache: dict[tuple[str, int, int], list[Signal] | MediaError] = {}

    def signals(self, ref: MediaRef) -> list[Signal]:
        assert ref.path is not None
        stat = ref.path.stat()
        key = (str(ref.path), stat.st_size, stat.st_mtime_ns)
        cached = self._cache.get(key)
        if cached is None:
            try:
                cached = media_signals(ref.path, ref.kind, rotations=self.rotations)
            except MediaError as exc:
                cached = exc
            self._cache[key] = cached
        if isinstance(cached, MediaError):
            raise cached
        # a signal of a transformed copy (unletterboxed, rotated) says which: "photo.jpg#rot90"
        return [
            Signal(
                s.signal_type,
                s.value,
                s.quality,
                origin=f"{ref.reference}#{s.origin}" if s.origin else ref.reference,
            )
            for s in cached
        ]


@dataclass
class Detectors:
    """Everything an item is checked with, built once per scan (or per worker) and passed explicitly."""

    matcher: Matcher
    policy: AssessPolicy
    indicators: IndicatorMatcher = field(default_factory=default_matcher)
    context: ContextModel = field(default_factory=default_context_model)
    hasher: MediaHasher = field(default_factory=lambda: MediaHasher())
    classifier: TextClassifier | None = None  # trained with `posbon train`; posbon ships none
    logos: BrandingMarks | None = None  # banked logos and watermarks, when any bank holds one


LOGO_WEIGHT = 0.9  # an official outlet's branding mark: known content, strong but not certain


@dataclass
class BrandingMarks:
    """Banked logos, found anywhere in an image (local features with a geometric check)."""

    index: LogoIndex
    entries: dict[str, BankEntry]

    @classmethod
    def from_entries(cls, entries: Sequence[BankEntry], logo_dir: Path) -> BrandingMarks | None:
        index = LogoIndex()
        known: dict[str, BankEntry] = {}
        for entry in entries:
            if entry.signal_type != SignalType.LOGO:
                continue
            stored = next(iter(sorted(logo_dir.glob(f"{entry.value}.*"))), None)
            if stored is None:
                continue  # the image was removed from the data dir: nothing to look for
            try:
                index.add(str(entry.entry_id), stored)
            except (OSError, ValueError):
                continue
            known[str(entry.entry_id)] = entry
        return cls(index, known) if known else None

    def evidence(self, ref: MediaRef) -> list[Evidence]:
        assert ref.path is not None
        found = []
        for hit in self.index.find(ref.path):
            entry = self.entries[hit.logo_id]
            label = f"'{entry.label}'" if entry.label else f"entry {entry.entry_id}"
            found.append(
                Evidence(
                    kind="bank_match",
                    signal_type=str(SignalType.LOGO),
                    bank=entry.bank,
                    entry_id=entry.entry_id,
                    entry_label=entry.label,
                    similarity=round(hit.score, 4),
                    detail=f"branding mark {label} of bank {entry.bank} found in {ref.reference} "
                    f"({hit.inliers} matching features, geometry checked)",
                    origin=ref.reference,
                    box=hit.box,
                    weight=LOGO_WEIGHT,
                )
            )
        return found


def _media_text_evidence(evidence: Evidence, media_texts: dict[str, MediaText]) -> Evidence:
    """Evidence found in text read from media says where: which image or keyframe, the box, confidence."""
    found = media_texts.get(evidence.origin or "")
    if found is None:
        return evidence
    return replace(
        evidence,
        detail=f"{found.where} {found.reference}: {evidence.detail}",
        box=evidence.box or found.box,
        confidence=found.confidence,
        matched_text=evidence.matched_text if evidence.kind != "context" else None,
    )


def assess_item(item: Item, detectors: Detectors, media_texts: Sequence[MediaText] = ()) -> ScannedItem:
    """One item through text (its own and what OCR read in its media), signals, match, indicators, assess."""
    hasher = detectors.hasher
    problems: list[Problem] = []
    facts = analyze(item.text)
    by_origin = {f"{mt.where} {mt.reference}": mt for mt in media_texts}
    logo_evidence: list[Evidence] = []
    signals: list[Signal] = []
    ts = text_signal(facts.normalized)
    if ts is not None:
        signals.append(Signal(ts.signal_type, ts.value, ts.quality, origin="text"))
    signals.extend(url_signals(facts.links))
    for ref in item.media:
        if ref.path is None:
            continue
        try:
            signals.extend(hasher.signals(ref))
            if detectors.logos is not None and ref.kind is MediaKind.IMAGE:
                logo_evidence.extend(detectors.logos.evidence(ref))
        except (MediaError, OSError, ValueError) as exc:
            problems.append(Problem(item.origin or item.source, None, f"media {ref.reference!r}: {exc}"))
            continue
        # vPDQ decodes the whole video: only when some bank holds a video by vPDQ; without the vpdq
        # package (docs/video.md) videos are matched by MD5 alone, without a problem per post
        if ref.kind is MediaKind.VIDEO and detectors.matcher.size.get(str(SignalType.VPDQ)):
            from posbon.signals.video import VideoHashUnavailable, cached_video_signals

            try:
                video = cached_video_signals(ref.path)
            except VideoHashUnavailable:
                video = []
            except (MediaError, OSError) as exc:
                problems.append(Problem(item.origin or item.source, None, f"media {ref.reference!r}: {exc}"))
                video = []
            signals.extend(Signal(s.signal_type, s.value, s.quality, origin=ref.reference) for s in video)
    media_facts = []
    for origin, mt in by_origin.items():
        mt_facts = analyze(mt.text)
        media_facts.append((origin, mt, mt_facts))
        mts = text_signal(mt_facts.normalized)
        if mts is not None:
            signals.append(Signal(mts.signal_type, mts.value, origin=origin))
        signals.extend(Signal(s.signal_type, s.value, origin=origin) for s in url_signals(mt_facts.links))
    evidence = detectors.matcher.match(signals)
    evidence.extend(logo_evidence)
    hits = detectors.indicators.find(item.text)
    context = detectors.context.assess(item.text, hits, invite_links=len(facts.links.invite_links))
    evidence.extend(detectors.context.evidence(hits, context))
    evidence.extend(link_indicators(facts.links, item.text, reporting=context.kind == REPORTING))
    if detectors.classifier is not None and item.text.strip():
        scored = detectors.classifier.evidence(item.text)
        if scored is not None:
            evidence.append(scored)
    for origin, mt, mt_facts in media_facts:
        mt_hits = detectors.indicators.find(mt.text)
        invites = len(mt_facts.links.invite_links) + len(facts.links.invite_links)
        mt_context = detectors.context.assess(mt.text, mt_hits, invite_links=invites)
        found = detectors.context.evidence(mt_hits, mt_context)
        found += link_indicators(mt_facts.links, mt.text, reporting=mt_context.kind == REPORTING)
        evidence.extend(replace(e, origin=origin) for e in found if e.kind != "context" or e.weight > 0)
    evidence = [_media_text_evidence(e, by_origin) for e in evidence]
    if not any(c.isalpha() for c in item.text) and media_facts:
        facts = replace(facts, language=media_facts[0][2].language)
    assessment = assess(evidence, detectors.policy)
    return ScannedItem(item=item, facts=facts, assessment=assessment, problems=problems)


@dataclass
class ScanSummary:
    scan_id: int
    items_seen: int = 0
    items_new: int = 0
    problems: list[Problem] = field(default_factory=list)
    verdicts: dict[str, int] = field(default_factory=dict)
    item_ids: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def skipped(self) -> int:
        """Problems that lost input (notes excluded): non-zero makes the exit status 1."""
        return sum(1 for p in self.problems if not p.note)


def build_detectors(store: Store, settings: Settings) -> Detectors:
    """The matcher over every enabled bank entry, and the policy that grades its hits.

    The matcher searches with the loose (review) thresholds and grades each hit against its bank's own
    match threshold (or the global one); the assessor applies the same per-bank thresholds.
    """
    banks = store.bank_settings()
    policy = AssessPolicy(
        pdq_match=settings.pdq_threshold,
        text_match=settings.text_threshold,
        bank_pdq_match={b.name: b.pdq_threshold for b in banks.values() if b.pdq_threshold is not None},
        bank_text_match={b.name: b.text_threshold for b in banks.values() if b.text_threshold is not None},
    )
    pdq_reach = max([policy.pdq_review, *policy.bank_pdq_match.values()])
    text_reach = min([policy.text_review, *policy.bank_text_match.values()])
    entries = store.bank_entries()
    matcher = Matcher(
        entries,
        pdq_threshold=pdq_reach,
        text_threshold=text_reach,
        banks=banks,
        match_pdq_threshold=policy.pdq_match,
        match_text_threshold=policy.text_match,
    )
    return Detectors(
        matcher=matcher,
        policy=policy,
        classifier=load_latest(settings.data_dir),
        logos=BrandingMarks.from_entries(entries, settings.data_dir / "logos"),
    )


def after_scan(store: Store, item_ids: Sequence[str]) -> None:
    """What follows storing a scan's items, whichever engine scanned them."""
    from posbon.platform.notices import link_open_notices

    policy = active_policy(store)
    # flagged items wait for a human in the review queue, prioritised under the active policy
    sync_queue(store, policy)
    # notices about URLs posbon did not hold yet find the items that have arrived
    link_open_notices(store, policy)
    # enforcement and routing rules in force (shadow: logged only; live: act) see the scanned items
    apply_rules(store, item_ids)


def read_inputs(
    paths: Sequence[Path], fmt: str | None, pseudonymize: Callable[[str | None], str | None]
) -> Iterator[Item | Problem]:
    """Every item of every path; a path that cannot be read at all becomes one Problem, the rest go on."""
    for path in paths:
        try:
            yield from read_source(path, fmt, pseudonymize)
        except IngestError as exc:
            message = str(exc)
            if message.startswith(str(path)):  # most messages name the path first: say it once
                message = message[len(str(path)) :].lstrip(": ")
            yield Problem(str(path), None, message)


def run_scan(
    store: Store,
    settings: Settings,
    paths: Sequence[Path],
    *,
    fmt: str | None = None,
    on_item: Callable[[ScannedItem], None] | None = None,
    on_problem: Callable[[Problem], None] | None = None,
    items: Iterable[Item | Problem] | None = None,
    ocr: bool = True,
    rotations: bool = False,
) -> ScanSummary:
    """Scan inputs into the store, committing every BATCH_SIZE items or BATCH_SECONDS."""
    started = time.perf_counter()
    detectors = build_detectors(store, settings)
    detectors.hasher = MediaHasher(rotations=rotations)
    scan_id = store.start_scan([str(p) for p in paths])
    summary = ScanSummary(scan_id=scan_id)
    reader: MediaReader | None = None
    if ocr:
        reader, why_not = MediaReader.open(settings.data_dir / "ocr-cache")
        if why_not:
            problem = Problem("ocr", None, why_not, note=True)
            summary.problems.append(problem)
            if on_problem:
                on_problem(problem)
    source = items if items is not None else read_inputs(paths, fmt, Pseudonymizer(settings.pseudonym_key))
    batch: list[dict[str, Any]] = []
    pending_problems: list[Problem] = []
    last_commit = time.monotonic()
    seen_in_scan: set[str] = set()

    def report(problem: Problem) -> None:
        summary.problems.append(problem)
        pending_problems.append(problem)
        if on_problem:
            on_problem(problem)

    def flush() -> None:
        nonlocal last_commit
        if batch:
            summary.items_new += store.save_items(scan_id, batch)
            batch.clear()
        if pending_problems:
            store.record_problems(scan_id, pending_problems)
            pending_problems.clear()
        last_commit = time.monotonic()

    chunk: list[Item] = []

    def process_chunk() -> None:
        media_texts: dict[str, list[MediaText]] = {}
        if reader is not None and any(i.media for i in chunk):
            media_texts, ocr_problems = reader.read(chunk)
            for problem in ocr_problems:
                report(problem)
        for item in chunk:
            scanned = assess_item(item, detectors, media_texts.get(item.item_id, ()))
            for problem in scanned.problems:
                report(problem)
            batch.append(scanned.to_row(settings.store_content))
            summary.items_seen += 1
            summary.item_ids.append(item.item_id)
            verdict = str(scanned.assessment.verdict)
            summary.verdicts[verdict] = summary.verdicts.get(verdict, 0) + 1
            if on_item:
                on_item(scanned)
        chunk.clear()
        if len(batch) >= BATCH_SIZE or time.monotonic() - last_commit >= BATCH_SECONDS:
            flush()

    status = "failed"
    try:
        for entry in source:
            if isinstance(entry, Problem):
                report(entry)
                continue
            item_id = entry.item_id
            if item_id in seen_in_scan:
                # the same (source, id) twice in one input: keep the first, say so
                report(
                    Problem(entry.origin or entry.source, None, f"duplicate post id {entry.external_id!r}")
                )
                continue
            seen_in_scan.add(item_id)
            chunk.append(entry)
            if len(chunk) >= CHUNK_SIZE:  # OCR reads a chunk's images in parallel
                process_chunk()
        process_chunk()
        flush()
        after_scan(store, summary.item_ids)
        status = "finished"
    except KeyboardInterrupt:
        status = "interrupted"
        flush()
        raise
    finally:
        if reader is not None:
            reader.close()
        summary.seconds = time.perf_counter() - started
        store.finish_scan(scan_id, status, summary.items_seen, summary.items_new, len(summary.problems))
    return summary
