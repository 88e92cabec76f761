"""Backfill: the scan's stage functions mapped over partitions of the input on an engine (e.g. Dask).

The driver (this process) reads the input, drops duplicate post ids, cuts the items into partitions of
PARTITION_SIZE and hands each partition, with the settings that rebuild the detectors, to the engine. A
worker builds the detectors once per process (cached by database URL and bank fingerprint), runs
`assess_item` on every item and returns the scanned items. Only the driver writes to the store, with the
idempotent `save_items` upsert, as partitions come back: SQLite never sees concurrent writers, and a
backfill killed half-way keeps what it committed and can simply be run again.

Workers need what `posbon scan` needs: the database (read-only, to load the banks), the data dir (trained
classifier, banked logos) and the media files at the paths the driver read, on a shared filesystem when
the workers run on other machines. A worker that sees different banks from the driver fails the backfill
rather than return different verdicts.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from posbon.assess.classifier import latest_dir
from posbon.domain import Item, Problem
from posbon.engines import Engine
from posbon.media.reading import MediaReader, MediaText
from posbon.privacy import Pseudonymizer
from posbon.scan import (
    CHUNK_SIZE,
    Detectors,
    MediaHasher,
    ScannedItem,
    ScanSummary,
    after_scan,
    assess_item,
    build_detectors,
    read_inputs,
)
from posbon.settings import Settings
from posbon.store import Store

PARTITION_SIZE = 500  # items shipped to a worker at a time (and committed in one transaction)


class BackfillError(Exception):
    """A backfill cannot give the same results as a scan here (one line for the user)."""


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker needs to rebuild the driver's detectors. Never carries the pseudonym key."""

    settings: Settings
    fingerprint: str  # of the banks and models the driver scans with (bank_fingerprint)
    ocr: bool = False
    rotations: bool = False


@dataclass(frozen=True)
class Partition:
    index: int
    items: list[Item]
    spec: WorkerSpec


@dataclass
class PartitionResult:
    index: int
    scanned: list[ScannedItem]
    problems: list[Problem] = field(default_factory=list)  # OCR problems of the partition's media
    ocr_note: str | None = None  # why OCR could not run on that worker, when it was asked for


def bank_fingerprint(store: Store, settings: Settings) -> str:
    """A digest of everything the detectors are built from: bank entries and controls, thresholds, models."""
    digest = hashlib.sha256()
    for entry in sorted(store.bank_entries(), key=lambda e: e.entry_id):
        digest.update(repr((entry.entry_id, entry.bank, str(entry.signal_type), entry.value)).encode())
        digest.update(repr((entry.label, entry.original_text)).encode())
    for name, bank in sorted(store.bank_settings().items()):
        digest.update(repr((name, bank.kind, bank.pdq_threshold, bank.text_threshold)).encode())
    digest.update(repr((settings.pdq_threshold, settings.text_threshold)).encode())
    model = latest_dir(settings.data_dir, None)
    digest.update(f"model:{model.name if model is not None else ''}".encode())
    logo_dir = settings.data_dir / "logos"
    logos = sorted(p.name for p in logo_dir.iterdir()) if logo_dir.is_dir() else []
    digest.update(repr(logos).encode())
    return digest.hexdigest()


# -- worker side: one set of detectors per process, one OCR reader per thread

_DETECTORS: dict[tuple[str, str, bool], Detectors] = {}
_DETECTORS_LOCK = threading.Lock()
_THREAD = threading.local()


def _open_worker_store(url: str) -> Store:
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.is_file():  # Store.open would create an empty database: no banks, every item clear
            raise BackfillError(
                f"worker cannot see the database {path}: share the data dir or use PostgreSQL"
            )
    return Store.open(url)


def worker_detectors(spec: WorkerSpec) -> Detectors:
    """The detectors for `spec`, built on first use in this process and reused by every later partition."""
    key = (spec.settings.database_url, spec.fingerprint, spec.rotations)
    with _DETECTORS_LOCK:
        found = _DETECTORS.get(key)
        if found is not None:
            return found
        store = _open_worker_store(spec.settings.database_url)
        try:
            seen = bank_fingerprint(store, spec.settings)
            if seen != spec.fingerprint:
                raise BackfillError(
                    "a worker sees different banks or models from the driver (banks changed during the "
                    "backfill, or the worker reads another database or data dir): run it again"
                )
            detectors = build_detectors(store, spec.settings)
        finally:
            store.close()
        detectors.hasher = MediaHasher(rotations=spec.rotations)
        _DETECTORS.clear()  # a long-lived worker keeps only the banks of the backfill it serves now
        _DETECTORS[key] = detectors
        return detectors


def _thread_reader() -> tuple[MediaReader | None, str | None]:
    """This thread's OCR reader. In-process (the engine's workers are the parallelism) and uncached, since
    several worker processes sharing one SQLite cache file would write to it concurrently."""
    if not hasattr(_THREAD, "reader"):
        from posbon.limits import LIMITS
        from posbon.media.ocr import OcrEngine, OcrUnavailable, ocr_available

        why = ocr_available()
        reader: MediaReader | None = None
        if why is None:
            try:
                reader = MediaReader(OcrEngine(cache_dir=None, max_pixels=LIMITS.image_pixels, workers=1))
            except OcrUnavailable as exc:
                why = str(exc)
        _THREAD.reader, _THREAD.why = reader, why
    reader_: MediaReader | None = _THREAD.reader
    why_: str | None = _THREAD.why
    return reader_, why_


def assess_partition(partition: Partition) -> PartitionResult:
    """The stage function a worker runs: every item of the partition through `assess_item`."""
    detectors = worker_detectors(partition.spec)
    result = PartitionResult(index=partition.index, scanned=[])
    reader: MediaReader | None = None
    if partition.spec.ocr:
        reader, result.ocr_note = _thread_reader()
    items = partition.items
    for start in range(0, len(items), CHUNK_SIZE):
        chunk = items[start : start + CHUNK_SIZE]
        media_texts: dict[str, list[MediaText]] = {}
        if reader is not None and any(i.media for i in chunk):
            media_texts, ocr_problems = reader.read(chunk)
            result.problems.extend(ocr_problems)
        for item in chunk:
            result.scanned.append(assess_item(item, detectors, media_texts.get(item.item_id, ())))
    return result


# -- driver side


def run_backfill(
    store: Store,
    settings: Settings,
    paths: Sequence[Path],
    engine: Engine,
    *,
    fmt: str | None = None,
    on_item: Callable[[ScannedItem], None] | None = None,
    on_problem: Callable[[Problem], None] | None = None,
    items: Iterable[Item | Problem] | None = None,
    ocr: bool = True,
    rotations: bool = False,
    partition_size: int = PARTITION_SIZE,
) -> ScanSummary:
    """Scan inputs on `engine`, committing each partition as it comes back: the same results as run_scan."""
    started = time.perf_counter()
    spec = WorkerSpec(
        settings=replace(settings, pseudonym_key=b""),  # items arrive pseudonymised: the key stays here
        fingerprint=bank_fingerprint(store, settings),
        ocr=ocr,
        rotations=rotations,
    )
    scan_id = store.start_scan([str(p) for p in paths])
    summary = ScanSummary(scan_id=scan_id)
    pending_problems: list[Problem] = []
    ocr_notes: set[str] = set()

    def report(problem: Problem) -> None:
        summary.problems.append(problem)
        pending_problems.append(problem)
        if on_problem:
            on_problem(problem)

    def partitions() -> Iterator[Partition]:
        source = (
            items if items is not None else read_inputs(paths, fmt, Pseudonymizer(settings.pseudonym_key))
        )
        seen_in_scan: set[str] = set()
        chunk: list[Item] = []
        index = 0
        for entry in source:
            if isinstance(entry, Problem):
                report(entry)
                continue
            if entry.item_id in seen_in_scan:
                report(
                    Problem(entry.origin or entry.source, None, f"duplicate post id {entry.external_id!r}")
                )
                continue
            seen_in_scan.add(entry.item_id)
            summary.item_ids.append(entry.item_id)  # input order, whatever order partitions finish in
            chunk.append(entry)
            if len(chunk) >= partition_size:
                yield Partition(index, chunk, spec)
                chunk, index = [], index + 1
        if chunk:
            yield Partition(index, chunk, spec)

    status = "failed"
    try:
        for result in engine.map_partitions(assess_partition, partitions()):
            if result.ocr_note and result.ocr_note not in ocr_notes:
                ocr_notes.add(result.ocr_note)
                report(Problem("ocr", None, result.ocr_note, note=True))
            for problem in result.problems:
                report(problem)
            rows = []
            for scanned in result.scanned:
                for problem in scanned.problems:
                    report(problem)
                rows.append(scanned.to_row(settings.store_content))
                verdict = str(scanned.assessment.verdict)
                summary.verdicts[verdict] = summary.verdicts.get(verdict, 0) + 1
            if rows:
                summary.items_new += store.save_items(scan_id, rows)
                summary.items_seen += len(rows)
            if pending_problems:
                store.record_problems(scan_id, pending_problems)
                pending_problems.clear()
            if on_item:
                for scanned in result.scanned:
                    on_item(scanned)
        if pending_problems:  # problems of the input after the last partition (e.g. a bad last line)
            store.record_problems(scan_id, pending_problems)
            pending_problems.clear()
        after_scan(store, summary.item_ids)
        status = "finished"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        summary.seconds = time.perf_counter() - started
        store.finish_scan(scan_id, status, summary.items_seen, summary.items_new, len(summary.problems))
    return summary


__all__ = [
    "PARTITION_SIZE",
    "BackfillError",
    "Partition",
    "PartitionResult",
    "WorkerSpec",
    "assess_partition",
    "bank_fingerprint",
    "run_backfill",
    "worker_detectors",
]
