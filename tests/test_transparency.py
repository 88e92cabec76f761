"""The transparency report: self-contained HTML with inline SVG charts and the Art. 7 counts, escaped."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from posbon.policy import load_profile
from posbon.report.transparency import figures
from posbon.review import action_order, appeal, decide, record_order, resolve_appeal
from posbon.store import Store
from review_helpers import add_items, add_reviewers, cli_app, item_row

EU = load_profile("eu")


def test_report_counts_and_html(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'posbon-data' / 'posbon.db'}")
    add_reviewers(store, "alice", "bob")
    rows = [item_row(n) for n in range(1, 6)]
    rows[4]["source"] = "<script>alert(1)</script>"
    add_items(store, rows)
    d1 = decide(store, "item00000001", "remove", reviewer="alice", reason="banked", policy=EU)
    decide(store, "item00000002", "label", reviewer="alice", reason="quote", policy=EU)
    o = record_order(store, "item00000003", authority="Authority", reference="RO-1")
    action_order(store, o.id, reviewer="alice", policy=EU)
    late = record_order(
        store,
        "item00000004",
        authority="Authority",
        reference="RO-2",
        received_at=datetime.now(UTC) - timedelta(hours=3),
    )
    action_order(store, late.id, reviewer="bob", policy=EU, not_actioned_reason="manifest error")
    decide(store, "item00000005", "remove", reviewer="alice", reason="banked", policy=EU)
    a = appeal(store, d1.id, "my documentary")
    resolve_appeal(store, a.id, reviewer="bob", upheld=False, reason="documentary")
    today = datetime.now(UTC).date()
    f = figures(store, today - timedelta(days=1), today)
    assert (f.removed_after_orders, f.removed_otherwise) == (1, 2)
    assert f.orders == 2 and f.orders_in_time == 1 and f.orders_not_actioned == [("manifest error", 1)]
    assert (f.complaints, f.complaints_reversed, f.restored, f.reversal_rate) == (1, 1, 1, 1.0)
    assert f.hours_median is not None and f.hours_p90 is not None and f.hours_p90 >= f.hours_median
    out = tmp_path / "t.html"
    result = CliRunner().invoke(
        cli_app(),
        [
            "report",
            "transparency",
            "--from",
            str(today - timedelta(days=1)),
            "--to",
            str(today),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.stderr
    html = out.read_text(encoding="utf-8")
    assert "<svg" in html and "Article 7" in html and "manifest error" in html
    assert "<script" not in html and "&lt;script&gt;" in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
    empty = figures(store, today - timedelta(days=30), today - timedelta(days=20))
    assert empty.decisions == 0 and empty.reversal_rate is None


def test_bad_dates_are_one_line_errors(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli_app(), ["report", "transparency", "--from", "2026-13-01", "--to", "2026-12-01"]
    )
    assert result.exit_code == 2 and "--from" in result.stderr
