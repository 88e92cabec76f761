"""Turns the evidence the other stages found into a verdict a reviewer can check.

- `match`: known content matched (a bank match inside the match thresholds).
- `review`: signals that warrant a human look: a near match (close to banked content, but outside the match
  threshold), or indicators whose combined weight reaches the review threshold.
- `clear`: nothing that warrants a look. It may still carry weak evidence, shown for transparency.

Risk combines the weights of all evidence as a noisy-OR, 1 - prod(1 - w): independent reasons add up, no
number of weak reasons reaches certainty, and one strong reason dominates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from posbon.domain import Assessment, Evidence, Verdict

BANK_MATCH = "bank_match"
NEAR_MATCH = "near_match"


@dataclass(frozen=True)
class AssessPolicy:
    pdq_match: int = 31  # PDQ distance at or below which an image is known content
    pdq_review: int = 40  # ... and at or below which it is close enough for a human look
    text_match: float = 0.6  # text similarity at or above which a text is known content
    text_review: float = 0.45
    review_risk: float = 0.5  # combined weight of non-match evidence that sends an item to review
    bank_pdq_match: Mapping[str, int] = field(default_factory=dict)  # banks with their own thresholds
    bank_text_match: Mapping[str, float] = field(default_factory=dict)


def _classify(e: Evidence, policy: AssessPolicy) -> Evidence:
    """Re-grade a bank match found with the loose (review) thresholds into match or near match."""
    if e.kind != BANK_MATCH:
        return e
    pdq_match = policy.bank_pdq_match.get(e.bank or "", policy.pdq_match)
    text_match = policy.bank_text_match.get(e.bank or "", policy.text_match)
    if e.distance is not None and e.distance > pdq_match:
        weight = 0.5 * (1.0 - (e.distance - pdq_match) / max(1, policy.pdq_review - pdq_match + 1))
        detail = f"{e.detail}; above the match threshold {pdq_match}, close enough for a human look"
        return replace(e, kind=NEAR_MATCH, weight=round(max(0.2, weight), 4), detail=detail)
    is_text = e.signal_type == "text"
    if is_text and e.similarity is not None and e.similarity < text_match:
        detail = f"{e.detail}; below the match threshold {text_match}, close enough for a human look"
        return replace(e, kind=NEAR_MATCH, weight=round(min(0.5, e.similarity), 4), detail=detail)
    if e.distance is not None:  # PDQ inside the match threshold: closer is surer
        detail = f"{e.detail} (match threshold {pdq_match})"
        return replace(e, weight=round(1.0 - 0.2 * e.distance / max(1, pdq_match), 4), detail=detail)
    if is_text and e.similarity is not None:
        return replace(e, weight=round(0.75 + 0.25 * e.similarity, 4))
    return e


def combined_risk(evidence: Iterable[Evidence]) -> float:
    remaining = 1.0
    for e in evidence:
        remaining *= 1.0 - min(max(e.weight, 0.0), 1.0)
    return round(1.0 - remaining, 4)


def assess(evidence: Iterable[Evidence], policy: AssessPolicy | None = None) -> Assessment:
    policy = policy or AssessPolicy()
    graded = sorted(
        (_classify(e, policy) for e in evidence),
        key=lambda e: (e.kind != BANK_MATCH, -e.weight),
    )
    risk = combined_risk(graded)
    if any(e.kind == BANK_MATCH for e in graded):
        verdict = Verdict.MATCH
    elif any(e.kind == NEAR_MATCH for e in graded) or (graded and risk >= policy.review_risk):
        verdict = Verdict.REVIEW
    else:
        verdict = Verdict.CLEAR
    return Assessment(verdict=verdict, risk=risk, evidence=tuple(graded))
