"""Who is asking: a session cookie (browsers) or an API key (`Authorization: Bearer KEY`), and may they.

Every route except /login, /healthz and /static declares the least role it needs (`Depends(Require(...))`,
or the Viewer / Reviewer / Admin parameter types);
tests/test_web_routes.py walks `app.routes` and checks each one for every role.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from posbon.web.security import SESSION_COOKIE, Session, same_token

ROLES = ("viewer", "reviewer", "admin")
ROLE_RANK = {"viewer": 1, "reviewer": 2, "admin": 3}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class NotAuthenticated(Exception):
    """No valid session or API key: pages redirect to /login, the API answers 401."""


class Forbidden(Exception):
    """Authenticated, but the role (or a missing CSRF token) does not allow this."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Principal:
    name: str
    role: str
    via: str  # "session" | "api_key"
    session: Session | None = None

    def can(self, role: str) -> bool:
        return ROLE_RANK.get(self.role, 0) >= ROLE_RANK[role]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def principal_of(request: Request) -> Principal | None:
    """The caller, or None. An Authorization header, when present, is the only credential looked at."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    web = request.app.state.web
    principal: Principal | None = None
    token = _bearer(request)
    if token is not None:
        key = web.services.verify_api_key(token)
        if key is not None:
            principal = Principal(name=f"key:{key.name}", role=str(key.role), via="api_key")
    elif not request.headers.get("authorization"):
        session = web.sessions.from_cookie(request.cookies.get(SESSION_COOKIE))
        if session is not None:
            principal = Principal(name=session.username, role=session.role, via="session", session=session)
    request.state.principal = principal
    return principal


class Require:
    """Dependency: the caller holds at least `role`; cookie requests changing state carry the CSRF token."""

    def __init__(self, role: str) -> None:
        if role not in ROLE_RANK:
            raise ValueError(f"unknown role {role!r}")
        self.role = role

    async def __call__(self, request: Request) -> Principal:
        principal = principal_of(request)
        if principal is None:
            raise NotAuthenticated()
        if not principal.can(self.role):
            raise Forbidden(f"this needs the {self.role} role; you are {principal.role}")
        if request.method not in SAFE_METHODS and principal.session is not None:
            sent = request.headers.get(CSRF_HEADER)
            form_types = ("application/x-www-form-urlencoded", "multipart/form-data")
            if sent is None and request.headers.get("content-type", "").startswith(form_types):
                form = await request.form()  # cached by Starlette: the endpoint's Form() fields still work
                value = form.get(CSRF_FIELD)
                sent = value if isinstance(value, str) else None
            if not same_token(sent, principal.session.csrf):
                raise Forbidden("missing or wrong CSRF token: reload the page and try again")
        return principal

    def __repr__(self) -> str:
        return f"Require({self.role!r})"


VIEWER = Require("viewer")
REVIEWER = Require("reviewer")
ADMIN = Require("admin")

# Annotated parameter types for routes: `principal: Reviewer` checks the role (and CSRF) before the body.
Viewer = Annotated[Principal, Depends(VIEWER)]
Reviewer = Annotated[Principal, Depends(REVIEWER)]
Admin = Annotated[Principal, Depends(ADMIN)]


def _requirements(dependant: Dependant) -> Iterator[Require]:
    for sub in dependant.dependencies:
        if isinstance(sub.call, Require):
            yield sub.call
        yield from _requirements(sub)


class AuthFirstRoute(APIRoute):
    """Route class: the route's role checks run before FastAPI reads the request body.

    FastAPI decodes a JSON body before it solves dependencies, so a caller with no key, or too low a role,
    who sent malformed JSON got 400/422 (and a description of the expected body) instead of 401/403.
    The checks run again as ordinary dependencies; the principal is cached on the request.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        checks = list(_requirements(self.dependant))
        if not checks:
            return handler

        async def checked(request: Request) -> Response:
            for check in checks:
                await check(request)
            return await handler(request)

        return checked
