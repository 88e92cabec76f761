"""Every route, for anonymous / viewer / reviewer / admin callers: walks `app.routes`, so a new route without
a role check fails here."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from starlette.routing import Mount

from posbon.web.auth import ROLE_RANK, Require
from test_web_support import build, client, login

PUBLIC = {("GET", "/login"), ("POST", "/login"), ("GET", "/healthz"), ("GET", "/"), ("GET", "/favicon.ico")}
PUBLIC |= {("GET", "/readyz")}  # readiness for load balancers, public like /healthz
PUBLIC |= {("GET", "/api/hma/status")}  # HMA's health check: load balancers probe it without a key
PARAMS = {"item_id": "no-such-item", "decision_id": "999999", "appeal_id": "999999", "order_id": "999999"}
PARAMS |= {"index": "0", "name": "swagger-ui.css", "notice_id": "999999", "delivery_id": "999999"}


def required_role(route: APIRoute) -> str | None:
    """The highest role any Require dependency of the route asks for."""
    found: list[str] = []
    stack = [route.dependant]
    while stack:
        dep = stack.pop()
        if isinstance(dep.call, Require):
            found.append(dep.call.role)
        stack.extend(dep.dependencies)
    return max(found, key=ROLE_RANK.__getitem__) if found else None


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PARAMS[m.group(1)], path)


def walk(app: Any) -> list[tuple[str, str, str | None]]:
    """(method, path, role) of every route, into included routers (FastAPI may keep them nested)."""
    out: list[tuple[str, str, str | None]] = []

    def visit(routes: list[Any], prefix: str) -> None:
        for route in routes:
            if isinstance(route, Mount):
                assert route.path == "/static", f"unexpected mount {route.path}"
            elif isinstance(route, APIRoute):
                for method in sorted(route.methods - {"HEAD"}):
                    out.append((method, prefix + route.path, required_role(route)))
            elif hasattr(route, "original_router"):
                assert not route.include_context.dependencies, "role checks are declared per route"
                visit(route.original_router.routes, prefix + route.include_context.prefix)
            else:
                raise AssertionError(f"unexpected route type {route!r}")

    visit(app.routes, "")
    return out


@pytest.fixture(scope="module")
def fx(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return build(Path(tmp_path_factory.mktemp("routes")))


def test_every_route_but_login_and_health_needs_a_role(fx: Any) -> None:
    routes = walk(client(fx).app)
    assert len(routes) > 20
    for method, path, role in routes:
        if (method, path) in PUBLIC:
            assert role is None, f"{method} {path} is public and must stay so"
        else:
            assert role is not None, f"{method} {path} has no role check"


def _call(c: Any, method: str, path: str, headers: dict[str, str]) -> Any:
    if method == "GET":
        return c.get(path, headers=headers)
    if path.startswith("/api/"):
        return c.request(method, path, json={}, headers=headers)
    return c.request(method, path, data={"csrf_token": headers.get("X-CSRF-Token", "")}, headers=headers)


@pytest.mark.parametrize("who", ["anonymous", "viewer", "reviewer", "admin"])
def test_route_table_for_each_role(fx: Any, who: str) -> None:
    c = client(fx)
    headers: dict[str, str] = {}
    if who != "anonymous":
        user = {"viewer": "vera", "reviewer": "rita", "admin": "ada"}[who]
        headers["X-CSRF-Token"] = login(c, user)
    for method, path, role in walk(c.app):
        if path == "/logout":
            continue  # ends the session: checked in test_web_security
        r = _call(c, method, concrete(path), headers)
        where = f"{who}: {method} {path} -> {r.status_code}"
        if role is None:
            assert r.status_code not in (401, 403), where
        elif who == "anonymous":
            if path.startswith("/api/") or path == "/openapi.json":
                assert r.status_code == 401, where
            else:
                assert r.status_code == 303 and r.headers["location"].startswith("/login"), where
        elif ROLE_RANK[who] < ROLE_RANK[role]:
            assert r.status_code == 403, where
        else:
            assert r.status_code not in (401, 403), where
            assert not (r.status_code == 303 and r.headers["location"].startswith("/login")), where


@pytest.mark.parametrize("role", ["viewer", "reviewer", "admin"])
def test_api_routes_with_api_keys(fx: Any, role: str) -> None:
    c = client(fx)
    headers = {"Authorization": f"Bearer {fx.keys[role]}"}
    for method, path, need in walk(c.app):
        if not path.startswith("/api/") or (method, path) in PUBLIC:
            continue
        r = _call(c, method, concrete(path), headers)
        assert need is not None
        if ROLE_RANK[role] < ROLE_RANK[need]:
            assert r.status_code == 403, f"{role}: {method} {path} -> {r.status_code}"
        else:
            assert r.status_code not in (401, 403), f"{role}: {method} {path} -> {r.status_code}"


def test_wrong_api_key_is_refused_and_not_mixed_with_a_cookie(fx: Any) -> None:
    c = client(fx)
    login(c, "ada")
    r = c.get("/api/v1/queue", headers={"Authorization": "Bearer pbk_wrong"})
    assert r.status_code == 401  # a bad key is not rescued by the session cookie
    assert c.get("/api/v1/queue").status_code == 200
