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
        api_only: Annotated[
            bool,
            typer.Option(
                "--api-only",
                help="Serve only the APIs (match API, items, notices, metrics) for API keys: no review "
                "pages, no login form.",
            ),
        ] = False,
        workers: Annotated[
            int,
            typer.Option(
                "--workers",
                min=1,
                max=64,
                help="Processes answering on the port (needs --api-only above 1; about one per core).",
            ),
        ] = 1,
        access_log: Annotated[
            bool,
            typer.Option(
                "--access-log/--no-access-log",
                help="Log every request (off by default: a line per match lookup costs throughput).",
            ),
        ] = False,
    ) -> None:
        """Serve the review pages and the JSON API (log in first: add a user with `posbon user add`).

        Example: [bold]posbon serve --port 8000[/bold], then open http://127.0.0.1:8000/

        A match server for platforms, one process per core, API keys only:
        [bold]posbon serve --api-only --workers 2 --host 0.0.0.0 --port 8080[/bold]
        (docs/production.md). Behind an https proxy, or with POSBON_COOKIE_SECURE=1, the session cookie is
        marked Secure. POSBON_SECRET_KEY sets the session signing key (default: a random key kept in the
        data dir).
        """
        import os

        import uvicorn

        from posbon.cli_common import EXIT_STORE, EXIT_USAGE, err, out, state
        from posbon.store import StoreError
        from posbon.web import create_app
        from posbon.web.serving import uvicorn_options

        if workers > 1 and not api_only:
            err.print(
                "[red]error:[/red] --workers above 1 needs --api-only: a browser session lives in one "
                "process, so run the review pages as their own `posbon serve`"
            )
            raise typer.Exit(EXIT_USAGE)
        settings = state.settings()
        try:
            # one process: the index is built now; several: each worker builds its own, this only checks
            web_app = create_app(settings, ui=not api_only, serving=workers == 1)
        except StoreError as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(EXIT_STORE) from exc
        what = "posbon API" if api_only else "posbon review"
        out.print(f"{what} on http://{host}:{port}/ (data in {settings.data_dir}); Ctrl-C stops it")
        if workers == 1:
            uvicorn.run(web_app, host=host, port=port, **uvicorn_options(access_log))
            return
        # Each worker process builds its app from the environment: pass on the data dir the options chose.
        os.environ["POSBON_DATA_DIR"] = str(settings.data_dir)
        os.environ["POSBON_DATABASE_URL"] = settings.database_url
        del web_app
        # /metrics answers from whichever process the scrape reaches: the processes' counters and
        # histograms go to files in one directory (prometheus_client's multiprocess mode) and /metrics
        # adds them up, so a scrape never sees one process's share as a counter reset.
        import shutil
        import tempfile

        own_metrics_dir = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if own_metrics_dir:
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="posbon-metrics-")
        try:
            _serve_processes(host, port, workers, access_log)
        finally:
            if own_metrics_dir:
                shutil.rmtree(os.environ.pop("PROMETHEUS_MULTIPROC_DIR"), ignore_errors=True)

    def _serve_processes(host: str, port: int, workers: int, access_log: bool) -> None:
        import uvicorn

        from posbon.cli_common import EXIT_USAGE, err
        from posbon.web.serving import ServeError, reuse_port_supported, serve_workers, uvicorn_options

        if reuse_port_supported():  # a socket per process: the kernel spreads the connections
            try:
                serve_workers(host, port, workers, access_log=access_log)
            except ServeError as exc:
                err.print(f"[red]error:[/red] {exc}")
                raise typer.Exit(EXIT_USAGE) from exc
            return
        uvicorn.run(
            "posbon.web.app:api_app_from_env",
            factory=True,
            workers=workers,
            host=host,
            port=port,
            **uvicorn_options(access_log),
        )
