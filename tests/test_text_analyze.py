"""posbon.text.analyze: the text stage's one entry point."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from posbon.domain import TextFacts
from posbon.text import analyze


def test_analyze_fills_every_field() -> None:
    text = "Имрӯз дар Душанбе\u200b ҳаво гарм аст. Хабарҳо: t.me/news_tj #Ҳаво"
    facts = analyze(text)
    assert isinstance(facts, TextFacts)
    assert facts.original == text
    assert facts.normalized == "имрӯз дар душанбе ҳаво гарм аст. хабарҳо: t.me/news_tj #ҳаво"
    assert facts.language.code == "tg"
    assert facts.links.telegram_links == ("t.me/news_tj",)
    assert facts.links.hashtags == ("#ҳаво",)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_analyze_keeps_the_original_verbatim_and_never_raises(text: str) -> None:
    facts = analyze(text)
    assert facts.original is text
    assert 0.0 <= facts.language.confidence <= 1.0
