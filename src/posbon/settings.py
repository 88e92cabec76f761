"""posbon's configuration: one settings object, read once from the environment and the command line."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATA_DIR = Path.home() / ".local" / "share" / "posbon"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    pseudonym_key: bytes
    pdq_threshold: int = 31  # PDQ Hamming distance at or below which two images match
    text_threshold: float = 0.6  # near-duplicate text similarity at or above which texts match
    # "full" keeps each post's content; "minimal" keeps only signals and decisions (docs/platform.md)
    store_content: str = "full"

    @classmethod
    def load(cls, data_dir: Path | None = None) -> Settings:
        """Settings from arguments, then the environment (POSBON_*), then defaults."""
        directory = data_dir or Path(os.environ.get("POSBON_DATA_DIR") or DEFAULT_DATA_DIR)
        directory = directory.expanduser()
        url = os.environ.get("POSBON_DATABASE_URL") or f"sqlite:///{directory / 'posbon.db'}"
        return cls(
            data_dir=directory,
            database_url=url,
            pseudonym_key=_pseudonym_key(directory),
            pdq_threshold=int(_number("POSBON_PDQ_THRESHOLD", "31", int, 0, 256)),
            text_threshold=_number("POSBON_TEXT_THRESHOLD", "0.6", float, 0.0, 1.0),
            store_content=store_content_mode(),
        )


def _number(name: str, default: str, kind: type[int] | type[float], low: float, high: float) -> float:
    """A numeric POSBON_* variable, or a ValueError that names it and says what it must be."""
    raw = os.environ.get(name, default)
    try:
        value = kind(raw)
    except ValueError:
        raise ValueError(f"{name}: expected a number from {low:g} to {high:g}, got {raw!r}") from None
    if not low <= value <= high:
        raise ValueError(f"{name}: expected a number from {low:g} to {high:g}, got {raw!r}")
    return value


STORE_CONTENT_MODES = ("full", "minimal")


def store_content_mode() -> str:
    """POSBON_STORE_CONTENT: "full" (the default) or "minimal"; anything else is refused with the reason."""
    mode = (os.environ.get("POSBON_STORE_CONTENT") or "full").strip().lower()
    if mode not in STORE_CONTENT_MODES:
        raise ValueError(f"POSBON_STORE_CONTENT: expected 'full' or 'minimal', got {mode!r}")
    return mode


def _pseudonym_key(directory: Path) -> bytes:
    """The key for pseudonymising author ids: POSBON_PSEUDONYM_KEY, else a random key kept in the data dir.

    The key file is created on first use with owner-only permissions. Losing it means the same author gets
    a different pseudonym in later scans; it never lets anyone recover the original id.
    """
    from_env = os.environ.get("POSBON_PSEUDONYM_KEY")
    if from_env:
        return from_env.encode()
    key_file = directory / "pseudonym.key"
    if key_file.exists():
        return key_file.read_bytes().strip()
    directory.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode()
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    return key
