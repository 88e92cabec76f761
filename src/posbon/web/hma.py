"""HMA-compatible match API: the routes of Meta's Hasher-Matcher-Actioner 2.x, under /api/hma.

An HMA client switches to posbon by setting its base URL to `https://HOST/api/hma` and sending
`Authorization: Bearer KEY`. Request parameters and response JSON follow HMA's Flask blueprints (matching,
hashing, curation): lookups answer per signal type and per bank, distances come back as strings, errors as
`{"message": ...}` (plus posbon's `detail`). What differs and why: docs/hma-compat.md.

Roles (API keys): `matcher` may look up, hash and read /status; `curator` may also read and change banks;
`admin` everything. Keys and sessions with posbon's review roles keep their rank: viewer and reviewer may
look up and read banks, only admin may change them.
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
import unicodedata
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import delete, select
from starlette.datastructures import UploadFile
from threatexchange.signal_type.md5 import VideoMD5Signal
from threatexchange.signal_type.pdq.signal import PdqSignal

from posbon.domain import MediaKind, Signal, SignalType
from posbon.limits import LIMITS
from posbon.match.banklist import InvalidEntry, NewEntry, validate_signal
from posbon.match.service import HMA_NAME, HMA_SIGNAL_TYPES, Match, MatchService, SignalError, parse_signal
from posbon.review import audit
from posbon.review.session import now_utc, write_session
from posbon.signals.media import MediaError, media_signals
from posbon.store import Store
from posbon.store.db import StoreError, value_digest
from posbon.store.models import BankEntryRow, BankRow
from posbon.web.auth import (
    ROLE_RANK,
    AuthFirstRoute,
    Forbidden,
    NotAuthenticated,
    Principal,
    Require,
    principal_of,
)
from posbon.web.services import MAX_ROW_ID

PREFIX = "/api/hma"
CONTENT_TYPES = {"photo": MediaKind.IMAGE, "video": MediaKind.VIDEO}
ENABLED_TS = 1  # HMA's BankContentConfig.ENABLED; 0 (DISABLED) or a future time means disabled
DISABLED_TS = 0
NOTE_MAX = 255
BANK_NAME_MAX = 200  # BankRow.name is a String(200)
NO_FETCH = (
    "posbon does not fetch URLs (a server that fetches what callers name is an SSRF risk): "
    "upload the file as multipart/form-data instead"
)


class ServiceRole(Require):
    """Require a review role's rank, or one of the service roles (`matcher`, `curator`) of an API key.

    A subclass of Require, so tests/test_web_routes.py sees the rank every route needs; service-role keys
    have rank 0 there, so they reach no review route.
    """

    def __init__(self, role: str, *service_roles: str) -> None:
        super().__init__(role)
        self.service_roles = frozenset(service_roles)

    async def __call__(self, request: Request) -> Principal:
        principal = principal_of(request)
        if principal is None:
            raise NotAuthenticated()
        if principal.via == "api_key" and principal.role in self.service_roles:
            return principal
        if not principal.can(self.role):
            allowed = " or ".join(sorted({*self.service_roles, self.role}))
            raise Forbidden(f"this needs the {allowed} role; you are {principal.role}")
        return await super().__call__(request)

    def allows_api_key(self, role: str) -> bool:
        """Whether an API key with `role` passes this check (keys need no CSRF token)."""
        return role in self.service_roles or ROLE_RANK.get(role, 0) >= ROLE_RANK[self.role]

    def __repr__(self) -> str:
        return f"ServiceRole({self.role!r}, {', '.join(sorted(self.service_roles))})"


MATCH = ServiceRole("viewer", "matcher", "curator")  # look up, hash, compare, status
CURATE_READ = ServiceRole("viewer", "curator")
CURATE_WRITE = ServiceRole("admin", "curator")
CurateReader = Annotated[Principal, Depends(CURATE_READ)]
Curator = Annotated[Principal, Depends(CURATE_WRITE)]


class HMAError(Exception):
    """An error answered as HMA does: `{"message": ...}` with a status code."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class HMARoute(AuthFirstRoute):
    """Role checks before the body is read (AuthFirstRoute); HMAError becomes HMA's JSON error body.
    Auth errors keep posbon's handlers (401/403 JSON)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except HMAError as exc:
                return JSONResponse({"message": exc.message, "detail": exc.message}, status_code=exc.status)

        return handle


# Not in /openapi.json yet: tests/test_api_schema.py fuzzes exactly the review API's description.
router = APIRouter(prefix=PREFIX, tags=["hma"], route_class=HMARoute, include_in_schema=False)

_service_lock = threading.Lock()


def match_service(request: Request) -> MatchService:
    """The app's one MatchService, made on first use."""
    state = request.app.state
    service: MatchService | None = getattr(state, "match_service", None)
    if service is None:
        with _service_lock:
            service = getattr(state, "match_service", None)
            if service is None:
                web = state.web
                service = MatchService(web.store, web.settings)
                state.match_service = service
    return service


def _store(request: Request) -> Store:
    store: Store = request.app.state.web.store
    return store


def _banks_param(banks: str | None) -> set[str] | None:
    return {b.strip() for b in banks.split(",") if b.strip()} if banks else None


def _signal(signal_type: str, signal: str) -> Signal:
    try:
        return parse_signal(signal_type, signal)
    except SignalError as exc:
        raise HMAError(400, str(exc)) from None


def matches_by_bank(matches: list[Match]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for m in matches:
        out.setdefault(m.bank, []).append({"bank_content_id": m.entry_id, "distance": m.distance})
    return out


# ---- hashing uploads ---------------------------------------------------------------------------------


async def hash_upload(request: Request) -> dict[str, str]:
    """HMA's hash_media_from_form_data: exactly one file, in a field named by its content type."""
    try:
        form = await request.form()
    except Exception as exc:  # noqa: BLE001 - Starlette raises several types for a malformed body
        raise HMAError(400, f"cannot read multipart/form-data: {exc}") from None
    files = [(name, value) for name, value in form.multi_items() if isinstance(value, UploadFile)]
    if not files:
        raise HMAError(400, "Missing multipart/form-data file upload")
    if len(files) > 1:
        raise HMAError(400, "Only one file allowed per request")
    field_name, upload = files[0]
    kind = CONTENT_TYPES.get(field_name)
    if kind is None:
        raise HMAError(400, f"no such content_type: '{field_name}'")
    return await hash_file(upload, kind)


async def hash_file(upload: UploadFile, kind: MediaKind) -> dict[str, str]:
    """{HMA signal type: hash} of one uploaded file: photo -> pdq, video -> video_md5."""
    data = await upload.read(LIMITS.image_bytes + 1)
    if len(data) > LIMITS.image_bytes:
        raise HMAError(413, f"Content too large: limit {LIMITS.image_bytes:,} bytes")
    suffix = Path(upload.filename or "").suffix[:10]
    with tempfile.TemporaryDirectory(prefix="posbon-hma-") as folder:
        path = Path(folder) / f"upload{suffix}"
        path.write_bytes(data)
        try:
            signals = media_signals(path, kind, unletterbox=False)
        except MediaError as exc:
            raise HMAError(400, f"cannot hash {upload.filename or 'upload'}: {exc}") from None
    if kind is MediaKind.IMAGE:
        return {"pdq": next(s.value for s in signals if s.signal_type == SignalType.PDQ)}
    return {"video_md5": next(s.value for s in signals if s.signal_type == SignalType.MD5)}


# ---- /status -----------------------------------------------------------------------------------------


@router.get("/status")
def status(request: Request) -> Response:
    """HMA's health check: 200 "I-AM-ALIVE" once the index is loaded (building it if need be).

    The one match route without a key, as in the issue and HMA: load balancers probe it; it tells nothing
    but whether the index is loaded."""
    try:
        match_service(request).snapshot()
    except StoreError as exc:
        return PlainTextResponse(f"INDEX-NOT-LOADED: {exc}", status_code=503)
    return PlainTextResponse("I-AM-ALIVE")


# ---- /m: matching ------------------------------------------------------------------------------------


@router.get("/m/lookup", dependencies=[Depends(MATCH)])
def lookup_get(
    request: Request,
    signal: str | None = None,
    signal_type: str | None = None,
    banks: str | None = None,
    url: str | None = None,
    content_type: str | None = None,
    types: str | None = None,
    seed: str | None = None,
    bypass_coinflip: bool = False,
) -> dict[str, list[dict[str, Any]]]:
    """Matches of one signal, by bank: {"BANK": [{"bank_content_id": 1, "distance": "3"}]}."""
    if url:
        raise HMAError(400, NO_FETCH)
    if not signal or not signal_type:
        raise HMAError(400, "Either url or both signal and signal_type are required")
    found = match_service(request).lookup([_signal(signal_type, signal)], _banks_param(banks))
    return matches_by_bank(found[0])


@router.post("/m/lookup", dependencies=[Depends(MATCH)])
async def lookup_post(request: Request, banks: str | None = None) -> dict[str, Any]:
    """Hash the uploaded file, then look each hash up: {"pdq": {"BANK": [...]}}."""
    hashes = await hash_upload(request)
    service = match_service(request)
    wanted = _banks_param(banks)
    return {
        name: matches_by_bank(service.lookup([_signal(name, value)], wanted)[0])
        for name, value in hashes.items()
    }


@router.get("/m/raw_lookup", dependencies=[Depends(MATCH)])
def raw_lookup(
    request: Request,
    signal: str,
    signal_type: str,
    banks: str | None = None,
    include_distance: bool = False,
) -> dict[str, list[Any]]:
    """{"matches": [content ids]}, or with include_distance [{"bank_content_id", "distance"}]."""
    found = match_service(request).lookup([_signal(signal_type, signal)], _banks_param(banks))[0]
    if include_distance:
        return {"matches": [{"bank_content_id": m.entry_id, "distance": m.distance} for m in found]}
    return {"matches": [m.entry_id for m in found]}


@router.post("/m/compare", dependencies=[Depends(MATCH)])
async def compare(request: Request) -> dict[str, Any]:
    """{"pdq": [hash, hash]} -> {"pdq": [true, {"distance": 9}]}, through python-threatexchange."""
    try:
        body = await request.json()
    except ValueError:
        raise HMAError(400, "Request input was not a dict") from None
    if not isinstance(body, dict):
        raise HMAError(400, "Request input was not a dict")
    threshold = request.app.state.web.settings.pdq_threshold
    out: dict[str, Any] = {}
    for name, pair in body.items():
        if not isinstance(pair, list):
            raise HMAError(400, f"Comparison hashes for {name} was not a list")
        if len(pair) != 2 or not all(isinstance(p, str) for p in pair):
            raise HMAError(400, "Comparison hash list length must be exactly 2")
        kind = HMA_SIGNAL_TYPES.get(str(name))
        if kind == SignalType.PDQ:
            try:
                left, right = (PdqSignal.validate_signal_str(p) for p in pair)
            except (ValueError, TypeError) as exc:
                raise HMAError(400, f"Invalid {name} hash: {exc}") from None
            result = PdqSignal.compare_hash(left, right, pdq_dist_threshold=threshold)
            out[name] = [result.match, {"distance": getattr(result.distance, "distance", None)}]
        elif kind == SignalType.MD5:
            try:
                left, right = (VideoMD5Signal.validate_signal_str(p) for p in pair)
            except (ValueError, TypeError) as exc:
                raise HMAError(400, f"Invalid {name} hash: {exc}") from None
            out[name] = [VideoMD5Signal.compare_hash(left, right).match, {}]
        elif kind is None:
            raise HMAError(400, f"No such SignalType '{name}'")
        else:
            raise HMAError(400, f"{name} does not support hash comparison")
    return out


@router.get("/m/index/status", dependencies=[Depends(MATCH)])
def index_status(request: Request, signal_type: str | None = None) -> dict[str, Any]:
    """{"pdq": {"present": true, "built_to": 1700000000, "size": 591, "version": 42, "age": 1.5}, ...}.

    HMA's fields plus posbon's: `version` (the last bank change applied) and `age` (seconds since then)."""
    status = match_service(request).index_status()
    if signal_type is not None:
        if signal_type not in status:
            raise HMAError(400, f"No such signal type '{signal_type}'")
        status = {signal_type: status[signal_type]}
    return status


# ---- /h: hashing -------------------------------------------------------------------------------------


@router.get("/h/hash", dependencies=[Depends(MATCH)])
def hash_url(url: str | None = None) -> dict[str, str]:
    """HMA fetches `url` and hashes it; posbon never fetches (see NO_FETCH)."""
    raise HMAError(400, NO_FETCH)


@router.post("/h/hash", dependencies=[Depends(MATCH)])
async def hash_post(request: Request) -> dict[str, str]:
    """{"pdq": "..."} for a `photo` upload, {"video_md5": "..."} for a `video` upload."""
    return await hash_upload(request)


# ---- /c: curation ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Bank:
    id: int
    name: str
    kind: str
    description: str
    pdq_threshold: int | None
    text_threshold: float | None

    def to_json(self) -> dict[str, Any]:
        # HMA's two fields, then posbon's own controls (HMA clients ignore unknown keys)
        return {
            "name": self.name,
            "matching_enabled_ratio": 1.0,
            "kind": self.kind,
            "description": self.description,
            "pdq_threshold": self.pdq_threshold,
            "text_threshold": self.text_threshold,
        }


def _check_nul(value: str, what: str) -> None:
    """PostgreSQL text cannot hold NUL: refuse it (400) before it reaches the store."""
    if "\x00" in value:
        raise HMAError(400, f"{what} must not contain NUL characters (\\u0000)")


def _no_nul_inside(value: Any, what: str) -> None:
    """_check_nul for every string (keys too) in a JSON value."""
    if isinstance(value, str):
        _check_nul(value, what)
    elif isinstance(value, list):
        for item in value:
            _no_nul_inside(item, what)
    elif isinstance(value, dict):
        for key, item in value.items():
            _no_nul_inside(key, what)
            _no_nul_inside(item, what)


def _new_bank_name(name: str) -> None:
    """A new bank's name: printable (no control characters, NUL included), at most BANK_NAME_MAX long."""
    if any(unicodedata.category(c) == "Cc" for c in name):
        raise HMAError(400, "bank name must not contain control characters")
    if len(name.strip()) > BANK_NAME_MAX:
        raise HMAError(400, f"bank name must be at most {BANK_NAME_MAX} characters")


def _bank(store: Store, name: str) -> _Bank | None:
    _check_nul(name, "bank name")
    with store.session() as s:
        row = s.scalar(select(BankRow).where(BankRow.name == name))
        if row is None:
            return None
        return _Bank(row.id, row.name, row.kind, row.description, row.pdq_threshold, row.text_threshold)


def _need_bank(store: Store, name: str) -> _Bank:
    bank = _bank(store, name)
    if bank is None:
        raise HMAError(404, f"bank '{name}' not found")
    return bank


def _audit(store: Store, who: Principal, action: str, subject: str, details: dict[str, Any]) -> None:
    with write_session(store) as s:
        audit.append(s, actor=who.name, action=action, subject=subject, details=details)


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise HMAError(400, "this endpoint expects a json object payload") from None
    if not isinstance(body, dict):
        raise HMAError(400, "this endpoint expects a json object payload")
    return body


def _check_ratio(body: dict[str, Any]) -> None:
    ratio = body.get("enabled_ratio")
    if body.get("enabled") is False or (ratio is not None and ratio != 1 and ratio != 1.0):
        raise HMAError(
            400,
            "posbon banks have no matching ratio: a bank always matches (disable its entries, "
            "or make it an allow list with kind=allow)",
        )


_SETTINGS_FIELDS = ("kind", "pdq_threshold", "text_threshold", "description")


@router.get("/c/banks")
def banks_index(request: Request, principal: CurateReader) -> list[dict[str, Any]]:
    store = _store(request)
    return [_need_bank(store, b.name).to_json() for b in store.list_banks()]


@router.post("/c/banks", status_code=201)
async def bank_create(request: Request, principal: Curator) -> dict[str, Any]:
    body = await _json_object(request)
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise HMAError(400, "name is required")
    _new_bank_name(name)
    _check_ratio(body)
    _no_nul_inside(body.get("description"), "description")
    store = _store(request)
    try:
        created = store.create_bank(
            name,
            str(body.get("description") or ""),
            kind=str(body.get("kind") or "block"),
            pdq_threshold=body.get("pdq_threshold"),
            text_threshold=body.get("text_threshold"),
        )
    except (StoreError, TypeError) as exc:
        raise HMAError(400, str(exc)) from None
    if not created:
        raise HMAError(403, "Bank already exists")
    _audit(
        store, principal, "bank.create", f"bank:{name.strip()}", {k: body.get(k) for k in _SETTINGS_FIELDS}
    )
    match_service(request).mark_changed()
    return _need_bank(store, name.strip()).to_json()


# Path parameter names: `name` (a bank) and `index` (a bank content id) are the ones the route table test
# (tests/test_web_routes.py) knows how to fill in.
@router.get("/c/bank/{name}")
def bank_show(request: Request, name: str, principal: CurateReader) -> dict[str, Any]:
    return _need_bank(_store(request), name).to_json()


@router.put("/c/bank/{name}")
async def bank_update(request: Request, name: str, principal: Curator) -> dict[str, Any]:
    store = _store(request)
    _need_bank(store, name)
    body = await _json_object(request)
    new_name = body.get("name")
    if new_name is not None and new_name != name:
        raise HMAError(400, "posbon does not rename banks: evidence and decisions name the bank they matched")
    _check_ratio(body)
    _no_nul_inside(body.get("description"), "description")
    changes: dict[str, Any] = {k: body[k] for k in _SETTINGS_FIELDS if k in body}
    try:
        store.update_bank(name, **changes)
    except (StoreError, TypeError) as exc:
        raise HMAError(400, str(exc)) from None
    if changes:
        _audit(store, principal, "bank.update", f"bank:{name}", changes)
        match_service(request).mark_changed()
    return _need_bank(store, name).to_json()


@router.delete("/c/bank/{name}")
def bank_delete(request: Request, name: str, principal: Curator) -> dict[str, str]:
    """Deletes the bank and its entries (as HMA does); the audit log keeps that it happened."""
    _check_nul(name, "bank name")
    store = _store(request)
    with write_session(store) as s:
        bank_id = s.scalar(select(BankRow.id).where(BankRow.name == name))
        if bank_id is not None:
            entries = s.scalar(select(BankEntryRow.id).where(BankEntryRow.bank_id == bank_id).limit(1))
            s.execute(delete(BankEntryRow).where(BankEntryRow.bank_id == bank_id))
            s.execute(delete(BankRow).where(BankRow.id == bank_id))
            audit.append(
                s,
                actor=principal.name,
                action="bank.delete",
                subject=f"bank:{name}",
                details={"had_entries": entries is not None},
            )
    if bank_id is not None:
        match_service(request).mark_changed()
    return {"message": "Done"}


def _note(value: Any) -> str | None:
    if not value:
        return None
    if not isinstance(value, str):
        raise HMAError(400, "note should be a string")
    if len(value) > NOTE_MAX:
        raise HMAError(400, f"note must be at most {NOTE_MAX} characters")
    _check_nul(value, "note")
    return value


def _content_label(metadata: dict[str, Any] | None) -> str | None:
    """metadata's content_id, the entries' label: a string (HMA's BankedContentMetadata.content_id: str);
    an integer is taken as its decimal string. Anything else is refused (400)."""
    if not metadata:
        return None
    _no_nul_inside(metadata, "metadata")
    content_id = metadata.get("content_id")
    if content_id is None or isinstance(content_id, str):
        return content_id
    if isinstance(content_id, int) and not isinstance(content_id, bool):
        return str(content_id)
    raise HMAError(400, "metadata content_id should be a string")


def _add_signals(
    request: Request,
    bank: _Bank,
    signals: dict[str, Any],
    metadata: dict[str, Any] | None,
    note: str | None,
    principal: Principal,
) -> dict[str, Any]:
    """Bank each signal as one posbon entry; HMA's content `id` is the first entry's id."""
    if not signals:
        raise HMAError(400, "No signals given")
    store = _store(request)
    label = _content_label(metadata)
    entries: list[NewEntry] = []
    for name, raw in signals.items():
        kind = HMA_SIGNAL_TYPES.get(name)
        if kind is None:
            raise HMAError(400, f"No such signal type {name}")
        if not isinstance(raw, str):
            raise HMAError(400, f"Invalid {name} signal: not a string")
        _check_nul(raw, f"{name} signal")
        try:
            value, original = validate_signal(kind, raw)
        except InvalidEntry as exc:
            raise HMAError(400, f"Invalid {name} signal: {exc}") from None
        extra: dict[str, Any] = {}
        if metadata:
            extra["metadata"] = metadata
        if note:
            extra["note"] = note
        entries.append(
            NewEntry(kind, value, label=label, metadata=extra, original_text=original, origin="api")
        )
    store.add_entries(bank.name, entries, source=f"api:{principal.name}")
    ids: dict[str, int] = {}
    with store.session() as s:
        for name, entry in zip(signals, entries, strict=True):
            digest = value_digest(str(entry.signal_type), entry.value)
            entry_id = s.scalar(
                select(BankEntryRow.id).where(
                    BankEntryRow.bank_id == bank.id, BankEntryRow.value_digest == digest
                )
            )
            if entry_id is not None:
                ids[name] = entry_id
    _audit(store, principal, "bank.add", f"bank:{bank.name}", {"entries": sorted(ids.values())})
    match_service(request).mark_changed()
    return {
        "id": next(iter(ids.values())),
        "signals": {name: entries[i].value for i, name in enumerate(signals)},
        "ids": ids,  # posbon: one entry per signal
    }


@router.post("/c/bank/{name}/content")
async def bank_add_content(request: Request, name: str, principal: Curator) -> dict[str, Any]:
    """Bank an uploaded file (field `photo` or `video`), with optional `metadata` (JSON) and `note`."""
    bank = _need_bank(_store(request), name)
    if request.query_params.get("url"):
        raise HMAError(400, NO_FETCH)
    hashes = await hash_upload(request)
    form = await request.form()  # cached by Starlette
    metadata: dict[str, Any] | None = None
    raw_meta = form.get("metadata")
    if isinstance(raw_meta, str) and raw_meta:
        try:
            parsed = json.loads(raw_meta)
        except ValueError:
            raise HMAError(400, "metadata form field must be valid JSON") from None
        if not isinstance(parsed, dict):
            raise HMAError(400, "metadata should be a json object")
        metadata = parsed
    raw_note = form.get("note")
    return _add_signals(request, bank, dict(hashes), metadata, _note(raw_note), principal)


@router.post("/c/bank/{name}/signal")
async def bank_add_signals(request: Request, name: str, principal: Curator) -> dict[str, Any]:
    """Bank hashes directly: {"pdq": "...", "note": "optional"}."""
    bank = _need_bank(_store(request), name)
    body = await _json_object(request)
    note = _note(body.pop("note", None))
    return _add_signals(request, bank, body, None, note, principal)


def _content_id_fits(content_id: int) -> bool:
    """Whether content_id fits the id column (a larger or negative one names no content: 404, not the
    driver's out-of-range error)."""
    return 0 <= content_id <= MAX_ROW_ID


def _content(request: Request, bank_name: str, content_id: int) -> tuple[_Bank, Any]:
    store = _store(request)
    bank = _need_bank(store, bank_name)
    if not _content_id_fits(content_id):
        raise HMAError(404, f"content '{content_id}' not found")
    found = store.entries(entry_ids=[content_id], include_deleted=False)
    if not found or found[0].bank != bank.name:
        raise HMAError(404, f"content '{content_id}' not found")
    return bank, found[0]


def _content_json(bank: _Bank, entry: Any, *, signals: bool, metadata: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": entry.entry_id,
        "disable_until_ts": ENABLED_TS if entry.enabled else DISABLED_TS,
        "original_media_uri": None,
        "bank": {"name": bank.name, "matching_enabled_ratio": 1.0},
        "enabled": entry.enabled,  # posbon
    }
    if signals:
        kind = SignalType(entry.signal_type)
        out["signals"] = {HMA_NAME.get(kind, str(kind)): entry.value}
    meta = entry.extra.get("metadata")
    if metadata and isinstance(meta, dict):
        out["metadata"] = meta
    if entry.extra.get("note"):
        out["note"] = entry.extra["note"]
    return out


@router.get("/c/bank/{name}/content/{index}")
def bank_get_content(
    request: Request,
    name: str,
    index: int,
    principal: CurateReader,
    include_signals: bool = False,
    include_metadata: bool = True,
) -> dict[str, Any]:
    bank, entry = _content(request, name, index)
    return _content_json(bank, entry, signals=include_signals, metadata=include_metadata)


@router.put("/c/bank/{name}/content/{index}")
async def bank_update_content(request: Request, name: str, index: int, principal: Curator) -> dict[str, Any]:
    """{"disable_until_ts": 0} disables (posbon: until enabled again), 1 or a past time enables;
    posbon also takes {"enabled": true|false}."""
    bank, entry = _content(request, name, index)
    body = await _json_object(request)
    enabled: bool | None = None
    if "disable_until_ts" in body:
        try:
            ts = int(body["disable_until_ts"])
        except (TypeError, ValueError, OverflowError):  # OverflowError: inf (JSON 1e400, Infinity)
            raise HMAError(400, "disable_until_ts must be a non-negative integer") from None
        if ts < 0:
            raise HMAError(400, "disable_until_ts must be a non-negative integer")
        enabled = ts == ENABLED_TS or (ts != DISABLED_TS and ts <= time.time())
    if isinstance(body.get("enabled"), bool):
        enabled = body["enabled"]
    store = _store(request)
    if enabled is not None and enabled != entry.enabled:
        entry = store.set_entry_enabled(index, enabled)
        action = "bank.entry.enable" if enabled else "bank.entry.disable"
        _audit(store, principal, action, f"bank:{bank.name}", {"entry": index})
        match_service(request).mark_changed()
    return _content_json(bank, entry, signals=False, metadata=True)


@router.delete("/c/bank/{name}/content/{index}")
def bank_delete_content(request: Request, name: str, index: int, principal: Curator) -> dict[str, int]:
    """Soft delete (kept so a reviewer still sees what an old match was against): {"deleted": 1}."""
    store = _store(request)
    bank = _need_bank(store, name)
    deleted = 0
    if not _content_id_fits(index):
        return {"deleted": 0}
    with write_session(store) as s:
        row = s.get(BankEntryRow, index)
        if row is not None and row.bank_id == bank.id and row.deleted_at is None:
            row.deleted_at = now_utc()
            deleted = 1
            audit.append(
                s,
                actor=principal.name,
                action="bank.entry.delete",
                subject=f"bank:{name}",
                details={"entry": index},
            )
    if deleted:
        match_service(request).mark_changed()
    return {"deleted": deleted}


@router.get("/c/signal_type")
def signal_types(principal: CurateReader) -> list[dict[str, Any]]:
    return [{"name": name, "enabled_ratio": 1.0} for name in HMA_NAME.values()]


@router.get("/c/signal_type/index")
def signal_type_index(request: Request, principal: CurateReader) -> dict[str, Any]:
    """HMA's index status by signal type: database size vs index size."""
    service = match_service(request)
    snap = service.snapshot()
    db_sizes: dict[str, int] = {}
    for summary in _store(request).list_banks():
        for kind, count in summary.entries.items():
            db_sizes[kind] = db_sizes.get(kind, 0) + count
    out: dict[str, Any] = {}
    for kind, name in HMA_NAME.items():
        out[name] = {
            "db_size": db_sizes.get(str(kind), 0),
            "index_size": snap.sizes.get(str(kind), 0),
            "index_out_of_date": db_sizes.get(str(kind), 0) != snap.sizes.get(str(kind), 0),
            "newest_db_item": int(snap.built_at),
            "index_built_to": int(snap.built_at),
        }
    return out


@router.get("/c/content_type")
def content_types(principal: CurateReader) -> list[dict[str, Any]]:
    return [{"name": name, "enabled": True} for name in CONTENT_TYPES]
