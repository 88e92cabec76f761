"""Users, passwords (argon2), API keys (sha256 of a token shown once), audited logins, and the CLI."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from posbon.review import (
    ReviewError,
    create_api_key,
    create_user,
    list_users,
    record_login,
    records,
    revoke_api_key,
    set_user_disabled,
    verify_api_key,
    verify_password,
)
from posbon.review.accounts import PasswordHasher
from review_helpers import PASSWORD, cli_app, open_store


def test_users_and_passwords(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    create_user(store, "alice", PASSWORD, "reviewer")
    with pytest.raises(ReviewError, match="already exists"):
        create_user(store, "alice", PASSWORD, "admin")
    with pytest.raises(ReviewError, match="role must be"):
        create_user(store, "bob", PASSWORD, "god")
    with pytest.raises(ReviewError, match="at least"):
        create_user(store, "bob", "short", "viewer")
    user = verify_password(store, "alice", PASSWORD)
    assert user is not None and user.role == "reviewer"
    assert verify_password(store, "alice", "wrong password!") is None
    assert verify_password(store, "nobody", PASSWORD) is None
    set_user_disabled(store, "alice", True)
    assert verify_password(store, "alice", PASSWORD) is None
    assert [u.username for u in list_users(store)] == ["alice"]
    (stored,) = sqlite3.connect(tmp_path / "review.db").execute("SELECT password_hash FROM users").fetchone()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_logins_are_audited(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    record_login(store, "alice", True)
    record_login(store, "alice", False)
    assert [r.action for r in records(store)] == ["login.failed", "login.ok"]


def test_api_keys(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    token = create_api_key(store, "ingest-bot", "viewer")
    assert len(token) > 40
    key = verify_api_key(store, token)
    assert key is not None and key.name == "ingest-bot" and key.role == "viewer"
    assert verify_api_key(store, token + "x") is None
    dump = "\n".join(sqlite3.connect(tmp_path / "review.db").iterdump())
    assert token not in dump
    revoke_api_key(store, "ingest-bot")
    assert verify_api_key(store, token) is None


def test_production_hash_setting_verifies() -> None:
    from posbon.review import accounts

    hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
    assert accounts._hasher is not None
    assert hasher.verify(hasher.hash(PASSWORD), PASSWORD)


def test_cli_user_add_reads_password_from_stdin(tmp_path: Path) -> None:
    runner = CliRunner()
    app = cli_app()
    result = runner.invoke(
        app, ["user", "add", "carol", "--role", "admin", "--password-stdin"], input=PASSWORD + "\n"
    )
    assert result.exit_code == 0, result.stderr
    assert "carol" in result.stdout
    listed = runner.invoke(app, ["user", "list"])
    assert "carol" in listed.stdout and "admin" in listed.stdout
    bad = runner.invoke(
        app, ["user", "add", "dave", "--role", "god", "--password-stdin"], input=PASSWORD + "\n"
    )
    assert bad.exit_code == 2 and "role must be" in bad.stderr
