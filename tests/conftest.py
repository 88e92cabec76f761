from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test gets its own data dir and never touches the user's, nor a database from the environment."""
    monkeypatch.setenv("POSBON_DATA_DIR", str(tmp_path / "posbon-data"))
    monkeypatch.delenv("POSBON_DATABASE_URL", raising=False)
    monkeypatch.delenv("POSBON_PSEUDONYM_KEY", raising=False)
    yield
