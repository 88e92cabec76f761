"""A reviewer's day in a real browser: log in, work through the queue with the keyboard, decide, record a
removal order and watch its countdown, appeal (resolved by another reviewer), see overdue orders stand out,
open the transparency report."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from posbon.review import record_order
from posbon.store import Store
from test_web_support import PASSWORD


def _login(page: Any, base: str, user: str) -> None:
    page.goto(f"{base}/queue")
    assert page.url.startswith(f"{base}/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/queue.*"))


def _logout(page: Any) -> None:
    page.click("header form button[type=submit]")
    page.wait_for_url(re.compile(r".*/login.*"))


def test_review_flow(site: dict[str, Any], browser: Any) -> None:
    base, fx = site["base"], site["fx"]
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console", lambda msg: errors.append(f"{msg.text} {msg.location}") if msg.type == "error" else None
    )

    _login(page, base, "rita")
    rows = page.locator("#queue tbody tr")
    assert rows.count() == 3
    assert "item0001" in rows.nth(0).inner_text()  # the bank match has the highest priority
    # keyboard: j moves the selection down, k back up, Enter opens the selected item
    page.keyboard.press("j")
    assert "selected" in (rows.nth(1).get_attribute("class") or "")
    page.keyboard.press("k")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/items/item0001\?pos=0"))

    # the evidence: highlighted span, bank match, banked text side by side, OCR box, language
    assert page.locator("mark.indicator").first.inner_text() == "Join the lantern caravan"
    assert "lantern-bank" in page.locator("#matches").inner_text()
    assert "the road opens at dawn" in page.locator(".near-duplicate").inner_text()
    assert "4, 5, 60, 20" in page.locator("#ocr").inner_text()
    assert page.locator("#item-language").inner_text() == "tg"
    # media start blurred and greyscale; a click reveals them
    image = page.locator(".media-tile img").first
    image.wait_for()
    assert "blur" in image.evaluate("e => getComputedStyle(e).filter")
    assert "grayscale" in image.evaluate("e => getComputedStyle(e).filter")
    page.locator(".media-tile button.reveal").first.click()
    assert page.locator(".media-tile").first.get_attribute("class") == "media-tile revealed"
    page.wait_for_function(
        "() => getComputedStyle(document.querySelector('.media-tile img')).filter === 'none'"
    )
    assert image.evaluate("e => e.naturalWidth") == 64  # served through the authenticated media route

    # decide with the keyboard: l = label (final under the eu policy); the next queued item opens
    page.keyboard.press("l")
    page.wait_for_url(re.compile(r".*/items/item0002\?pos=0.*"))
    assert "Decision recorded" in page.locator(".flash").inner_text()

    # record a removal order on this item: the deadline counts down (static JS)
    page.fill("#order-form input[name=authority]", "Stand-in Authority")
    page.fill("#order-form input[name=reference]", "RO-2026-001")
    page.click("#order-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/items/item0002\?msg=order"))
    countdown = page.locator("#orders time.deadline").first
    page.wait_for_function(
        "() => /^(59|60):\\d\\d left$/.test(document.querySelector('#orders time.deadline').textContent)"
    )
    first_text = countdown.inner_text()
    page.wait_for_timeout(1200)
    assert countdown.inner_text() != first_text  # it is ticking

    # an order received two hours ago is overdue and stands out on the orders page
    store = Store.open(fx.settings.database_url)
    try:
        record_order(
            store,
            "item0003",
            authority="Stand-in Authority",
            reference="RO-LATE",
            received_at=datetime.now(UTC) - timedelta(hours=2),
        )
    finally:
        store.close()
    page.goto(f"{base}/orders?overdue=1")
    late = page.locator("#orders tbody tr.overdue")
    assert late.count() == 1 and "RO-LATE" in late.inner_text()
    assert "OVERDUE" in late.locator("time.deadline").inner_text()
    assert page.locator("#orders time.deadline.overdue").count() == 1

    # a complaint against rita's decision on item0001
    page.goto(f"{base}/items/item0001")
    page.fill(".appeal-form input[name=complaint]", "This was a news quote, please look again.")
    page.click(".appeal-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/items/item0001\?msg=appealed"))
    assert "open" in page.locator("#appeals").inner_text()
    # rita took the decision: the appeal is not in her queue
    page.goto(f"{base}/queue")
    assert "item0001" not in page.locator("body").inner_text()
    _logout(page)

    # ravi, another reviewer, finds it in his queue and reverses the decision: the item is restored
    _login(page, base, "ravi")
    appealed = page.locator("#queue tbody tr", has_text="item0001")
    assert "appeal" in appealed.inner_text()
    appealed.locator("a").click()
    page.fill(".resolve-form input[name=reason]", "Reporting, not promotion.")
    page.click(".resolve-form button[value=reversed]")
    page.wait_for_url(re.compile(r".*/items/item0001\?msg=resolved"))
    assert "reversed" in page.locator("#appeals").inner_text()
    assert "reversed" in page.locator("#decisions").inner_text()
    _logout(page)

    # a viewer opens the transparency report
    _login(page, base, "vera")
    page.click("text=Transparency report")
    page.wait_for_url(re.compile(r".*/transparency"))
    report = page.locator("#report").inner_text()
    assert re.search(r"complaints reversed\s+1", report), report
    page.click("#full-report")
    page.wait_for_url(re.compile(r".*/transparency/report\.html.*"))
    assert page.locator("svg").count() > 0
    assert not errors, errors  # no script errors and no CSP violations on any page
    page.close()
