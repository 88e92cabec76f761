"""What every command module shares: the consoles, exit codes, the global state and the store opener.

Kept apart from cli.py so that command modules (cli_review, cli_rules, ...) import it without importing
the main app, which registers them: no import cycle.

Exit codes (documented in the README):
  0  everything was read and stored
  1  the command finished, but some input was skipped (each skip was reported on its own line)
  2  the command line was wrong (unknown option, missing argument)
  3  the store could not be opened or written (nothing was changed)
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from posbon.domain import Problem
from posbon.settings import Settings
from posbon.store import Store, StoreError

EXIT_OK = 0
EXIT_SKIPPED = 1
EXIT_USAGE = 2
EXIT_STORE = 3

out = Console()
err = Console(stderr=True, highlight=False)


class State:
    """Global options (--data-dir), set by the main callback before any command runs."""

    data_dir: Path | None = None

    def settings(self) -> Settings:
        try:
            return Settings.load(self.data_dir)
        except ValueError as exc:  # a malformed POSBON_* setting: one line, not a traceback
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(EXIT_USAGE) from exc


state = State()


def _open_store(settings: Settings) -> Store:
    try:
        return Store.open(settings.database_url)
    except StoreError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(EXIT_STORE) from exc


def _say_problem(problem: Problem, console: Console | None = None) -> None:
    label = "[cyan]note:[/cyan]" if problem.note else "[yellow]skipped:[/yellow]"
    (console or err).print(f"{label} {problem}", markup=True, soft_wrap=True, highlight=False)
