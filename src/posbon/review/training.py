"""Labelled examples from reviewers' decisions, for `posbon train --from-decisions`.

Only human decisions teach the classifier (an automated decision learning from itself would only
confirm its own errors). The newest human decision on an item gives its label:

- remove, geo_block or restrict that still stands (status final)   -> promotion (1)
- no_action (status final)                                         -> benign (0)
- any restricting decision later reversed on appeal                 -> benign (0)
- label, escalate and decisions still waiting for a second review   -> not used (no settled judgement)
"""

from __future__ import annotations

from sqlalchemy import select

from posbon.assess.classifier import LabelledText
from posbon.store import Store
from posbon.store.models import ItemRow
from posbon.store.review_models import DecisionRow

RESTRICTING = frozenset({"remove", "geo_block", "restrict"})


def label_for(action: str, status: str) -> int | None:
    if status == "reversed" and action in RESTRICTING:
        return 0
    if status != "final":
        return None
    if action in RESTRICTING:
        return 1
    if action == "no_action":
        return 0
    return None


def labelled_from_decisions(store: Store) -> list[LabelledText]:
    """One example per decided item that still has its text, labelled by its newest human decision."""
    with store.session() as s:
        rows = s.execute(
            select(DecisionRow.item_id, DecisionRow.action, DecisionRow.status, ItemRow.text)
            .join(ItemRow, ItemRow.item_id == DecisionRow.item_id)
            .where(DecisionRow.automated.is_(False), DecisionRow.status.in_(("final", "reversed")))
            .order_by(DecisionRow.item_id, DecisionRow.decided_at.desc(), DecisionRow.id.desc())
        ).all()
    examples: list[LabelledText] = []
    seen: set[str] = set()
    for item_id, action, status, text in rows:
        if item_id is None or item_id in seen:
            continue
        seen.add(item_id)
        label = label_for(action, status)
        if label is not None and text and text.strip():
            examples.append(LabelledText(text=text, label=label))
    return examples
