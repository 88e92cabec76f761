"""Access audit: item, media and JSON opens go into the hash-chained audit log; admins report on them."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from posbon.review import verify
from posbon.review.access import ACCESS_ITEM, ACCESS_MEDIA, access_report, record_access
from posbon.review.audit import records
from test_web_support import build, client, login


def test_record_access_is_one_chained_record(tmp_path: Path) -> None:
    from review_helpers import open_store

    store = open_store(tmp_path)
    record_access(store, actor="vera", item_id="item00000001")
    record_access(store, actor="vera", item_id="item00000001", media_index=0)
    rows = records(store, limit=10)
    assert [r.action for r in rows] == [ACCESS_MEDIA, ACCESS_ITEM]
    assert rows[0].subject == "item:item00000001" and rows[0].details == {"via": "web", "media_index": 0}
    checked, breaks = verify(store)
    assert checked == 2 and breaks == []


def test_web_opens_are_recorded_and_reported_to_admins_only(tmp_path: Path) -> None:
    fx = build(tmp_path)
    item = fx.items[0]
    c = client(fx)
    login(c, "vera")
    before = len(access_report(fx.store))
    assert c.get(f"/items/{item}").status_code == 200
    assert c.get(f"/items/{item}/media/0").status_code == 200
    assert c.get(f"/api/v1/items/{item}").status_code == 200
    assert c.get("/items/nosuchitem").status_code == 404  # nothing recorded for a missing item
    entries = access_report(fx.store, actor="vera")
    assert len(entries) - before == 3
    assert [(e.action, e.via, e.item_id) for e in entries[:3]] == [
        (ACCESS_ITEM, "api", item),
        (ACCESS_MEDIA, "media", item),
        (ACCESS_ITEM, "page", item),
    ]
    assert entries[1].media_index == 0
    assert c.get("/admin/access").status_code == 403  # a viewer may not read the access log
    admin = client(fx)
    login(admin, "ada")
    page = admin.get("/admin/access?actor=vera")
    assert page.status_code == 200 and item in page.text and "access.media" in page.text
    assert admin.get("/admin/access?since=not-a-date").status_code == 400
    _, breaks = verify(fx.store)
    assert breaks == []


def test_cli_audit_access(tmp_path: Path, monkeypatch: object) -> None:
    fx = build(tmp_path)
    record_access(fx.store, actor="rita", item_id=fx.items[0])
    record_access(fx.store, actor="vera", item_id=fx.items[1])
    from posbon.cli import app
    from posbon.cli_misuse import register
    from posbon.cli_review import register as register_review

    if not any(g.name == "audit" for g in app.registered_groups):
        register_review(app)
    if not any(g.name == "misuse" for g in app.registered_groups):
        register(app)
    runner = CliRunner()
    env = {"POSBON_DATA_DIR": str(fx.settings.data_dir)}
    r = runner.invoke(app, ["audit", "access", "--actor", "rita"], env=env)
    assert r.exit_code == 0, r.output
    assert fx.items[0] in r.output and fx.items[1] not in r.output
    assert runner.invoke(app, ["audit", "access", "--since", "bad"], env=env).exit_code == 2
    assert isinstance(app, typer.Typer)
