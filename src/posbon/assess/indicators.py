"""Built-in behavioural indicators (first version; versioned indicator packs extend these).

An invitation into a private chat is how recruiters move people out of public view ("grooming in
isolation"). Alone it is common and weak, so it carries a small weight and never decides a verdict by
itself; in a text that reads as reporting (a news channel's "subscribe" link) it is damped further.
"""

from __future__ import annotations

from posbon.domain import Evidence, Links

INVITE_LINK_WEIGHT = 0.3
REPORTING_DAMPING = 0.3
INVITE_CATEGORY = "invite_private_chat"  # the indicator-pack category this built-in indicator belongs to


def link_indicators(links: Links, text: str, *, reporting: bool = False) -> list[Evidence]:
    weight = INVITE_LINK_WEIGHT * (REPORTING_DAMPING if reporting else 1.0)
    evidence: list[Evidence] = []
    for link in links.invite_links:
        start = text.find(link)
        evidence.append(
            Evidence(
                kind="indicator",
                detail=f"invite link into a private chat: {link}"
                + (" (damped: the text reads as reporting)" if reporting else ""),
                span=(start, start + len(link)) if start >= 0 else None,
                matched_text=link,
                origin="text",
                weight=round(weight, 4),
                category=INVITE_CATEGORY,
            )
        )
    return evidence
