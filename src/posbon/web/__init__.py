"""posbon's review web app: `create_app(settings)` -> FastAPI (pages, JSON API /api/v1, OpenAPI docs)."""

from posbon.web.app import create_app

__all__ = ["create_app"]
