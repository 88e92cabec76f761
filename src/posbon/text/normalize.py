"""Text normalisation: the form posbon matches on, and a lighter form for language identification.

`normalize` is what banks and posts are compared in. It is idempotent
(``normalize(normalize(x)) == normalize(x)``) and never raises. The steps, in order:

1. An acute accent (´) typed as an Uzbek apostrophe after a letter becomes ``'`` (NFKC would otherwise turn
   it into a space plus a combining accent).
2. Unicode NFKC (full-width letters, ligatures, compatibility spaces, presentation forms).
3. Invisible characters out: every format character (category Cf: zero-width space/joiners, bidi controls,
   word joiner, BOM, soft hyphen, Mongolian vowel separator, Arabic number signs, tag characters, ...),
   control characters other than whitespace, lone surrogates, and invisible marks and fillers that are not
   Cf (combining grapheme joiner, variation selectors, Hangul fillers, Khmer inherent vowels). The braille
   blank (U+2800), used as an invisible space, becomes a space.
   ZWNJ (U+200C) goes too: in Persian it is a real orthographic mark (می‌روم), but writers use it, a plain
   space or nothing for the same word, and re-posters insert it to break matching, so for matching the
   form without it is the right one. (`fold_for_language` keeps it: there it helps recognise Persian.)
4. Arabic script: ي ى → ی, ك → ک, ە ۀ → ه, أ إ آ ٱ → ا; tatweel, harakat (U+064B–U+065F), superscript alef
   (U+0670) and Quranic marks (U+06D6–U+06ED) removed; Arabic-Indic and Persian digits → ASCII.
   Pashto letters (ټ ډ ړ ږ ښ ځ څ ګ ڼ ې ۍ ئ) are kept distinct. Two deliberate merges touch Pashto: ي
   with ی (Pashto spells /i/ and /ay/ with them, but online writers mix them freely and Persian/Arabic
   keyboards swap them constantly), and the schwa ۀ with ه (most online Pashto already writes ه).
   آ → ا merges Persian's alef-madda with alef: writers drop the madda as often as hamza.
5. ``str.casefold``, then NFKC again (case folding can leave text that is not NFKC).
6. Look-alike letters folded per word (see `_fold_lookalikes`), then NFKC once more (a mark left on a
   letter whose script changed can now compose).
7. Legacy Tajik letters folded to the proper ones: ѓ→ғ ї→ӣ ќ→қ ў→ӯ њ→ҳ љ→ҷ, both cases (last, because
   NFKC composes к + ◌́ into ќ). Uzbek Cyrillic ў becomes ӯ as well; both sides of a comparison go through
   the same fold, so this costs nothing.
8. Apostrophe-like characters after a letter (‘ ’ ʻ ʼ ʽ ` ′ ʹ ˈ ‛ and ') become ASCII ``'``, so Uzbek
   o‘ o' oʻ o’ o` g‘ ... are one form. Elsewhere (an opening quote, say) they are left alone.
9. Whitespace runs collapsed to one space, stripped.

Other punctuation and emoji are kept: the matcher's shingler drops what it does not want.
"""

from __future__ import annotations

import re
import unicodedata

# --- invisible characters ---------------------------------------------------------------------------
# Written out by hand because `re` has no \p{Cf}; tests/test_text_normalize.py checks that every Cf code
# point of the running Python's Unicode database is covered (ranges reach a little past Unicode 14's so
# newer Pythons are covered too).
_CF = (
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
)
# Controls other than whitespace, lone surrogates.
_CC_CS = "\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\ud800-\udfff"
# Invisible characters that are not Cf: combining grapheme joiner, Hangul fillers, Khmer inherent vowels,
# Mongolian free variation selectors, variation selectors.
_OTHER_INVISIBLE = (
    "\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180d\u180f\u3164\ufe00-\ufe0f\uffa0\U000e0100-\U000e01ef"
)
_ZWNJ = "\u200c"

_INVISIBLE_RE = re.compile(f"[{_CF}{_CC_CS}{_OTHER_INVISIBLE}]+")
_INVISIBLE_BUT_ZWNJ_RE = re.compile(f"(?!{_ZWNJ})[{_CF}{_CC_CS}{_OTHER_INVISIBLE}]")
_BRAILLE_BLANK = "\u2800"


def strip_invisible(text: str, *, keep_zwnj: bool = False) -> str:
    """Remove format/control/invisible characters (see module doc); the braille blank becomes a space."""
    pattern = _INVISIBLE_BUT_ZWNJ_RE if keep_zwnj else _INVISIBLE_RE
    return pattern.sub("", text).replace(_BRAILLE_BLANK, " ")


# --- legacy Tajik letters -------------------------------------------------------------------------------
# Letters of other Cyrillic alphabets (Macedonian, Serbian, Ukrainian, Belarusian) that old Tajik fonts and
# keyboards used in place of the proper Tajik ones.
LEGACY_TAJIK_LETTERS: dict[str, str] = {
    "ѓ": "ғ",
    "Ѓ": "Ғ",
    "ї": "ӣ",
    "Ї": "Ӣ",
    "ќ": "қ",
    "Ќ": "Қ",
    "ў": "ӯ",
    "Ў": "Ӯ",
    "њ": "ҳ",
    "Њ": "Ҳ",
    "љ": "ҷ",
    "Љ": "Ҷ",
}
_LEGACY_TAJIK = str.maketrans(LEGACY_TAJIK_LETTERS)
# Without ў: Uzbek Cyrillic uses ў as its own letter, so `fold_for_language` folds ў only in text that
# otherwise looks like Tajik.
_LEGACY_TAJIK_NO_U = str.maketrans({k: v for k, v in LEGACY_TAJIK_LETTERS.items() if k not in "ўЎ"})
_TAJIK_EVIDENCE_RE = re.compile("[ѓЃїЇќЌњЊљЉӣӢҷҶӯӮ]")
# Letters of the alphabets the legacy letters were borrowed from that Tajik never uses (ј џ ђ ћ ѕ є ґ і):
# text with them is not legacy-typed Tajik, and `fold_for_language` leaves it alone.
_NOT_TAJIK_RE = re.compile("[јЈџЏђЂћЋѕЅєЄґҐіІ]")


def fold_legacy_tajik(text: str) -> str:
    """ѓ→ғ ї→ӣ ќ→қ ў→ӯ њ→ҳ љ→ҷ, both cases."""
    return text.translate(_LEGACY_TAJIK)


# --- Arabic script ----------------------------------------------------------------------------------------
_ARABIC_MAP: dict[int, str | None] = {
    ord("ي"): "ی",
    ord("ى"): "ی",
    ord("ك"): "ک",
    ord("ە"): "ه",
    ord("ۀ"): "ه",
    ord("أ"): "ا",
    ord("إ"): "ا",
    ord("آ"): "ا",
    ord("ٱ"): "ا",
    ord("ـ"): None,  # tatweel
    ord("\u0670"): None,  # superscript alef
}
_ARABIC_MAP.update({c: None for c in range(0x064B, 0x0660)})  # harakat, hamza/madda marks
_ARABIC_MAP.update({c: None for c in range(0x06D6, 0x06EE)})  # Quranic annotation marks
_ARABIC_MAP.update({0x0660 + i: str(i) for i in range(10)})  # Arabic-Indic digits
_ARABIC_MAP.update({0x06F0 + i: str(i) for i in range(10)})  # Persian (extended) digits
_ARABIC_RE = re.compile("[\u0600-\u06ff]")


def fold_arabic(text: str) -> str:
    """Unify Arabic-script letter variants, drop diacritics and tatweel, digits to ASCII."""
    if not _ARABIC_RE.search(text):
        return text
    return text.translate(_ARABIC_MAP)


# --- look-alike letters -----------------------------------------------------------------------------
# Classes of letters that look alike in Cyrillic, Latin and Greek, on case-folded text. A class counts a
# letter as a look-alike when its upper or lower case looks like the others' (attackers type upper case
# too, and case folding comes first). Each letter is in at most one class, so folding is well defined.
# (Cyrillic, Latin, Greek); "" where a script has no look-alike.
_LOOKALIKE_CLASSES: tuple[tuple[str, str, str], ...] = (
    ("а", "a", "α"),
    ("в", "b", "β"),
    ("с", "c", ""),
    ("ԁ", "d", ""),
    ("е", "e", "ε"),
    ("ё", "ë", ""),
    ("н", "h", "η"),
    ("і", "i", "ι"),
    ("ј", "j", "ϳ"),
    ("к", "k", "κ"),
    ("м", "m", "μ"),
    ("о", "o", "ο"),
    ("р", "p", "ρ"),
    ("ԛ", "q", ""),
    ("ѕ", "s", ""),
    ("т", "t", "τ"),
    ("ѵ", "v", "ν"),
    ("ԝ", "w", ""),
    ("х", "x", "χ"),
    ("у", "y", "υ"),
)
_CYR, _LAT, _GRK = 0, 1, 2
_SCRIPT_PREFERENCE = (_CYR, _LAT, _GRK)  # tie-break order
_LOOKALIKE_TO: tuple[dict[str, str], dict[str, str], dict[str, str]] = ({}, {}, {})
for _cls in _LOOKALIKE_CLASSES:
    for _target in (_CYR, _LAT, _GRK):
        if _cls[_target]:
            for _src in (_CYR, _LAT, _GRK):
                if _src != _target and _cls[_src]:
                    _LOOKALIKE_TO[_target][_cls[_src]] = _cls[_target]
_LOOKALIKE_LETTERS = frozenset(ch for cls in _LOOKALIKE_CLASSES for ch in cls if ch)

_APOSTROPHES = "'\u2018\u2019\u02bb\u02bc\u02bd\u0060\u2032\u02b9\u02c8\u201b"
# A word: letters, with apostrophes between letters (o'zbek is one word, before and after the apostrophes
# are unified, so both passes of `normalize` see the same words).
# Combining marks belong to the word (NFKC may compose them into a letter after folding).
_MARKS = "\u0300-\u036f\u0483-\u0489\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
_LETTERS = f"(?:[^\\W\\d_]|[{_MARKS}])+"
_WORD_RE = re.compile(f"{_LETTERS}(?:[{_APOSTROPHES}]+{_LETTERS})*")
_LATIN_RE = re.compile("[a-z\u00c0-\u024f\u1e00-\u1eff]")
_CYRILLIC_RE = re.compile("[\u0400-\u052f]")
_GREEK_RE = re.compile("[\u0370-\u03ff\u1f00-\u1fff]")


def _script_of(ch: str) -> int | None:
    o = ord(ch)
    if 0x0400 <= o <= 0x052F or 0x1C80 <= o <= 0x1C8F or 0x2DE0 <= o <= 0x2DFF or 0xA640 <= o <= 0xA69F:
        return _CYR
    if (
        (ch.isascii() and ch.isalpha())
        or 0x00C0 <= o <= 0x024F
        or 0x1E00 <= o <= 0x1EFF
        or 0x2C60 <= o <= 0x2C7F
        or 0xA720 <= o <= 0xA7FF
        or 0xAB30 <= o <= 0xAB6F
    ):
        return _LAT
    if 0x0370 <= o <= 0x03FF or 0x1F00 <= o <= 0x1FFF:
        return _GRK
    return None


def _fold_word(word: str) -> str:
    unambiguous = [0, 0, 0]
    total = [0, 0, 0]
    for ch in word:
        script = _script_of(ch)
        if script is None:
            continue
        total[script] += 1
        if ch not in _LOOKALIKE_LETTERS:
            unambiguous[script] += 1
    if sum(1 for t in total if t) < 2:
        return word  # one script (or none): nothing to fold
    target = _pick_script(unambiguous) if any(unambiguous) else None
    if target is None:
        target = _pick_script(total)
    if target is None:
        top = max(total)
        target = next(s for s in _SCRIPT_PREFERENCE if total[s] == top)
    table = _LOOKALIKE_TO[target]
    return "".join(table.get(ch, ch) for ch in word)


def _pick_script(counts: list[int]) -> int | None:
    top = max(counts)
    winners = [s for s in _SCRIPT_PREFERENCE if counts[s] == top]
    return winners[0] if len(winners) == 1 else None


def _fold_lookalikes(text: str) -> str:
    """Fold Cyrillic/Latin/Greek look-alikes to each word's majority script.

    Written by hand: confusable-skeleton libraries map whole strings to one prototype script, which would
    turn every Russian word into Latin; posbon needs the word's own script kept.

    A word is a run of letters. Its script is the one with most letters that have no look-alike
    ("unambiguous", e.g. п, g, λ); if that ties, the one with most letters overall; if that ties too,
    Cyrillic, then Latin, then Greek (posbon's languages are mostly written in Cyrillic). Every look-alike
    letter of another script is then replaced by its counterpart in the word's script. A word in one script
    is never changed. Idempotent: folding changes only look-alike letters, so the unambiguous counts, and
    with them the choice, stay the same on a second pass.
    """
    has_cyr = _CYRILLIC_RE.search(text) is not None
    has_lat = _LATIN_RE.search(text) is not None
    has_grk = _GREEK_RE.search(text) is not None
    if has_cyr + has_lat + has_grk < 2:
        return text
    return _WORD_RE.sub(lambda m: _fold_word(m.group()), text)


# --- apostrophes -------------------------------------------------------------------------------------
_APOSTROPHE_AFTER_LETTER_RE = re.compile(f"(?<=[^\\W\\d_])[{_APOSTROPHES}]")
_ACUTE_AFTER_LETTER_RE = re.compile("(?<=[^\\W\\d_])\u00b4")


def unify_apostrophes(text: str) -> str:
    """Apostrophe-like characters right after a letter become ASCII ' (Uzbek o‘ g‘ oʻ o’ o` ...)."""
    return _APOSTROPHE_AFTER_LETTER_RE.sub("'", text)


# --- public functions ----------------------------------------------------------------------------------
def normalize(text: str) -> str:
    """The form posbon matches on (see the module doc for the rules). Idempotent; never raises."""
    text = _ACUTE_AFTER_LETTER_RE.sub("'", text)
    text = unicodedata.normalize("NFKC", text)
    text = strip_invisible(text)
    text = fold_arabic(text)
    # NFKC again after case folding and after look-alike folding: both can leave sequences that NFKC
    # composes (İ -> i + dot; a mark left on a letter whose script changed).
    text = unicodedata.normalize("NFKC", text.casefold())
    text = unicodedata.normalize("NFKC", _fold_lookalikes(text))
    text = fold_legacy_tajik(text)  # last: NFKC composes к + ◌́ into ќ
    text = unify_apostrophes(text)
    return " ".join(text.split())


def fold_for_language(text: str) -> str:
    """Light folding before language identification; case and letters are otherwise kept.

    NFKC, invisible characters out (ZWNJ kept: it is part of Persian spelling), legacy Tajik letters folded
    (ў only when the text has other Tajik evidence, since it is a proper Uzbek Cyrillic letter; nothing when
    the text has letters Tajik never uses, such as Serbian ј or Ukrainian і), whitespace collapsed.
    """
    text = unicodedata.normalize("NFKC", text)
    text = strip_invisible(text, keep_zwnj=True)
    if _NOT_TAJIK_RE.search(text):
        pass  # Serbian, Macedonian, Ukrainian or Belarusian: their ѓ ї ќ њ љ ў are their own letters
    elif _TAJIK_EVIDENCE_RE.search(text):
        text = text.translate(_LEGACY_TAJIK)
    else:
        text = text.translate(_LEGACY_TAJIK_NO_U)
    return " ".join(text.split())
