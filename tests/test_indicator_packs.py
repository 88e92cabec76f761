from __future__ import annotations

from pathlib import Path

import pytest

from posbon.assess.indicator_packs import (
    IndicatorMatcher,
    PackError,
    default_matcher,
    fold,
    load_pack,
    load_packs,
    scripts_of,
    term_variants,
)
from posbon.domain import Problem

# Benign stand-in snippets, per category and script, that each must hit that category.
EXAMPLES: dict[str, dict[str, str]] = {
    "outlet_name": {
        "Latn": "new file from Al-Azaim today",
        "Cyrl": "канал Аль-Азаим сегодня",
        "Arab": "إصدار من مؤسسة العزائم اليوم",
    },
    "publication_name": {
        "Latn": "the Voice of Khorasan issue",
        "Cyrl": "шумораи нави Садои Хуросон",
        "Arab": "عدد جديد من صوت خراسان",
    },
    "group_name": {
        "Latn": "Islomiy davlat Xuroson viloyati haqida",
        "Cyrl": "дар бораи Вилояти Хуросон",
        "Arab": "عن ولاية خراسان",
    },
    "invite_private_chat": {
        "Latn": "lichkaga yozing",
        "Cyrl": "пишите в личку",
        "Arab": "راسلني على الخاص",
    },
    "call_to_travel": {
        "Latn": "hijrat qiling",
        "Cyrl": "ҳиҷрат кунед",
        "Arab": "هجرت وکړئ",
    },
    "pledge_allegiance": {
        "Latn": "bay'at qiling",
        "Cyrl": "байъат кунед",
        "Arab": "بیعت کنید",
    },
    "call_to_join": {
        "Latn": "mujohidlar safiga qo'shiling",
        "Cyrl": "ба сафи муҷоҳидон ҳамроҳ шавед",
        "Arab": "انضموا إلى صفوف المجاهدين",
    },
}


def categories_of(text: str, matcher: IndicatorMatcher | None = None) -> set[str]:
    return {h.category for h in (matcher or default_matcher()).find(text)}


def test_shipped_packs_load_with_sources() -> None:
    packs = load_packs()
    assert [p.id for p in packs] == ["central_asia_is"]
    pack = packs[0]
    assert pack.version and pack.sources and all(s.title and s.publisher for s in pack.sources)
    assert {i.category for i in pack.indicators} == set(EXAMPLES)


@pytest.mark.parametrize("category", sorted(EXAMPLES))
def test_each_category_matches_in_at_least_two_scripts(category: str) -> None:
    matched_scripts = [
        script for script, text in EXAMPLES[category].items() if category in categories_of(text)
    ]
    assert len(matched_scripts) >= 2, (category, matched_scripts)


def test_legacy_tajik_letters_and_lookalikes_match() -> None:
    # legacy ў њ for ӯ ҳ
    assert "invite_private_chat" in categories_of("ба гурўњи пўшида биёед")
    # Latin A/a inside a Cyrillic word, Cyrillic а inside a Latin word
    assert "outlet_name" in categories_of("Aль-Aзaим")
    assert "outlet_name" in categories_of("Al-Az\u0430im")
    # zero-width space and full-width letters
    assert "outlet_name" in categories_of("Al-Az\u200baim")
    assert "outlet_name" in categories_of("Ａｌ－Ａｚａｉｍ")
    # Arabic diacritics and tatweel, Persian/Arabic letter forms
    assert "publication_name" in categories_of("صَحِيفَةُ النَّبَـأ")
    assert "outlet_name" in categories_of("مؤسسه العزائم")
    # Uzbek apostrophe variants
    assert "pledge_allegiance" in categories_of("bay\u02bbat qiling")


def test_transliteration_variants_match_the_other_script() -> None:
    assert "group_name" in categories_of("Vilojati Xuroson")  # Tajik Cyrillic term, Latin text
    assert "group_name" in categories_of("viloyati khuroson")
    assert "call_to_travel" in categories_of("ҳижрат қилинг")  # Uzbek Latin term, Cyrillic text
    variants = term_variants("Вилояти Хуросон", ["tg"])
    assert "viloyati xuroson" in variants and "vilojati huroson" in variants
    assert "ҳижрат қилинг" in term_variants("hijrat qiling", ["uz"])


def test_spans_point_at_the_original_text() -> None:
    text = "  \u200bНовое:\u00a0\u00a0Ａｌ－Ａｚａｉｍ и  صَحِيفَةُ النَّبَأ , Садои Хуросонро хонед"
    hits = default_matcher().find(text)
    by_cat = {h.category: h for h in hits}
    assert by_cat["outlet_name"].matched == "Ａｌ－Ａｚａｉｍ"
    naba = [h for h in hits if h.indicator_id == "publication_al_naba"]
    assert [h.matched for h in naba] == ["صَحِيفَةُ النَّبَأ"]
    assert naba[0].span[0] == text.index("صَحِيفَةُ")
    for h in hits:
        assert text[h.span[0] : h.span[1]] == h.matched
    # a prefix term (Садои Хуросон*) spans the whole inflected word
    assert any(h.matched == "Садои Хуросонро" for h in hits)


def test_word_boundaries_in_every_script() -> None:
    assert "outlet_name" not in categories_of("amaqsad")
    assert "outlet_name" in categories_of("(amaq)")
    assert "group_name" not in categories_of("وداعشیان")  # no such proclitic + suffix form
    assert "publication_name" in categories_of("وصوت خراسان")  # Arabic proclitic و
    assert "group_name" not in categories_of("иск")  # acronyms get no spelling variants


def test_fold_keeps_an_offset_map() -> None:
    f = fold("A\u0301b  c\u200b")
    assert len(f.text) == len(f.starts) == len(f.ends)
    assert f.text == "áb c"  # composed (NFKC), whitespace collapsed, zero-width gone
    assert f.original_span(0, 1) == (0, 2)  # "á" came from "A" + combining accent
    assert f.original_span(3, 4) == (5, 6)


def test_patterns_are_folded_like_text(tmp_path: Path) -> None:
    pack = write_pack(
        tmp_path / "p.yaml",
        """
id: p
version: 1
indicators:
  - id: x
    category: outlet_name
    weight: 0.3
    languages: [ru]
    scripts: [Cyrl]
    patterns: ['медиа\\s*центр']
""",
    )
    matcher = IndicatorMatcher([load_pack(pack)])
    hits = matcher.find("МЕДИА ЦEНТР")  # Latin E inside
    assert [h.matched for h in hits] == ["МЕДИА ЦEНТР"]


def write_pack(path: Path, body: str) -> Path:
    path.write_text(body.lstrip(), encoding="utf-8")
    return path


GOOD_INDICATOR = """
  - id: good
    category: outlet_name
    weight: 0.3
    languages: [en]
    scripts: [Latn]
    terms: [lantern]
"""


def ind(
    iid: str = "bad", weight: str = "0.2", languages: str = "[en]", extra: str = "    terms: [x]\n"
) -> str:
    return (
        f"  - id: {iid}\n    category: outlet_name\n    weight: {weight}\n    languages: {languages}\n"
        f"    scripts: [Latn]\n{extra}"
    )


@pytest.mark.parametrize(
    ("indicator", "expected"),
    [
        (ind(weight="1.5"), "indicator 'bad': 'weight' must be a number between 0 and 1"),
        (ind(extra=""), "indicator 'bad': needs 'terms' and/or 'patterns'"),
        (
            ind(extra="    patterns: ['(unclosed']\n"),
            "indicator 'bad': pattern '(unclosed' is not a valid regex",
        ),
        (ind(extra="    terms: ['Al-Az\u0430im']\n"), "indicator 'bad': term 'Al-Az\u0430im' mixes scripts"),
        (ind(languages="[xx]"), "indicator 'bad': unknown language code(s) ['xx']"),
        (ind(iid="good"), "indicator 'good': duplicate id"),
        (ind(extra="    terms: [x]\n    colour: red\n"), "indicator 'bad': unknown field(s): colour"),
    ],
)
def test_invalid_pack_gives_one_line_error_naming_file_and_indicator(
    tmp_path: Path, indicator: str, expected: str
) -> None:
    path = write_pack(
        tmp_path / "bad.yaml", "id: t\nversion: 1\nindicators:\n" + GOOD_INDICATOR.lstrip("\n") + indicator
    )
    with pytest.raises(PackError) as info:
        load_pack(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}:")
    assert expected in message


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write_pack(tmp_path / "broken.yaml", "id: t\nversion: 1\nindicators:\n  - id: [unclosed\n")
    with pytest.raises(PackError) as info:
        load_pack(path)
    assert str(info.value).startswith(f"{path}:") and "not valid YAML" in str(info.value)
    assert "\n" not in str(info.value)


def test_load_packs_collects_problems_and_keeps_good_packs(tmp_path: Path) -> None:
    good = write_pack(
        tmp_path / "good.yaml", "id: g\nversion: 1\nindicators:\n" + GOOD_INDICATOR.lstrip("\n")
    )
    dup = write_pack(tmp_path / "dup.yaml", "id: d\nversion: 1\nindicators:\n" + GOOD_INDICATOR.lstrip("\n"))
    bad = write_pack(tmp_path / "bad.yaml", "just a string")
    problems: list[Problem] = []
    packs = load_packs([good, dup, bad], problems=problems)
    assert [p.id for p in packs] == ["g"]
    assert [p.file for p in problems] == [str(dup), str(bad)]
    assert "indicator 'good': id already used" in problems[0].message
    with pytest.raises(PackError):
        load_packs([good, dup])


def test_scripts_of() -> None:
    assert scripts_of("Хуросон") == {"Cyrl"}
    assert scripts_of("خراسان") == {"Arab"}
    assert scripts_of("Al-Azaim 2024") == {"Latn"}


def test_matching_works_without_the_text_stage_normaliser(monkeypatch: pytest.MonkeyPatch) -> None:
    import posbon.assess.indicator_packs as ip

    monkeypatch.setattr(ip, "_external_normalize", lambda: None)
    matcher = IndicatorMatcher(load_packs())
    text = "Бародарон, ба гурўњи пўшида биёед: Ａｌ－Ａｚａｉｍ"
    hits = matcher.find(text)
    assert {h.category for h in hits} >= {"invite_private_chat", "outlet_name"}
    assert all(text[h.span[0] : h.span[1]] == h.matched for h in hits)
