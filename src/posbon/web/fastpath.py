"""The match API's fast path: `GET /api/hma/m/lookup` answered before FastAPI routes the request.

Platforms call the lookup on every upload, so its cost per request decides how many uploads one server
can check. Through the ordinary stack a lookup of well under a millisecond took ~3 ms: FastAPI tried each
of the app's ~150 routes in turn, solved the dependencies, and ran the endpoint and the role check in worker
threads (a thread hop each, with the GIL handed over). This pure ASGI middleware answers the common case
itself, on the event loop, with the same functions as the route (`parse_signal`, `MatchService.lookup`,
`matches_by_bank`) and byte-identical JSON; measured in docs/benchmarks.md ("Match API under load").

It answers only when nothing needs the database or a decision the route makes better: an API key verified
in the last few seconds (`cached_api_key`) whose role may look up, an index with no poll of the bank change
log due (`MatchService.fresh_snapshot`), and a query with a valid signal and only parameters the route
knows. Everything else (no key, an unknown or revoked key, a browser session, `url=`, a bad signal, a due
poll) goes on to the ordinary route, which gives the answer or the error exactly as before; so the
ordinary route still runs about every half second (the poll) and for every error.

Hand-written: no ASGI library offers a pre-routing shortcut; Starlette's own Router is the cost removed.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from prometheus_client import Counter
from starlette.types import ASGIApp, Receive, Scope, Send

from posbon.match.service import METRICS, MatchService, SignalError, parse_signal
from posbon.review.accounts import cached_api_key
from posbon.web.hma import MATCH, matches_by_bank

PATH = "/api/hma/m/lookup"
# The route's query parameters that need nothing done (HMA sends them; posbon ignores them), and the two
# it uses. `url` and `bypass_coinflip` (which the route validates as a bool) go the ordinary way.
IGNORED = frozenset({"content_type", "types", "seed"})
USED = frozenset({"signal", "signal_type", "banks"})

FAST_LOOKUPS = Counter(
    "posbon_fast_path_lookups",
    "Match API lookups answered on the fast path (the rest went through the ordinary route)",
    registry=METRICS,
)


def _bearer(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return None


def _query(raw: bytes) -> dict[str, str] | None:
    """The query as a dict, or None when it has anything the fast path leaves to the route."""
    try:
        pairs = parse_qsl(raw.decode("ascii"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        return None
    out: dict[str, str] = {}
    for key, value in pairs:
        if key in out or (key not in USED and key not in IGNORED):
            return None  # repeated or unknown: the route decides
        out[key] = value
    return out


class MatchFastPath:
    """ASGI middleware: answers plain authorised lookups itself, hands every other request on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] == PATH:
            body = self._answer(scope)
            if body is not None:
                FAST_LOOKUPS.inc()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)

    def _answer(self, scope: Scope) -> bytes | None:
        state = scope["app"].state
        service: MatchService | None = getattr(state, "match_service", None)
        if service is None:
            return None  # the route makes it on first use
        snap = service.fresh_snapshot()
        if snap is None:
            return None
        token = _bearer(scope["headers"])
        if token is None:
            return None
        key = cached_api_key(state.web.store, token)
        if key is None or not MATCH.allows_api_key(str(key.role)):
            return None
        query = _query(scope["query_string"])
        if query is None or not query.get("signal") or not query.get("signal_type"):
            return None
        try:
            signal = parse_signal(query["signal_type"], query["signal"])
        except SignalError:
            return None
        banks = query.get("banks")
        wanted = {b.strip() for b in banks.split(",") if b.strip()} if banks else None
        found = service.lookup([signal], wanted, snapshot=snap)[0]
        return _json(matches_by_bank(found))


def _json(value: object) -> bytes:
    # the same bytes as FastAPI's JSONResponse
    return json.dumps(value, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode()
