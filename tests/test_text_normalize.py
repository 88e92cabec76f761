"""posbon.text.normalize: each rule, and the properties (never raises, idempotent, no Cf left)."""

from __future__ import annotations

import sys
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posbon.text.normalize import _LOOKALIKE_CLASSES, fold_for_language, normalize, strip_invisible


def test_nfkc_folds_full_width_and_ligatures() -> None:
    assert normalize("ＨＥＬＬＯ ﬁle") == "hello file"


@pytest.mark.parametrize(
    "invisible",
    ["\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u202a", "\u202e", "\u2060", "\u2064", "\u2066",
     "\u2069", "\ufeff", "\u00ad", "\u180e", "\u034f", "\ufe0f", "\U000e0041", "\U000e0100", "\u061c"],
)  # fmt: skip
def test_invisible_characters_are_removed(invisible: str) -> None:
    assert normalize(f"про{invisible}паганда") == "пропаганда"


def test_zwnj_removed_for_matching_but_kept_for_language_id() -> None:
    assert normalize("می\u200cروم") == "میروم"
    assert fold_for_language("می\u200cروم") == "می\u200cروم"


def test_braille_blank_is_a_space_and_controls_go() -> None:
    assert normalize("a\u2800b\x00c\x07d") == "a bcd"


def test_strip_invisible_covers_every_format_character() -> None:
    cf = "".join(chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cf")
    assert strip_invisible(cf) == ""


@pytest.mark.parametrize(
    ("legacy", "proper"),
    [("ѓ", "ғ"), ("ї", "ӣ"), ("ќ", "қ"), ("ў", "ӯ"), ("њ", "ҳ"), ("љ", "ҷ"),
     ("Ѓ", "ғ"), ("Ї", "ӣ"), ("Ќ", "қ"), ("Ў", "ӯ"), ("Њ", "ҳ"), ("Љ", "ҷ")],
)  # fmt: skip
def test_legacy_tajik_letters_folded(legacy: str, proper: str) -> None:
    assert normalize(f"а{legacy}б") == f"а{proper}б"


def test_legacy_and_proper_tajik_spellings_match() -> None:
    assert normalize("Имрўз дар шањри Хуљанд њаво гарм аст") == normalize(
        "Имрӯз дар шаҳри Хуҷанд ҳаво гарм аст"
    )


def test_cyrillic_word_with_latin_lookalikes_becomes_cyrillic() -> None:
    assert normalize("прoпaгaндa") == "пропаганда"  # Latin o, a
    assert normalize("HОВОСТИ") == "новости"  # Latin H in upper case


def test_latin_word_with_cyrillic_lookalikes_becomes_latin() -> None:
    assert normalize("gооgle") == "google"  # Cyrillic о
    assert normalize("сlаss") == "class"


def test_greek_lookalikes_folded() -> None:
    assert normalize("nεws") == "news"
    assert normalize("пρивет") == "привет"
    assert normalize("Ακμή") == "ακμή"  # a Greek word stays Greek


def test_lookalike_tie_goes_to_cyrillic() -> None:
    # "р" Cyrillic + "a" Latin: both look-alikes, one letter each: documented tie-break is Cyrillic
    assert normalize("рa") == "ра"


def test_single_script_words_never_change() -> None:
    text = "hello world привет мир"
    assert normalize(text) == text


def test_lookalike_classes_are_stable_under_nfkc_casefold() -> None:
    for cls in _LOOKALIKE_CLASSES:
        for ch in cls:
            if ch:
                assert unicodedata.normalize("NFKC", ch.casefold()) == ch


def test_arabic_letter_variants_unified() -> None:
    assert normalize("علي") == "علی"
    assert normalize("مصطفى") == "مصطفی"
    assert normalize("كتاب") == "کتاب"
    assert normalize("أحمد إسلام آب ٱلله") == "احمد اسلام اب الله"
    assert normalize("خانۀ") == "خانه"
    assert normalize("خانە") == "خانه"


def test_arabic_tatweel_and_diacritics_removed() -> None:
    assert normalize("كـــتـاب") == "کتاب"
    assert normalize("كِتَابٌ") == "کتاب"
    assert normalize("هٰذا") == "هذا"
    assert normalize("قُرْآنۖ") == "قران"


def test_arabic_and_persian_digits_become_ascii() -> None:
    assert normalize("٠١٢٣٤٥٦٧٨٩ ۰۱۲۳۴۵۶۷۸۹") == "0123456789 0123456789"


def test_pashto_letters_kept() -> None:
    pashto = "ړ ږ ښ ځ څ ټ ډ ګ ڼ ې ۍ ئ"
    assert normalize(pashto) == pashto


def test_case_folded_and_whitespace_collapsed() -> None:
    assert normalize("  Straße \t\n  ДУШАНБЕ\u00a0\u3000x  ") == "strasse душанбе x"


@pytest.mark.parametrize("apostrophe", ["'", "\u2018", "\u2019", "\u02bb", "\u02bc", "`", "\u00b4", "\u2032"])
def test_uzbek_apostrophes_unified(apostrophe: str) -> None:
    assert normalize(f"O{apostrophe}zbekiston g{apostrophe}alaba") == "o'zbekiston g'alaba"


def test_opening_quote_is_not_an_apostrophe() -> None:
    assert normalize("\u2018quoted") == "\u2018quoted"


def test_punctuation_and_emoji_kept() -> None:
    assert normalize("Салом, дунё! 🙂 (2024)") == "салом, дунё! 🙂 (2024)"


def test_fold_for_language_keeps_uzbek_u_unless_text_is_tajik() -> None:
    assert fold_for_language("Бугун ҳаво иссиқ бўлади") == "Бугун ҳаво иссиқ бўлади"
    assert fold_for_language("Имрўз дар шањри Хуљанд") == "Имрӯз дар шаҳри Хуҷанд"
    assert fold_for_language("Ѓалла") == "Ғалла"


def test_fold_for_language_leaves_serbian_and_ukrainian_alone() -> None:
    assert fold_for_language("Љубљана је главни град") == "Љубљана је главни град"
    assert fold_for_language("Україна і їжа") == "Україна і їжа"


_ALPHABET = st.sampled_from(
    list("aeopcxyhbmtikAEOPCXKH абвеёкмнопрстухАВЕКМНОРСТУХ ғӣқӯҳҷѓїќўњљЃЇЌЎЊЉ αβεηικμνορτυχΣΟ")
    + list("يىكەۀأإآٱـاببکی٠۲ ‘’ʻʼ`´′'")
    + ["\u064b", "\u064e", "\u0654", "\u0657", "\u0670", "\u06d6"]
    + ["\u200b", "\u200c", "\u200d", "\u2066", "\ufeff", "\u00ad", "\u034f", "\ufe0f", "\u2800", "\u3164"]
    + ["\u0301", "\u0308", "İ", "ß", "ﬁ", "Ａ", "🙂", "#", "@", "\n", "\t", "ǅ"]
)
_TEXTS = st.one_of(st.text(), st.text(alphabet=_ALPHABET, max_size=30))


@settings(max_examples=600, deadline=None)
@given(_TEXTS)
def test_normalize_is_idempotent_and_leaves_no_format_characters(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once
    assert not any(unicodedata.category(ch) == "Cf" for ch in once)
    assert once == once.strip()
    assert "  " not in once


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_fold_for_language_never_raises(text: str) -> None:
    assert isinstance(fold_for_language(text), str)
