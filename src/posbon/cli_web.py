"""`posbon serve`: the review web app (pages, JSON API, OpenAPI docs) on the default store.

The main app registers it: `from posbon.cli_web import register; register(app)`.
"""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8000,
    ) -> None:
        """Serve the review pages and the JSON API (log in first: add a user with `posbon user add`).

        Example: [bold]posbon serve --port 8000[/bold], then open http://127.0.0.1:8000/

        Behind an https proxy, or with POSBON_COOKIE_SECURE=1, the session cookie is marked Secure.
        POSBON_SECRET_KEY sets the session signing key (default: a random key kept in the data dir).
        """
        import uvicorn

        from posbon.cli_common import EXIT_STORE, err, out, state
        from posbon.store import StoreError
        from posbon.web import create_app

        settings = state.settings()
        try:
            web_app = create_app(settings)
        except StoreError as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(EXIT_STORE) from exc
        out.print(f"posbon review on http://{host}:{port}/ (data in {settings.data_dir}); Ctrl-C stops it")
        # proxy_headers: behind a local reverse proxy, X-Forwarded-Proto=https marks cookies Secure
        uvicorn.run(web_app, host=host, port=port, proxy_headers=True, log_level="info")
