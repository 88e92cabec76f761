"""Sessions, CSRF, login rate limiting, security headers, XSS and the media route."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest

from posbon.review import records
from posbon.web.app import CSP
from posbon.web.security import SECRET_FILE, SESSION_COOKIE, LoginLimiter
from test_web_support import PASSWORD, XSS_TEXT, build, client, login, login_token


@pytest.fixture(scope="module")
def fx(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return build(Path(tmp_path_factory.mktemp("security")))


def test_security_headers_on_every_kind_of_response(fx: Any) -> None:
    c = client(fx)
    login(c, "vera")
    for path in ("/login", "/healthz", "/queue", "/static/app.js", "/no-such-page", f"/items/{fx.items[0]}"):
        r = c.get(path)
        assert r.headers["content-security-policy"] == CSP, path
        assert r.headers["x-content-type-options"] == "nosniff", path
        assert r.headers["referrer-policy"] == "no-referrer", path
        assert r.headers["x-frame-options"] == "DENY", path
    assert "'unsafe-inline'" not in CSP and "script-src 'self'" in CSP


def test_session_cookie_flags_and_rotation_on_login(fx: Any) -> None:
    c = client(fx)
    token = login_token(c)
    r = c.post("/login", data={"username": "vera", "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 303 and r.headers["location"] == "/queue"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=" in cookie
    assert "Secure" not in cookie  # plain http on loopback, POSBON_COOKIE_SECURE unset
    first = c.cookies.get(SESSION_COOKIE)
    # logging in again (e.g. as someone else) gives a new session id and kills the old one
    r = c.post("/login", data={"username": "rita", "password": PASSWORD, "csrf_token": login_token(c)})
    second = c.cookies.get(SESSION_COOKIE)
    assert second and second != first
    stale = client(fx)
    stale.cookies.set(SESSION_COOKIE, first or "")
    assert stale.get("/queue").status_code == 303  # the old session id no longer works


def test_cookie_secure_when_forced(fx: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSBON_COOKIE_SECURE", "1")
    c = client(fx)
    r = c.post("/login", data={"username": "vera", "password": PASSWORD, "csrf_token": login_token(c)})
    assert "Secure" in r.headers["set-cookie"]


def test_forged_cookie_is_anonymous(fx: Any) -> None:
    c = client(fx)
    c.cookies.set(SESSION_COOKIE, "forged.value.here")
    assert c.get("/queue").status_code == 303
    assert c.get("/api/v1/queue").status_code == 401


def test_login_form_needs_its_csrf_token(fx: Any) -> None:
    c = client(fx)
    login_token(c)
    r = c.post("/login", data={"username": "vera", "password": PASSWORD, "csrf_token": "guess"})
    assert r.status_code == 403 and SESSION_COOKIE not in r.headers.get("set-cookie", "")


def test_state_changing_forms_refuse_missing_or_wrong_csrf(fx: Any) -> None:
    c = client(fx)
    csrf = login(c, "rita")
    item = fx.items[2]
    for token in ("", "wrong-token"):
        r = c.post(f"/items/{item}/decide", data={"action": "no_action", "reason": "x", "csrf_token": token})
        assert r.status_code == 403 and "CSRF" in r.text
        r = c.post(f"/api/v1/items/{item}/decisions", json={"action": "no_action", "reason": "x"})
        assert r.status_code == 403
    # the item is still undecided
    assert c.get(f"/api/v1/items/{item}").json()["decisions"] == []
    # with the token the same request goes through
    r = c.post(
        f"/api/v1/items/{item}/decisions",
        json={"action": "no_action", "reason": "plain post"},
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 201, r.text


def test_logout_needs_csrf_and_ends_the_session(fx: Any) -> None:
    c = client(fx)
    csrf = login(c, "vera")
    assert c.post("/logout", data={"csrf_token": "nope"}).status_code == 403
    assert c.get("/queue").status_code == 200
    assert c.post("/logout", data={"csrf_token": csrf}).status_code == 303
    assert c.get("/queue").status_code == 303


def test_login_rate_limit_per_user_and_address(fx: Any) -> None:
    c = client(fx)
    for _ in range(5):
        token = login_token(c)
        r = c.post("/login", data={"username": "ravi", "password": "wrong password!", "csrf_token": token})
        assert r.status_code == 401
    token = login_token(c)
    r = c.post("/login", data={"username": "ravi", "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0  # even the right password waits
    assert "Too many failed logins" in r.text
    # another user from the same address is not locked out
    r = c.post("/login", data={"username": "vera", "password": PASSWORD, "csrf_token": login_token(c)})
    assert r.status_code == 303
    actions = [rec.action for rec in records(fx.store, limit=1000) if rec.subject == "user:ravi"]
    assert actions.count("login.failed") >= 5 and "login.ok" not in actions


def test_login_limiter_window() -> None:
    limiter = LoginLimiter(max_failures=2, window_s=60)
    limiter.failed("A", "1.2.3.4", now=0)
    limiter.failed("a", "1.2.3.4", now=1)
    assert limiter.retry_after("a", "1.2.3.4", now=2) == 59
    assert limiter.retry_after("a", "5.6.7.8", now=2) == 0
    assert limiter.retry_after("a", "1.2.3.4", now=61) == 0


def test_redirect_after_login_stays_on_site(fx: Any) -> None:
    c = client(fx)
    token = login_token(c)
    data = {"username": "vera", "password": PASSWORD, "csrf_token": token, "next": "//evil.example/x"}
    r = c.post("/login", data=data)
    assert r.headers["location"] == "/queue"


def test_secret_key_file_is_private(fx: Any) -> None:
    key_file = fx.settings.data_dir / SECRET_FILE
    assert key_file.exists()
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600


def test_xss_text_renders_escaped_and_links_inert(fx: Any) -> None:
    c = client(fx)
    login(c, "vera")
    for path in (f"/items/{fx.items[1]}", "/queue"):
        html = c.get(path).text
        assert "<script>alert" not in html and "&lt;script&gt;" in html
        assert 'onmouseover="alert' not in html
        assert "<img src=x" not in html
        assert not re.search(r'href="\s*javascript:', html, re.I)
        assert "<b>x</b>" not in html
    html = c.get(f"/items/{fx.items[1]}").text
    # links from the post are text, never anchors
    assert '<code class="link">javascript:alert(5)</code>' in html
    assert 'href="https://evil.example' not in html and 'href="https://example.org' not in html
    # the only scripts on the page are the app's own static files
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/static/app.js" defer>']
    api = c.get(f"/api/v1/items/{fx.items[1]}").json()
    assert api["text"] == XSS_TEXT  # the API hands the text back as data, unchanged


def test_item_page_shows_the_evidence(fx: Any) -> None:
    c = client(fx)
    login(c, "vera")
    html = c.get(f"/items/{fx.items[0]}").text
    assert '<mark class="indicator"' in html and ">Join the lantern caravan</mark>" in html
    assert "lantern-bank" in html and "similarity 0.91" in html and "distance 12" in html
    assert "the road opens at dawn" in html  # the banked text beside the post
    assert "4, 5, 60, 20" in html and ">88<" in html  # OCR box and confidence
    assert 'id="item-language">tg<' in html
    assert 'class="reveal"' in html and "/media/0" in html


def test_media_route_serves_only_the_items_own_files(fx: Any, tmp_path: Path) -> None:
    c = client(fx)
    assert c.get(f"/items/{fx.items[0]}/media/0").status_code == 303  # anonymous: log in first
    login(c, "vera")
    r = c.get(f"/items/{fx.items[0]}/media/0")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.content[:4] == b"\x89PNG"
    assert "sandbox" in r.headers["content-security-policy"]
    assert c.get(f"/items/{fx.items[0]}/media/1").status_code == 404  # "../secret.txt"
    assert c.get(f"/items/{fx.items[0]}/media/9").status_code == 404
    assert c.get(f"/items/{fx.items[2]}/media/0").status_code == 404  # the item has no media
    # a symlink in the media folder that points outside it is refused
    (fx.media_dir / "link.png").symlink_to(tmp_path)
    from posbon.web.views import media_file

    class Fake:
        media = [{"reference": "link.png", "path": str(fx.media_dir / "link.png"), "kind": "image"}]

    assert media_file(Fake(), 0) is None


def test_docs_and_openapi_need_login(fx: Any) -> None:
    c = client(fx)
    assert c.get("/openapi.json").status_code == 401
    assert c.get("/docs").status_code == 303
    login(c, "vera")
    schema = c.get("/openapi.json").json()
    assert "/api/v1/queue" in schema["paths"]
    html = c.get("/docs").text
    assert "/docs/assets/swagger-ui-bundle.js" in html and "<script>" not in html
    assert c.get("/docs/assets/swagger-ui-bundle.js").status_code == 200
