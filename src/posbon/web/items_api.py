"""Assess a post at upload time, and look many signals up in one call (/api/v1/items, /api/v1/lookup/batch).

`POST /api/v1/items` takes one post (JSON, or multipart/form-data when it carries uploaded media), runs it
through `posbon.scan.assess_item` with the server's shared detectors (posbon.match.service), and answers the
verdict, risk and evidence. Media URLs are never fetched (only uploads are hashed): each given URL is
answered as a problem. With `enqueue_for_review` the item is stored (uploads kept under
DATA_DIR/uploads/ITEM_ID/) and the review queue synced. An `Idempotency-Key` header makes a retried request
answer the first answer again without doing anything twice (remembered in this process, last 10,000 keys).
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
import threading
from collections import OrderedDict
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.datastructures import UploadFile

from posbon.domain import Item, MediaKind, MediaRef, Problem, media_kind_for
from posbon.limits import LIMITS
from posbon.match.service import SignalError, parse_signal
from posbon.privacy import Pseudonymizer
from posbon.review import active_policy, sync_queue
from posbon.scan import MediaHasher, assess_item
from posbon.web.auth import AuthFirstRoute, Principal
from posbon.web.hma import MATCH, ServiceRole, match_service

SUBMIT = ServiceRole("reviewer", "matcher", "curator")
Submitter = Annotated[Principal, Depends(SUBMIT)]
MAX_BATCH = 1000
MAX_UPLOADS = 20
IDEMPOTENCY_KEYS = 10_000

router = APIRouter(prefix="/api/v1", tags=["match"], route_class=AuthFirstRoute, include_in_schema=False)


class ItemIn(BaseModel):
    external_id: str = Field(min_length=1, max_length=500, description="the post's id on the platform")
    source: str = Field("api", min_length=1, max_length=200, description="platform or channel name")
    text: str = Field("", max_length=LIMITS.text_chars)
    created_at: datetime | None = None
    author: str | None = Field(None, max_length=500, description="raw author id: pseudonymised before use")
    url: str | None = Field(None, max_length=4000)
    media_urls: list[str] = Field(default_factory=list, max_length=MAX_UPLOADS)
    enqueue_for_review: bool = False


class ItemVerdictOut(BaseModel):
    item_id: str
    verdict: str
    risk: float
    language: str
    evidence: list[dict[str, Any]]
    problems: list[str]
    stored: bool = Field(description="the item was stored (enqueue_for_review)")
    queued: bool = Field(description="it waits in the review queue now")


class SignalIn(BaseModel):
    signal_type: str = Field(max_length=40)
    signal: str = Field(max_length=LIMITS.text_chars)


class BatchIn(BaseModel):
    signals: list[SignalIn] = Field(max_length=MAX_BATCH)
    banks: list[str] | None = None


class MatchOut(BaseModel):
    bank_content_id: int
    distance: str


class SignalResultOut(BaseModel):
    signal_type: str
    matches: dict[str, list[MatchOut]] = Field(description="by bank, as HMA's /m/lookup")
    error: str | None = None


class BatchOut(BaseModel):
    results: list[SignalResultOut]


# ---- idempotency ---------------------------------------------------------------------------------------


class _Replays:
    """The first answer to each (caller, Idempotency-Key), kept in this process (LRU, bounded)."""

    def __init__(self, size: int = IDEMPOTENCY_KEYS) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._done: OrderedDict[tuple[str, str], tuple[str, dict[str, Any]]] = OrderedDict()
        self._running: set[tuple[str, str]] = set()

    def begin(self, key: tuple[str, str], fingerprint: str) -> JSONResponse | None:
        """A reply to give at once (replay or conflict), or None: go on, and call finish() or abort()."""
        with self._lock:
            done = self._done.get(key)
            if done is not None:
                self._done.move_to_end(key)
                if done[0] != fingerprint:
                    return JSONResponse(
                        {"detail": "Idempotency-Key was used for a different request"}, status_code=422
                    )
                return JSONResponse(done[1], headers={"Idempotent-Replayed": "true"})
            if key in self._running:
                return JSONResponse(
                    {"detail": "a request with this Idempotency-Key is still running: retry later"},
                    status_code=409,
                )
            self._running.add(key)
            return None

    def finish(self, key: tuple[str, str], fingerprint: str, body: dict[str, Any]) -> None:
        with self._lock:
            self._running.discard(key)
            self._done[key] = (fingerprint, body)
            while len(self._done) > self.size:
                self._done.popitem(last=False)

    def abort(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._running.discard(key)


_replays_lock = threading.Lock()


def _replays(request: Request) -> _Replays:
    state = request.app.state
    with _replays_lock:
        found: _Replays | None = getattr(state, "item_replays", None)
        if found is None:
            found = _Replays()
            state.item_replays = found
    return found


# ---- POST /api/v1/items ---------------------------------------------------------------------------------


async def _read_request(request: Request) -> tuple[dict[str, Any], list[tuple[str, bytes]]]:
    """The item's fields and its uploaded files (name, bytes), from JSON or multipart/form-data."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        form = await request.form()
        fields: dict[str, Any] = {}
        files: list[tuple[str, bytes]] = []
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                if len(files) >= MAX_UPLOADS:
                    raise _Refused(413, f"at most {MAX_UPLOADS} uploaded files per item")
                data = await value.read(LIMITS.image_bytes + 1)
                if len(data) > LIMITS.image_bytes:
                    raise _Refused(413, f"file {value.filename!r} is over {LIMITS.image_bytes:,} bytes")
                files.append((value.filename or f"upload{len(files) + 1}", data))
            elif name == "media_urls":
                fields.setdefault("media_urls", []).append(value)
            elif name != "csrf_token":
                fields[name] = value
        if fields.get("enqueue_for_review") in ("", "0", "false", "False", "off"):
            fields["enqueue_for_review"] = False
        return fields, files
    try:
        body = await request.json()
    except ValueError:
        raise _Refused(400, "send the item as JSON or multipart/form-data") from None
    if not isinstance(body, dict):
        raise _Refused(422, "the item must be a JSON object")
    return body, []


class _Refused(Exception):
    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(str(detail))
        self.status = status
        self.detail = detail


_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def _safe_name(name: str, n: int) -> str:
    base = _SAFE_NAME.sub("_", Path(name).name)[:80].lstrip(".")
    return base or f"upload{n}"


def _fingerprint(fields: dict[str, Any], files: list[tuple[str, bytes]]) -> str:
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode())
    for name, data in files:
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()


@router.post("/items", response_model=ItemVerdictOut)
async def submit_item(request: Request, principal: Submitter) -> Any:
    """Assess one post now: verdict, risk and evidence; optionally store it for review."""
    try:
        fields, files = await _read_request(request)
        item_in = ItemIn.model_validate(fields)
    except _Refused as exc:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status)
    except ValidationError as exc:
        errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        return JSONResponse({"detail": errors}, status_code=422)
    idem = request.headers.get("idempotency-key")
    key = (principal.name, idem[:200]) if idem else None
    fingerprint = _fingerprint(fields, files)
    replays = _replays(request)
    if key is not None:
        early = replays.begin(key, fingerprint)
        if early is not None:
            return early
    try:
        body = _assess(request, item_in, files)
    except BaseException:
        if key is not None:
            replays.abort(key)
        raise
    if key is not None:
        replays.finish(key, fingerprint, body)
    return JSONResponse(body)


def _assess(request: Request, item_in: ItemIn, files: list[tuple[str, bytes]]) -> dict[str, Any]:
    web = request.app.state.web
    settings, store = web.settings, web.store
    pseudonymize = Pseudonymizer(settings.pseudonym_key)
    item = Item(
        source=item_in.source,
        external_id=item_in.external_id,
        text=item_in.text,
        created_at=item_in.created_at,
        author=pseudonymize(item_in.author),
        url=item_in.url,
        origin=f"api:{item_in.source}/{item_in.external_id}",
    )
    keep = item_in.enqueue_for_review
    with tempfile.TemporaryDirectory(prefix="posbon-item-") as scratch:
        folder = settings.data_dir / "uploads" / item.item_id if keep else Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        for n, (name, data) in enumerate(files, start=1):
            safe = _safe_name(name, n)
            path = folder / f"{n:02d}-{safe}"
            path.write_bytes(data)
            kind = media_kind_for(safe)
            if kind is MediaKind.FILE and (data[:4] in (b"\x89PNG", b"GIF8") or data[:3] == b"\xff\xd8\xff"):
                kind = MediaKind.IMAGE  # a picture uploaded without its file name's suffix
            item.media.append(MediaRef(reference=safe, path=path, kind=kind))
        # a per-request hasher: the shared detectors' cache would grow with every upload's temporary path
        detectors = replace(match_service(request).snapshot().detectors, hasher=MediaHasher())
        scanned = assess_item(item, detectors)
    problems: list[Problem] = list(scanned.problems)
    for url in item_in.media_urls:
        problems.append(Problem(item.origin, None, f"media URL {url[:200]!r} not fetched: upload the file"))
    queued = False
    if keep:
        scan_id = store.start_scan([f"api:{item.source}"])
        store.save_items(scan_id, [scanned.to_row()])
        if problems:
            store.record_problems(scan_id, problems)
        store.finish_scan(scan_id, "finished", 1, 1, len(problems))
        sync_queue(store, active_policy(store))
        queued = _in_queue(store, item.item_id)
    assessment = scanned.assessment
    return ItemVerdictOut(
        item_id=item.item_id,
        verdict=str(assessment.verdict),
        risk=assessment.risk,
        language=scanned.facts.language.code,
        evidence=[e.to_dict() for e in assessment.evidence],
        problems=[str(p) for p in problems],
        stored=keep,
        queued=queued,
    ).model_dump(mode="json")


def _in_queue(store: Any, item_id: str) -> bool:
    from sqlalchemy import select

    from posbon.store.review_models import QueueEntryRow

    with store.session() as s:
        return s.scalar(select(QueueEntryRow.item_id).where(QueueEntryRow.item_id == item_id)) is not None


# ---- POST /api/v1/lookup/batch --------------------------------------------------------------------------


@router.post("/lookup/batch", response_model=BatchOut, dependencies=[Depends(MATCH)])
def lookup_batch(request: Request, body: BatchIn) -> BatchOut:
    """Up to 1,000 signals in one call; one result per signal, in order. A bad signal gets its `error`."""
    parsed: list[Any] = []
    for s in body.signals:
        try:
            parsed.append(parse_signal(s.signal_type, s.signal))
        except SignalError as exc:
            parsed.append(str(exc))
    good = [p for p in parsed if not isinstance(p, str)]
    found = iter(match_service(request).lookup(good, body.banks))
    results: list[SignalResultOut] = []
    for s, p in zip(body.signals, parsed, strict=True):
        if isinstance(p, str):
            results.append(SignalResultOut(signal_type=s.signal_type, matches={}, error=p))
            continue
        by_bank: dict[str, list[MatchOut]] = {}
        for m in next(found):
            by_bank.setdefault(m.bank, []).append(MatchOut(bank_content_id=m.entry_id, distance=m.distance))
        results.append(SignalResultOut(signal_type=s.signal_type, matches=by_bank))
    return BatchOut(results=results)
