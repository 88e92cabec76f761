"""Named queues: items a live routing rule routed show up under their queue name in the review queue (the
service, the page, the JSON API and `posbon review queue --queue`); "default" holds the ones no rule routed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from posbon.review import decide
from posbon.review.policies import active_policy
from posbon.review.queue import DEFAULT_QUEUE, known_queues, queue, queue_size
from posbon.rules import apply_rules, load_rule, routes, rule_from_document, set_status
from review_helpers import cli_app
from test_web_support import Fixture, build, client, login

# build() stores item0001 (match, bank_match evidence, risk 0.95), item0002 (review, 0.8), item0003 (review,
# 0.4) and fillers item0010.. (review, 0.1). Routed: item0001 -> bank-desk (bank evidence, tried first),
# item0002 -> triage (risk >= 0.7); item0001 matches "triage" too, but the first live match wins.
BANK_DESK = {"evidence": {"kind": "bank_match"}}
HIGH_RISK = {"risk_gte": 0.7}
EXPECTED = {"bank-desk": ["item0001"], "triage": ["item0002"]}


def routing_rule(rid: str, status: str, when: dict[str, Any], queue_name: str, order: int) -> Any:
    return rule_from_document(
        {
            "id": rid,
            "version": 1,
            "kind": "routing",
            "status": status,
            "order": order,
            "when": when,
            "then": {"queue": queue_name, "priority_boost": 0.0},
        }
    )


@pytest.fixture
def fx(tmp_path: Path) -> Fixture:
    fx = build(tmp_path, extra_items=3)
    load_rule(fx.store, routing_rule("to-bank-desk", "live", BANK_DESK, "bank-desk", 10))
    load_rule(fx.store, routing_rule("to-triage", "live", HIGH_RISK, "triage", 20))
    # a shadow routing rule only logs: it routes nothing, so its queue is no queue
    load_rule(fx.store, routing_rule("try-all", "shadow", {"risk_gte": 0.0}, "everything", 1))
    result = apply_rules(fx.store, fx.items)
    assert result.routed == 2
    assert {r.item_id: r.queue for r in routes(fx.store)} == {"item0001": "bank-desk", "item0002": "triage"}
    return fx


def ids(entries: list[Any]) -> list[str]:
    return [e.item.item_id if hasattr(e, "item") else e["item_id"] for e in entries]


def test_the_queue_filter_returns_exactly_the_routed_items_in_queue_order(fx: Fixture) -> None:
    whole = queue(fx.store, limit=100)
    default = [i for i in ids(whole) if i not in ("item0001", "item0002")]
    assert set(ids(whole)) == set(fx.items) and len(default) == 4
    for name, expected in EXPECTED.items():
        assert ids(queue(fx.store, limit=100, queue_name=name)) == expected
        assert queue_size(fx.store, queue_name=name) == len(expected)
    # "default": every item no live rule routed, in the same order as in the whole queue
    assert ids(queue(fx.store, limit=100, queue_name=DEFAULT_QUEUE)) == default
    assert queue_size(fx.store, queue_name=DEFAULT_QUEUE) == 4
    assert queue(fx.store, queue_name="everything") == []  # the shadow rule's queue holds nothing
    assert {e.item.item_id: e.routed_queue for e in whole} == {
        i: {"item0001": "bank-desk", "item0002": "triage"}.get(i, DEFAULT_QUEUE) for i in fx.items
    }
    assert {e.routed_by for e in whole} == {"to-bank-desk", "to-triage", None}
    # paging within one named queue
    assert ids(queue(fx.store, limit=2, offset=1, queue_name=DEFAULT_QUEUE)) == default[1:3]
    assert known_queues(fx.store) == [(DEFAULT_QUEUE, 4), ("bank-desk", 1), ("triage", 1)]

    # a decided item leaves its named queue; the name stays known with 0 open items
    decide(fx.store, "item0001", "label", reviewer="rita", reason="stand-in", policy=active_policy(fx.store))
    assert queue(fx.store, queue_name="bank-desk") == []
    assert known_queues(fx.store) == [(DEFAULT_QUEUE, 4), ("bank-desk", 0), ("triage", 1)]


def test_api_queue_listing_filters_and_names_the_queue(fx: Fixture) -> None:
    c = client(fx)
    viewer = {"Authorization": f"Bearer {fx.keys['viewer']}"}
    whole = c.get("/api/v1/queue", headers=viewer).json()
    assert {e["item_id"]: e["queue"] for e in whole} == {
        i: {"item0001": "bank-desk", "item0002": "triage"}.get(i, DEFAULT_QUEUE) for i in fx.items
    }
    for name, expected in EXPECTED.items():
        r = c.get("/api/v1/queue", params={"queue": name}, headers=viewer)
        assert r.status_code == 200 and ids(r.json()) == expected
        assert {e["queue"] for e in r.json()} == {name}
    default = c.get("/api/v1/queue", params={"queue": "default", "limit": 100}, headers=viewer).json()
    assert ids(default) == [i for i in ids(whole) if i not in ("item0001", "item0002")]
    assert c.get("/api/v1/queue", params={"queue": "nowhere"}, headers=viewer).json() == []
    assert c.get("/api/v1/queue", params={"queue": "x" * 101}, headers=viewer).status_code == 422
    assert c.get("/api/v1/queue", params={"queue": "triage"}).status_code == 401  # no key: no queue
    described = c.get("/openapi.json", headers=viewer).json()
    params = described["paths"]["/api/v1/queue"]["get"]["parameters"]
    assert "queue" in {p["name"] for p in params}
    assert "queue" in described["components"]["schemas"]["QueueEntryOut"]["required"]


def test_queue_page_filters_shows_the_queue_and_links_known_queues(fx: Fixture) -> None:
    c = client(fx)
    login(c, "vera")  # a viewer may read the queue
    page = c.get("/queue", params={"queue": "triage"})
    assert page.status_code == 200
    assert 'href="/items/item0002?pos=0&amp;queue=triage"' in page.text
    assert "/items/item0001" not in page.text and "/items/item0003" not in page.text
    assert '<td class="queue-name">triage</td>' in page.text
    # the selector: all, default, and each routed queue name with its open count
    assert 'href="/queue?limit=50"' in page.text
    assert 'href="/queue?queue=default&amp;limit=50">default (4)</a>' in page.text
    assert 'href="/queue?queue=bank-desk&amp;limit=50">bank-desk (1)</a>' in page.text
    assert '<strong aria-current="page">triage (1)</strong>' in page.text

    default = c.get("/queue", params={"queue": "default"}).text
    assert "/items/item0003?pos=0&amp;queue=default" in default
    assert "/items/item0001" not in default and "/items/item0002" not in default

    whole = c.get("/queue").text
    assert '<td class="queue-name">bank-desk</td>' in whole and whole.count('class="queue-name"') == 6

    hostile = c.get("/queue", params={"queue": '<script>alert(1)</script>"'}).text
    assert "<script>alert(1)" not in hostile and "&lt;script&gt;alert(1)&lt;/script&gt;" in hostile

    # j/k on an item page opened from a named queue stay in that queue
    default_ids = ids(queue(fx.store, limit=100, queue_name=DEFAULT_QUEUE))
    item = c.get("/items/item0003", params={"pos": 0, "queue": "default"}).text
    assert f'href="/items/{default_ids[1]}?pos=1&amp;queue=default"' in item


def test_deciding_from_a_named_queue_goes_on_within_it(fx: Fixture) -> None:
    c = client(fx)
    csrf = login(c, "rita")
    form = c.get("/items/item0003", params={"pos": 0, "queue": "default"}).text
    assert '<input type="hidden" name="queue" value="default">' in form
    r = c.post(
        "/items/item0003/decide",
        data={"action": "label", "reason": "stand-in", "pos": "0", "queue": "default", "csrf_token": csrf},
    )
    assert r.status_code == 303
    following = ids(queue(fx.store, limit=1, queue_name=DEFAULT_QUEUE))[0]
    assert following != "item0003" and following not in ("item0001", "item0002")
    assert r.headers["location"] == f"/items/{following}?pos=0&queue=default&msg=decided"
    r = c.post(
        "/items/item0002/decide",
        data={"action": "label", "reason": "stand-in", "pos": "0", "queue": "triage", "csrf_token": csrf},
    )
    assert r.headers["location"] == "/queue?msg=decided&queue=triage"  # triage is empty now


def test_cli_review_queue_filters_by_queue(fx: Fixture, tmp_path: Path) -> None:
    runner = CliRunner()
    app = cli_app()
    base = ["--data-dir", str(tmp_path / "data"), "review", "queue", "-n", "100"]
    triage = runner.invoke(app, [*base, "--queue", "triage"])
    assert triage.exit_code == 0, triage.stderr
    assert "item0002" in triage.stdout and "item0001" not in triage.stdout
    assert "1 items waiting in queue triage." in triage.stdout
    assert "Queues: default (4), bank-desk (1), triage (1)" in triage.stdout
    default = runner.invoke(app, [*base, "--queue", "default"])
    assert default.exit_code == 0, default.stderr
    for item_id in fx.items:
        assert (item_id in default.stdout) == (item_id not in ("item0001", "item0002"))
    assert "4 items waiting in queue default." in default.stdout
    whole = runner.invoke(app, base)
    assert all(item_id in whole.stdout for item_id in fx.items) and "bank-desk" in whole.stdout
    bad = runner.invoke(app, [*base, "--queue", ""])
    assert bad.exit_code == 2 and "--queue" in bad.stderr


def test_a_route_to_an_expired_rule_queue_stays_visible(fx: Fixture) -> None:
    """A route is what a live rule did: expiring the rule later does not move the item back to default."""
    set_status(fx.store, "to-triage", "expired")
    assert ids(queue(fx.store, queue_name="triage")) == ["item0002"]


def test_two_processes_applying_rules_to_the_same_items_at_once_log_and_boost_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two workers (or a worker and a rescan) evaluating the same items read "not logged, not routed yet"
    # before either writes. The write takes the items' row locks and reads the hits again, so each rule
    # version is logged once per item and a routing rule's priority boost is added once.
    import threading
    import time

    from sqlalchemy import func, select

    import posbon.rules.service as rules_service
    from posbon.store.review_models import QueueEntryRow
    from posbon.store.rules_models import RuleHitRow

    fx = build(tmp_path, extra_items=3)
    boosted = rule_from_document(
        {
            "id": "to-triage",
            "version": 1,
            "kind": "routing",
            "status": "live",
            "order": 1,
            "when": HIGH_RISK,
            "then": {"queue": "triage", "priority_boost": 0.5},
        }
    )
    load_rule(fx.store, boosted)
    load_rule(fx.store, routing_rule("try-all", "shadow", {"risk_gte": 0.0}, "everything", 2))
    with fx.store.session() as s:
        before = dict(s.execute(select(QueueEntryRow.item_id, QueueEntryRow.priority)).all())

    original = rules_service.evaluate

    def slow(*args: Any) -> Any:
        time.sleep(0.02)  # every evaluation: both racers have read `logged` before either writes
        return original(*args)

    monkeypatch.setattr(rules_service, "evaluate", slow)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def run() -> None:
        start.wait(timeout=30)
        try:
            apply_rules(fx.store, fx.items)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    with fx.store.session() as s:
        counts = s.execute(
            select(RuleHitRow.rule_id, RuleHitRow.item_id, func.count()).group_by(
                RuleHitRow.rule_id, RuleHitRow.item_id
            )
        ).all()
        after = dict(s.execute(select(QueueEntryRow.item_id, QueueEntryRow.priority)).all())
    assert counts and {n for _, _, n in counts} == {1}
    assert {item for rule, item, _ in counts if rule == "try-all"} == set(fx.items)
    routed = {r.item_id for r in routes(fx.store)}
    assert routed == {"item0001", "item0002"}
    for item_id, priority in after.items():
        expected = before[item_id] - (0.5 if item_id in routed else 0.0)
        assert priority == pytest.approx(expected), item_id
