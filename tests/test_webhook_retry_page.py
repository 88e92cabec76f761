"""The admin page of webhook deliveries: lists status, attempts and last error (never a secret), and its
Retry button (a POST form with the CSRF token) puts a failed delivery up again, audited; reviewers get 403."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from posbon.platform import webhooks
from posbon.platform.webhooks import add_endpoint, deliver_pending, list_deliveries
from posbon.review import decide
from posbon.review.policies import active_policy
from posbon.store.review_models import AuditRecordRow
from test_web_support import build, client, login

SECRET = "stand-in-secret-for-tests-0123456789"


def _failed_delivery(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[object, int]:
    monkeypatch.setenv("POSBON_HOOK_KEY", SECRET)
    monkeypatch.setattr(webhooks, "MAX_ATTEMPTS", 1)
    fx = build(tmp_path)
    # port 9 on 127.0.0.1: nobody listens, so every attempt fails at once
    add_endpoint(fx.store, "http://user:pw-in-url@127.0.0.1:9/hook?token=t0k3n", "POSBON_HOOK_KEY")
    decide(fx.store, "item0003", "no_action", reviewer="rita", reason="r", policy=active_policy(fx.store))
    deliver_pending(fx.store, now=datetime.now(UTC) + timedelta(seconds=1))
    failed = list_deliveries(fx.store, status="failed")
    assert failed, [d.status for d in list_deliveries(fx.store)]
    return fx, failed[0].id


def test_admin_sees_failed_deliveries_and_retries_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fx, delivery_id = _failed_delivery(tmp_path, monkeypatch)
    c = client(fx)
    token = login(c, "ada")
    page = c.get("/admin/webhooks?status=failed")
    assert page.status_code == 200
    row = re.search(rf'<tr id="delivery-{delivery_id}".*?</tr>', page.text, re.S)
    assert row and "failed" in row.group(0) and 'class="attempts">1<' in row.group(0)
    assert 'class="last-error"></td>' not in row.group(0)  # the last error is shown
    for secret in (SECRET, "POSBON_HOOK_KEY", "pw-in-url", "t0k3n"):
        assert secret not in page.text, secret
    form = re.search(
        rf'action="/admin/webhooks/{delivery_id}/retry".*?name="csrf_token" value="([^"]+)"', page.text, re.S
    )
    assert form and form.group(1) == token

    assert c.post(f"/admin/webhooks/{delivery_id}/retry", data={}).status_code == 403  # no CSRF token
    r = c.post(f"/admin/webhooks/{delivery_id}/retry", data={"csrf_token": token})
    assert r.status_code == 303 and r.headers["location"].startswith("/admin/webhooks")
    assert webhooks.get_delivery(fx.store, delivery_id).status == "pending"  # type: ignore[union-attr]
    with fx.store.session() as s:
        audited = s.query(AuditRecordRow).filter(AuditRecordRow.action == "webhook.retry").all()
        assert [(a.actor, a.subject) for a in audited] == [("ada", f"delivery:{delivery_id}")]
    after = c.get("/admin/webhooks")
    assert f'action="/admin/webhooks/{delivery_id}/retry"' not in after.text  # pending: no button now
    # an unknown delivery is a 404
    assert c.post("/admin/webhooks/999999/retry", data={"csrf_token": token}).status_code == 404


def test_reviewer_gets_403(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fx, delivery_id = _failed_delivery(tmp_path, monkeypatch)
    c = client(fx)
    token = login(c, "rita")
    assert c.get("/admin/webhooks").status_code == 403
    assert c.post(f"/admin/webhooks/{delivery_id}/retry", data={"csrf_token": token}).status_code == 403
    assert webhooks.get_delivery(fx.store, delivery_id).status == "failed"  # type: ignore[union-attr]
