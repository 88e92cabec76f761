"""Statements of reasons in the DSA Transparency Database's JSON shape (its API takes batches of up to 100
as {"statements": [...]}). A statement holds no personal data: no author, no reviewer, no user name, no
post text; its puid is posbon's item id (a hash of source and post id)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from posbon.domain import MediaKind
from posbon.policy import Policy
from posbon.review import audit
from posbon.review.session import aware, now_utc, write_session
from posbon.store import Store
from posbon.store.models import ItemRow
from posbon.store.review_models import DecisionRow, StatementOfReasonsRow

BATCH = 100
VISIBILITY = {
    "remove": "DECISION_VISIBILITY_CONTENT_REMOVED",
    "geo_block": "DECISION_VISIBILITY_CONTENT_DISABLED",
    "restrict": "DECISION_VISIBILITY_CONTENT_DEMOTED",
    "label": "DECISION_VISIBILITY_CONTENT_LABELLED",
}
ACTION_WORDS = {
    "remove": "removed",
    "geo_block": "disabled access to in the territories listed",
    "restrict": "restricted the visibility of",
    "label": "labelled",
}
DETECTION_WORDS = {
    "bank_match": "an automated match against a list of hashes of known content",
    "indicator": "automated indicators of recruitment content",
    "classifier": "an automated classifier",
    "human": "a human moderator",
}
SOURCE_ORDER = "SOURCE_TYPE_OTHER_NOTIFICATION"
SOURCE_VOLUNTARY = "SOURCE_VOLUNTARY"
SOURCE_NOTICE = "SOURCE_ARTICLE_16"  # a notice under DSA Art. 16
SOURCE_TRUSTED_FLAGGER = "SOURCE_TRUSTED_NOTIFIER"  # ... from a trusted flagger (Art. 22)


def content_types(item: ItemRow) -> tuple[list[str], str | None]:
    types: list[str] = []
    other = None
    if (item.text or "").strip():
        types.append("CONTENT_TYPE_TEXT")
    for media in item.media or []:
        kind = media.get("kind")
        if kind == MediaKind.IMAGE and "CONTENT_TYPE_IMAGE" not in types:
            types.append("CONTENT_TYPE_IMAGE")
        elif kind == MediaKind.VIDEO and "CONTENT_TYPE_VIDEO" not in types:
            types.append("CONTENT_TYPE_VIDEO")
        elif kind not in (MediaKind.IMAGE, MediaKind.VIDEO) and "CONTENT_TYPE_OTHER" not in types:
            types.append("CONTENT_TYPE_OTHER")
            other = "attached file"
    if not types:
        types, other = ["CONTENT_TYPE_OTHER"], "post without text or media"
    return types, other


def build_statement(
    decision: DecisionRow, item: ItemRow, policy: Policy, *, first: DecisionRow | None = None
) -> dict[str, Any]:
    """The statement for a final restricting decision. Built from structured facts only: the reviewer's free
    text reason is not copied (it could name people); decision_facts is generated."""
    defaults = policy.statement_of_reasons
    decided = aware(decision.decided_at) or now_utc()
    content_day = aware(item.created_at) or aware(item.first_seen_at) or decided
    automated_detection = decision.detection != "human"
    if decision.automated and (first is None or first.automated):
        automated_decision = "AUTOMATED_DECISION_FULLY"
    elif decision.automated or (first is not None and first.automated):
        automated_decision = "AUTOMATED_DECISION_PARTIALLY"
    else:
        automated_decision = "AUTOMATED_DECISION_NOT_AUTOMATED"
    facts = [
        f"The content was found by {DETECTION_WORDS.get(decision.detection, DETECTION_WORDS['human'])}.",
    ]
    if decision.source_type == SOURCE_ORDER:
        facts.append(
            "It was the subject of a removal order from a competent authority "
            "(Regulation (EU) 2021/784, Art. 3)."
        )
    facts.append(
        f"A moderator {'confirmed by a second moderator ' if first is not None else ''}"
        f"{ACTION_WORDS.get(decision.action, decision.action)} the content under policy {policy.id} "
        f"version {policy.version} ({decision.category.replace('_', ' ')})."
    )
    statement: dict[str, Any] = {
        "decision_visibility": [VISIBILITY[decision.action]],
        "decision_ground": defaults["decision_ground"],
    }
    if defaults["decision_ground"] == "DECISION_GROUND_ILLEGAL_CONTENT":
        statement["illegal_content_legal_ground"] = defaults["illegal_content_legal_ground"]
        statement["illegal_content_explanation"] = defaults["illegal_content_explanation"]
    else:
        statement["incompatible_content_ground"] = defaults["incompatible_content_ground"]
        statement["incompatible_content_explanation"] = defaults["incompatible_content_explanation"]
    statement["decision_facts"] = " ".join(facts)
    statement["category"] = defaults["category"]
    if defaults.get("category_specification"):
        statement["category_specification"] = list(defaults["category_specification"])
    types, other = content_types(item)
    statement["content_type"] = types
    if other:
        statement["content_type_other"] = other
    language = (item.language or "").strip()
    if len(language) == 2 and language.isalpha():
        statement["content_language"] = language.upper()
    statement["content_date"] = content_day.strftime("%Y-%m-%d")
    statement["application_date"] = decided.strftime("%Y-%m-%d")
    if decision.territorial_scope:
        statement["territorial_scope"] = sorted(decision.territorial_scope)
    statement["source_type"] = decision.source_type
    statement["automated_detection"] = "Yes" if automated_detection else "No"
    statement["automated_decision"] = automated_decision
    statement["puid"] = item.item_id
    return statement


def export_statements(
    store: Store, out_dir: Path, *, since: datetime | None = None, actor: str = "cli"
) -> tuple[list[Path], int]:
    """Write every statement not exported yet (created at or after `since`) as batch files of at most 100
    and mark them exported, in one transaction. Returns (files written, statements)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    written: list[Path] = []
    count = 0
    with write_session(store) as s:
        query = (
            select(StatementOfReasonsRow)
            .where(StatementOfReasonsRow.exported_at.is_(None))
            .order_by(StatementOfReasonsRow.id)
        )
        if since is not None:
            query = query.where(StatementOfReasonsRow.created_at >= since.astimezone(UTC))
        rows = list(s.scalars(query).all())
        now = now_utc()
        for n, start in enumerate(range(0, len(rows), BATCH), start=1):
            batch = rows[start : start + BATCH]
            path = out_dir / f"sor-{stamp}-{n:04d}.json"
            path.write_text(
                json.dumps({"statements": [r.payload for r in batch]}, ensure_ascii=False, indent=1),
                encoding="utf-8",
            )
            written.append(path)
            for row in batch:
                row.exported_at = now
            count += len(batch)
        if count:
            audit.append(
                s,
                actor=actor,
                action="sor.export",
                subject=f"statements:{rows[0].id}-{rows[-1].id}",
                details={"statements": count, "files": [p.name for p in written]},
            )
    return written, count


def statements_for(store: Store, decision_id: int) -> list[StatementOfReasonsRow]:
    with store.session() as s:
        return list(
            s.scalars(
                select(StatementOfReasonsRow).where(StatementOfReasonsRow.decision_id == decision_id)
            ).all()
        )
