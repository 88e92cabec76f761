from __future__ import annotations

import pytest

from posbon.assess import AssessPolicy, assess
from posbon.assess.assessor import combined_risk
from posbon.domain import Assessment, Evidence, Verdict


def pdq(distance: int) -> Evidence:
    return Evidence(kind="bank_match", signal_type="pdq", bank="b", entry_id=1, distance=distance)


def text(similarity: float) -> Evidence:
    return Evidence(kind="bank_match", signal_type="text", bank="b", entry_id=2, similarity=similarity)


def test_no_evidence_is_clear_with_zero_risk() -> None:
    a = assess([])
    assert a.verdict is Verdict.CLEAR and a.risk == 0.0 and a.evidence == ()


def test_pdq_inside_threshold_is_match_and_closer_is_riskier() -> None:
    close, far = assess([pdq(0)]), assess([pdq(31)])
    assert close.verdict is Verdict.MATCH and far.verdict is Verdict.MATCH
    assert close.risk > far.risk > 0.5


def test_pdq_just_outside_threshold_is_near_match_for_review() -> None:
    a = assess([pdq(35)])
    assert a.verdict is Verdict.REVIEW
    assert a.evidence[0].kind == "near_match"
    assert a.risk < 0.6


def test_text_similarity_grades() -> None:
    assert assess([text(0.9)]).verdict is Verdict.MATCH
    assert assess([text(0.5)]).verdict is Verdict.REVIEW


def test_thresholds_follow_the_policy() -> None:
    strict = AssessPolicy(pdq_match=10, pdq_review=20)
    assert assess([pdq(15)], strict).verdict is Verdict.REVIEW
    assert assess([pdq(15)]).verdict is Verdict.MATCH


def test_weak_indicator_alone_stays_clear_but_keeps_its_evidence() -> None:
    weak = Evidence(kind="indicator", detail="invite link", weight=0.3)
    a = assess([weak])
    assert a.verdict is Verdict.CLEAR and a.evidence == (weak,)
    two = assess([weak, Evidence(kind="indicator", detail="other", weight=0.4)])
    assert two.verdict is Verdict.REVIEW


def test_matches_come_first_in_evidence() -> None:
    a = assess([Evidence(kind="indicator", detail="x", weight=0.3), pdq(5)])
    assert a.evidence[0].kind == "bank_match"


def test_noisy_or_risk() -> None:
    es = [Evidence(kind="indicator", weight=0.5), Evidence(kind="indicator", weight=0.5)]
    assert combined_risk(es) == pytest.approx(0.75)


def test_assessment_refuses_a_verdict_without_evidence() -> None:
    with pytest.raises(ValueError):
        Assessment(verdict=Verdict.MATCH, risk=0.9, evidence=())


def test_evidence_round_trips_through_dict() -> None:
    e = Evidence(kind="indicator", detail="d", span=(3, 9), matched_text="abc", weight=0.25)
    assert Evidence.from_dict(e.to_dict()) == e


def test_media_similarity_is_not_graded_by_text_thresholds() -> None:
    video = Evidence(kind="bank_match", signal_type="vpdq", bank="v", entry_id=3, similarity=0.85)
    logo = Evidence(kind="bank_match", signal_type="logo", bank="v", entry_id=4, similarity=0.7, weight=0.9)
    strict_text = AssessPolicy(text_match=0.95, bank_text_match={"v": 0.99})
    a = assess([video, logo], strict_text)
    assert a.verdict is Verdict.MATCH
    assert {e.kind for e in a.evidence} == {"bank_match"}
    assert [e.weight for e in a.evidence if e.signal_type == "logo"] == [0.9]
