"""The review web app: `create_app(settings)` builds a FastAPI app on the store the settings name.

Server-rendered pages (Jinja2, autoescaped) for reviewers, a JSON API under /api/v1 for machine clients,
OpenAPI docs at /docs and /openapi.json (both need a login or an API key). Only /login, /healthz and
/static answer without authentication.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Form, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from posbon import __version__
from posbon.settings import Settings
from posbon.store import Store
from posbon.web.auth import VIEWER, Forbidden, NotAuthenticated, Viewer, principal_of
from posbon.web.fastpath import MatchFastPath
from posbon.web.security import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    LoginLimiter,
    SessionStore,
    cookie_secure_forced,
    load_secret_key,
    same_token,
)
from posbon.web.services import Services

log = logging.getLogger("posbon.web")

CSP = (
    "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
PUBLIC_PATHS = frozenset({"/login", "/healthz"})


class SecurityHeaders:
    """Pure ASGI middleware: every response, errors and static files included, carries the headers.

    Pages behind a login are also marked `Cache-Control: no-store` so a shared machine keeps no copy.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                headers = list(message.get("headers", []))
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in names)
                if not static and b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


@dataclass
class WebState:
    settings: Settings
    store: Store
    services: Services
    sessions: SessionStore
    limiter: LoginLimiter = field(default_factory=LoginLimiter)
    templates: Jinja2Templates | None = None
    ui: bool = True  # False: API only (no pages, no login form)


def _templates() -> Jinja2Templates:
    folder = Path(str(resources.files("posbon.web") / "templates"))
    templates = Jinja2Templates(directory=str(folder))
    templates.env.autoescape = True  # every value, whatever the template's file name
    return templates


def wants_json(request: Request) -> bool:
    path = request.url.path
    if path.startswith("/api/") or path == "/openapi.json" or not request.app.state.web.ui:
        return True
    return "application/json" in request.headers.get("accept", "") and "text/html" not in request.headers.get(
        "accept", ""
    )


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    web: WebState = request.app.state.web
    principal = principal_of(request)
    ctx: dict[str, Any] = {
        "principal": principal,
        "csrf": principal.session.csrf if principal is not None and principal.session is not None else "",
        "message": MESSAGES.get(request.query_params.get("msg", ""), ""),
        "error": False,
    }
    ctx.update(context or {})
    assert web.templates is not None
    return web.templates.TemplateResponse(request, template, ctx, status_code=status_code)


# Fixed texts for ?msg=CODE after a redirect: a query parameter never puts its own words on the page.
MESSAGES = {
    "decided": "Decision recorded.",
    "appealed": "Appeal recorded: the item is back in the queue for a different reviewer.",
    "resolved": "Appeal resolved.",
    "order": "Removal order recorded: the one-hour deadline is running.",
    "user": "User added.",
    "actioned": "Removal order actioned.",
    "loggedout": "Logged out.",
}


def _is_https(request: Request) -> bool:
    return request.url.scheme == "https" or cookie_secure_forced()


def _safe_next(value: str | None) -> str:
    """Only a path on this site (one leading slash, no scheme, no backslash) may be a redirect target."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/queue"
    return value


def create_app(settings: Settings, *, ui: bool = True, serving: bool = False) -> FastAPI:
    """The web app on the store of `settings` (the embedded SQLite store by default).

    `ui=False` leaves out the review pages, the login form and /docs: an API-only app (API keys only), which
    `posbon serve --api-only` runs in several processes (a browser session lives in one process's memory).
    `serving=True` (a long-running server): the match index is built now, before the first request, and
    kept current by a background thread instead of by the requests (tests leave it off).
    """
    store = Store.open(settings.database_url)
    web = WebState(
        settings=settings,
        store=store,
        services=Services(store),
        sessions=SessionStore(load_secret_key(settings.data_dir)),
        templates=_templates(),
        ui=ui,
    )
    app = FastAPI(
        title="posbon review API",
        version=__version__,
        description=(
            "Review queue, decisions, appeals and removal orders. Authenticate with "
            "`Authorization: Bearer KEY` (an API key made by an admin) or a browser session "
            "(then state-changing requests need the `X-CSRF-Token` header)."
        ),
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.web = web
    app.add_middleware(MatchFastPath)  # inside SecurityHeaders: fast answers carry the headers too
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(packages=[("posbon.web", "static")]), name="static")

    _install_error_handlers(app)
    _install_health_routes(app)
    if ui:
        _install_login_routes(app)
        _install_docs_routes(app)

    from posbon.web.api import router as api_router
    from posbon.web.hma import router as hma_router
    from posbon.web.items_api import router as items_router
    from posbon.web.pages import router as pages_router
    from posbon.web.platform_api import router as platform_router

    if ui:
        app.include_router(pages_router)
    app.include_router(api_router)
    app.include_router(platform_router)
    app.include_router(hma_router)
    app.include_router(items_router)
    from posbon.web.metrics import router as metrics_router  # /metrics, /readyz

    app.include_router(metrics_router)
    if serving:
        from posbon.match.service import MatchService

        service = MatchService(store, settings)
        service.snapshot()  # a store that cannot be read fails here, not on the first lookup
        service.start_polling()
        app.state.match_service = service
    return app


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotAuthenticated)
    async def not_authenticated(request: Request, _exc: NotAuthenticated) -> Response:
        if wants_json(request):
            return JSONResponse(
                {"detail": "authentication required: send Authorization: Bearer KEY or log in"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        return _error(request, 403, "Forbidden", exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else "request refused"
        headers = dict(exc.headers) if exc.headers else None
        return _error(request, exc.status_code, _TITLES.get(exc.status_code, "Error"), detail, headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        # The errors echo the input (values, keys). JSON may carry lone surrogates, which UTF-8 cannot
        # encode: the answer would fail (a 500), so every string in it is made encodable ("?" for those).
        def encodable(value: Any) -> Any:
            if isinstance(value, str):
                return value.encode("utf-8", "replace").decode("utf-8")
            if isinstance(value, dict):
                return {encodable(k): encodable(v) for k, v in value.items()}
            if isinstance(value, list | tuple):
                return [encodable(v) for v in value]
            return value

        errors: list[dict[str, Any]] = encodable(jsonable_encoder(exc.errors()))
        if wants_json(request):
            return JSONResponse({"detail": errors}, status_code=422)
        fields = ", ".join(".".join(str(p) for p in e.get("loc", ())[1:]) for e in errors)
        return _error(request, 422, "Invalid input", f"check these fields: {fields}")


_TITLES = {400: "Bad request", 403: "Forbidden", 404: "Not found", 405: "Method not allowed", 409: "Conflict"}


def _error(
    request: Request, status: int, title: str, detail: str, headers: dict[str, str] | None = None
) -> Response:
    if wants_json(request):
        return JSONResponse({"detail": detail}, status_code=status, headers=headers)
    response = render(
        request, "error.html", {"status": status, "title": title, "detail": detail}, status_code=status
    )
    if headers:
        response.headers.update(headers)
    return response


def api_app_from_env() -> FastAPI:
    """The API-only app on the store the environment names (POSBON_DATA_DIR, POSBON_DATABASE_URL): the
    factory each process of `posbon serve --api-only --workers N` calls."""
    return create_app(Settings.load(), ui=False, serving=True)


def _install_health_routes(app: FastAPI) -> None:
    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}


def _install_login_routes(app: FastAPI) -> None:
    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        # a static file, public like everything under /static
        return FileResponse(
            Path(str(resources.files("posbon.web") / "static" / "favicon.svg")), media_type="image/svg+xml"
        )

    @app.get("/", include_in_schema=False)
    def root(request: Request) -> Response:
        if principal_of(request) is None:
            return RedirectResponse("/login", status_code=303)
        return RedirectResponse("/queue", status_code=303)

    @app.get("/login", include_in_schema=False)
    def login_form(request: Request, next: str = "/queue") -> Response:
        return _login_page(request, next)

    @app.post("/login", include_in_schema=False)
    def login(
        request: Request,
        username: str = Form(..., max_length=100),
        password: str = Form(..., max_length=1000),
        csrf_token: str = Form(""),
        next: str = Form("/queue"),
    ) -> Response:
        web: WebState = request.app.state.web
        expected = web.sessions.login_token_from_cookie(request.cookies.get(LOGIN_CSRF_COOKIE))
        if not same_token(csrf_token, expected):
            return _login_page(request, next, "The login form expired: try again.", 403)
        address = request.client.host if request.client else "unknown"
        wait = web.limiter.retry_after(username, address)
        if wait:
            web.services.record_login(username, False)
            response = _login_page(
                request, next, f"Too many failed logins: try again in {(wait + 59) // 60} minutes.", 429
            )
            response.headers["Retry-After"] = str(wait)
            return response
        account = web.services.verify_password(username, password)
        web.services.record_login(username, account is not None)
        if account is None:
            web.limiter.failed(username, address)
            return _login_page(request, next, "Wrong user name or password.", 401)
        web.limiter.succeeded(username, address)
        # A fresh session id on every login (never reuse one a visitor brought along: session fixation).
        previous = web.sessions.from_cookie(request.cookies.get(SESSION_COOKIE))
        if previous is not None:
            web.sessions.drop(previous.sid)
        session = web.sessions.create(account.name, account.role)
        done = RedirectResponse(_safe_next(next), status_code=303)
        done.set_cookie(
            SESSION_COOKIE,
            web.sessions.cookie_value(session),
            max_age=web.sessions.lifetime_s,
            httponly=True,
            samesite="strict",
            secure=_is_https(request),
            path="/",
        )
        done.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
        log.info("login: %s (%s)", account.name, account.role)
        return done

    @app.post("/logout", include_in_schema=False)
    def logout(
        request: Request,
        principal: Viewer,
    ) -> Response:
        web: WebState = request.app.state.web
        if principal.session is not None:
            web.sessions.drop(principal.session.sid)
        response = RedirectResponse("/login?msg=loggedout", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response


def _login_page(request: Request, next_url: str, problem: str = "", status: int = 200) -> HTMLResponse:
    web: WebState = request.app.state.web
    token, cookie = web.sessions.new_login_token()
    message = problem or MESSAGES.get(request.query_params.get("msg", ""), "")
    response = render(
        request,
        "login.html",
        {"login_csrf": token, "next_url": _safe_next(next_url), "message": message, "error": bool(problem)},
        status_code=status,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        cookie,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=_is_https(request),
        path="/login",
    )
    return response


def _install_docs_routes(app: FastAPI) -> None:
    @app.get("/openapi.json", include_in_schema=False, dependencies=[Depends(VIEWER)])
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=[Depends(VIEWER)])
    def docs(request: Request) -> HTMLResponse:
        web: WebState = request.app.state.web
        assert web.templates is not None
        return web.templates.TemplateResponse(request, "docs.html", {})

    @app.get("/docs/assets/{name}", include_in_schema=False, dependencies=[Depends(VIEWER)])
    def docs_asset(name: str) -> Response:
        # Swagger UI's files come from the swagger-ui-bundle package: no CDN.
        import swagger_ui_bundle

        if name not in ("swagger-ui.css", "swagger-ui-bundle.js"):
            return JSONResponse({"detail": "not found"}, status_code=404)
        return FileResponse(os.path.join(swagger_ui_bundle.swagger_ui_path, name))
