from __future__ import annotations

from posbon.domain import BankEntry, Signal, SignalType
from posbon.match.matcher import Matcher
from posbon.text.normalize import normalize

STATEMENT = (
    "The Highland Verse Circle opens its winter season. Every Friday evening we walk the old trail above "
    "the river and read poems aloud at the third bridge.\n\n"
    "Members bring their own lanterns and a warm flask. New walkers meet the organiser first, in private, "
    "to learn the route and the rules of the circle.\n\n"
    "Write to the circle's closed chat to join us. The circle keeps no list of who walks with it."
)


def test_a_quoted_paragraph_of_a_banked_text_matches_that_paragraph() -> None:
    entry = BankEntry(1, "known", SignalType.TEXT, normalize(STATEMENT), "statement", STATEMENT)
    matcher = Matcher([entry])
    post = (
        "Weekend roundup: the library opens late on Thursdays and the lake bus runs again. Someone sent us "
        "this: «Members bring their own lanterns and a warm flask. New walkers meet the organiser first, in "
        "private, to learn the route and the rules of the circle.» Make of it what you will. Weather: dry."
    )
    evidence = matcher.match([Signal(SignalType.TEXT, normalize(post), origin="text")])
    assert len(evidence) == 1
    assert evidence[0].entry_id == 1 and evidence[0].similarity is not None and evidence[0].similarity > 0.9
    assert "paragraph 2 of" in evidence[0].detail
    assert evidence[0].matched_text is not None and evidence[0].matched_text.startswith("Members bring")


def test_an_unrelated_post_on_the_same_topic_does_not_match() -> None:
    entry = BankEntry(1, "known", SignalType.TEXT, normalize(STATEMENT), "statement", STATEMENT)
    post = (
        "Our walking club meets on Sundays by the river; we read poetry and drink tea. Everyone is welcome, "
        "no sign-up needed, bring a friend and a lantern if you like evening walks."
    )
    assert Matcher([entry]).match([Signal(SignalType.TEXT, normalize(post), origin="text")]) == []
