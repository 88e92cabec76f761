"""schemathesis against the JSON API's own OpenAPI description, in process (ASGI, no server).

Every operation under /api/ is called with generated input, authenticated with an API key as a Bearer
header, and every response must be: no 5xx, a status code the description declares, the declared content
type, and a body matching the declared schema. Run once as admin (all operations) and once as viewer (the
POST operations must answer 403, never 5xx). Bounded and derandomized so CI stays fast and deterministic.

The description is taken at import from a throwaway app on an empty store (schemathesis's `parametrize()`
needs it at collection time; its fixture-based loader, `schemathesis.pytest.from_fixture`, fails on pytest
9.2, whose nodes have no `_nodeid`), and `test_served_description_is_the_fuzzed_one` checks it is exactly
what /openapi.json serves to an API key. Routes added to the description later are fuzzed too.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from posbon.settings import Settings
from posbon.web import create_app
from test_web_support import Fixture, build

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
FUZZ = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
KNOWN_ITEMS = ["item0001", "item0002", "item0003"]  # made by test_web_support.build
ACTIONS = ["remove", "restrict", "geo_block", "label", "no_action", "escalate"]


def _description() -> dict[str, Any]:
    """The app's whole description (what /openapi.json serves), from a throwaway app on an empty store."""
    with tempfile.TemporaryDirectory() as tmp:
        throwaway = create_app(Settings.load(Path(tmp) / "data"))
        try:
            return throwaway.openapi()
        finally:
            throwaway.state.web.store.close()


described = schemathesis.openapi.from_dict(_description())


@described.hook
def flatmap_path_parameters(_ctx: Any, path_parameters: dict[str, Any] | None) -> Any:
    # Random ids almost always miss (404): half the time use an item, decision or appeal that exists (or
    # soon will), so the paths past the lookup run too.
    if not path_parameters:
        return st.just(path_parameters)
    known: dict[str, st.SearchStrategy[Any]] = {
        "item_id": st.sampled_from(KNOWN_ITEMS),
        "decision_id": st.integers(1, 6),
        "appeal_id": st.integers(1, 3),
    }
    name = next((n for n in known if n in path_parameters), None)
    if name is None:
        return st.just(path_parameters)
    return st.one_of(
        st.just(path_parameters), known[name].map(lambda value: {**path_parameters, name: value})
    )


@described.hook
def flatmap_body(_ctx: Any, body: Any) -> Any:
    # A random action is refused (409) before anything is recorded: half the time send a real one, so
    # decisions (with a reason), and then appeals against them, are made.
    if not isinstance(body, dict) or "action" not in body:
        return st.just(body)
    real = st.sampled_from(ACTIONS).map(
        lambda action: {**body, "action": action, "reason": body.get("reason") or "stand-in reason"}
    )
    return st.one_of(st.just(body), real)


schema = described.include(path_regex="^/api/")
posts = described.include(path_regex="^/api/", method="POST")


@pytest.fixture(scope="module")
def fx(tmp_path_factory: pytest.TempPathFactory) -> Fixture:
    built = build(Path(tmp_path_factory.mktemp("api_schema")), extra_items=3)
    assert set(KNOWN_ITEMS) <= set(built.items)
    return built


@pytest.fixture(scope="module")
def app(fx: Fixture) -> FastAPI:
    return create_app(fx.settings)


def bearer(fx: Fixture, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {fx.keys[role]}"}


def test_served_description_is_the_fuzzed_one(app: FastAPI, fx: Fixture) -> None:
    served = TestClient(app).get("/openapi.json", headers=bearer(fx, "viewer"))
    assert served.status_code == 200
    body = served.json()
    fuzzed = _description()
    assert body == fuzzed
    api_methods = {m for path, ops in body["paths"].items() if path.startswith("/api/") for m in ops}
    assert {"get", "post"} <= api_methods


@FUZZ
@schema.parametrize()
def test_api_as_admin_matches_its_description(case: schemathesis.Case, app: FastAPI, fx: Fixture) -> None:
    case.call_and_validate(app=app, headers=bearer(fx, "admin"), checks=CHECKS)


@FUZZ
@posts.parametrize()
def test_api_posts_as_viewer_are_forbidden(case: schemathesis.Case, app: FastAPI, fx: Fixture) -> None:
    response = case.call_and_validate(app=app, headers=bearer(fx, "viewer"), checks=CHECKS)
    # schemathesis also tries methods the path does not declare (TRACE, PUT...): those get 405.
    if case.method.upper() == "POST":
        # The role check runs before the body is validated: even malformed input gets 403, never 422 or 5xx.
        assert response.status_code == 403, (case.formatted_path, response.status_code, response.text)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/decisions/{id}/appeals", {"json": {"complaint": "x"}}),
        ("/api/v1/appeals/{id}/resolution", {"json": {"upheld": True, "reason": "x"}}),
        ("/decisions/{id}/appeals", {"data": {"complaint": "x"}}),
        ("/appeals/{id}/resolve", {"data": {"outcome": "upheld", "reason": "x"}}),
        ("/orders/{id}/action", {"data": {"action": "remove"}}),
    ],
)
def test_ids_past_64_bits_are_refused_not_a_crash(
    app: FastAPI, fx: Fixture, path: str, body: dict[str, Any]
) -> None:
    # Found by schemathesis: 2**63 in the URL reached SQLite and raised OverflowError (500).
    c = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
    r = c.post(path.format(id=2**63), headers=bearer(fx, "admin"), **body)
    assert r.status_code == 422, (path, r.status_code)
