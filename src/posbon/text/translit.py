"""Script conversion for matching: Uzbek Latin <-> Cyrillic, Russian in Latin letters, and the
script-neutral *skeleton* that near-duplicate text matching shingles.

Written by hand. PyPI has Uzbek converters (uztransliterator, alifbo) and Russian transliterators with
many schemes (iuliia, which bench/text_neardup.py uses as an evasion), but none folds the many ways people
type Cyrillic in Latin letters (ya/ja/ia, sh/ş/š/shh, zh/j/ž, kh/h/x, ts/c, ch/ç/č/tch) into one form,
which is what matching needs; the skeleton is that fold. The Uzbek converter (short; rules of the
1995 Latin alphabet: e/э at word start, ye/е, o'/ў, g'/ғ, ts/ц, the tutuq belgisi ') is kept here, next to
the skeleton that must agree with it, and pinned by tests/test_text_translit.py.

`skeleton(normalized)` takes text already passed through `posbon.text.normalize.normalize` (case folded,
invisible characters out, look-alikes and legacy Tajik letters folded, apostrophes unified) and returns:

1. Cyrillic letters (ru, tg, uz, kk, ky) mapped to Latin letters or skeleton symbols: ш щ -> S, ч ц -> C,
   ж ҷ -> J, х ҳ һ -> H, қ -> k, ғ -> g, ь ъ dropped, я -> ya, ю -> yu, ӯ/ў -> o ...
2. Latin digraphs and variants folded into the same symbols: shch shh sch sh ş š -> S;
   tch ch ç č c ts tz -> C; zh j ž -> J; kh h x -> H; gh ğ g' -> g; q -> k; w -> v; o' -> o.
3. Every vowel (a e i o u y and their accented forms, ы й ...) -> "a": translit schemes disagree most on
   vowels and glides (ya/ja/ia, yo/jo/e, ы as y/i), so only "a vowel is here" is kept.
4. Everything that is not a letter or digit (spaces, punctuation, emoji, apostrophes) dropped, so changed
   spacing, line breaks and inserted symbols cannot split a shingle.
5. Runs of one symbol collapsed to one (vowel runs, and doubled consonants that translit often drops).

Arabic-script text passes through steps 4-5 only (normalize already unified its letter variants;
teh marbuta ة is folded to ه here).
"""

from __future__ import annotations

import random
import re

# --- Uzbek Latin <-> Cyrillic -----------------------------------------------------------------------
_APOS = "'\u2018\u2019\u02bb\u02bc\u02bd\u0060\u2032\u02b9\u02c8\u201b"
_UZ_VOWELS_LAT = "aeiouAEIOU"
_UZ_VOWELS_CYR = "аеёиоуэюяўӯАЕЁИОУЭЮЯЎӮ"

_UZ_LAT_TO_CYR: dict[str, str] = {
    "a": "а", "b": "б", "d": "д", "e": "е", "f": "ф", "g": "г", "h": "ҳ", "i": "и", "j": "ж", "k": "к",
    "l": "л", "m": "м", "n": "н", "o": "о", "p": "п", "q": "қ", "r": "р", "s": "с", "t": "т", "u": "у",
    "v": "в", "x": "х", "y": "й", "z": "з", "c": "ц", "w": "в",
    "sh": "ш", "ch": "ч", "o'": "ў", "g'": "ғ", "yo": "ё", "yu": "ю", "ya": "я", "ye": "е",
}  # fmt: skip
# A digraph's letters, or one letter; `s'h` keeps s + h apart (Latin writes it for Cyrillic сҳ).
_UZ_LAT_TOKEN = re.compile(
    f"s[{_APOS}]h|sh|ch|[og][{_APOS}]|y[oua](?![{_APOS}])|ye|[{_APOS}]|[a-z]", re.IGNORECASE
)

_UZ_CYR_TO_LAT: dict[str, str] = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "yo", "ж": "j", "з": "z", "и": "i",
    "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
    "у": "u", "ф": "f", "х": "x", "ц": "ts", "ч": "ch", "ш": "sh", "ъ": "'", "ь": "", "э": "e", "ю": "yu",
    "я": "ya", "ў": "o'", "ӯ": "o'", "қ": "q", "ғ": "g'", "ҳ": "h", "ы": "i",
}  # fmt: skip
_UZ_CYR_RE = re.compile("[а-яёўӯқғҳА-ЯЁЎӮҚҒҲ]")


def _match_case(source: str, target: str, next_upper: bool) -> str:
    if not source[0].isupper() or not target:
        return target
    if len(source) > 1 and source[1:].isupper() or next_upper:
        return target.upper()
    return target[0].upper() + target[1:]


def uzbek_latin_to_cyrillic(text: str) -> str:
    """Uzbek in the Latin alphabet -> Cyrillic (e at word start or after a vowel -> э, else е;
    the tutuq belgisi ' -> ъ; any apostrophe character works for o' g' and ')."""
    out: list[str] = []
    pos = 0
    prev_letter = ""
    for m in _UZ_LAT_TOKEN.finditer(text):
        out.append(text[pos : m.start()])
        if m.start() != pos:
            prev_letter = ""
        token = m.group()
        low = token.lower()
        if low[0] in _APOS:
            cyr = "ъ" if prev_letter else token
        elif low.startswith("s") and len(low) == 3:
            cyr = "сҳ"
        elif low[0] in "og" and len(low) == 2 and low[1] in _APOS:
            cyr = _UZ_LAT_TO_CYR[low[0] + "'"]
        elif low == "e" and (not prev_letter or prev_letter in _UZ_VOWELS_LAT):
            cyr = "э"
        else:
            cyr = _UZ_LAT_TO_CYR.get(low, token)
        nxt = text[m.end() : m.end() + 1]
        out.append(_match_case(token, cyr, nxt.isupper() and token.isupper()))
        prev_letter = low[-1] if low[-1] not in _APOS else prev_letter
        pos = m.end()
    out.append(text[pos:])
    return "".join(out)


def uzbek_cyrillic_to_latin(text: str, apostrophe: str = "'") -> str:
    """Uzbek in Cyrillic -> the Latin alphabet (е at word start or after a vowel -> ye; ц -> ts;
    ў -> o', ғ -> g', ъ -> the apostrophe). Characters that are not Uzbek Cyrillic letters pass through."""
    out: list[str] = []
    prev = ""
    for i, ch in enumerate(text):
        low = ch.lower()
        if not _UZ_CYR_RE.match(ch):
            out.append(ch)
            prev = ch
            continue
        word_start_or_after_vowel = not prev.isalpha() or prev in _UZ_VOWELS_CYR
        lat = "ye" if low == "е" and word_start_or_after_vowel else _UZ_CYR_TO_LAT[low]
        lat = lat.replace("'", apostrophe)
        nxt = text[i + 1 : i + 2]
        out.append(_match_case(ch, lat, ch.isupper() and nxt.isupper()))
        prev = ch
    return "".join(out)


# --- Russian in Latin letters (generator for tests and benchmarks) -----------------------------------
# Schemes people use; a list of options picks at random per letter (writers are not consistent).
RUSSIAN_LATIN_SCHEMES: dict[str, dict[str, list[str]]] = {
    "passport": {  # ICAO 9303, as in passports
        "ж": ["zh"], "х": ["kh"], "ц": ["ts"], "ч": ["ch"], "ш": ["sh"], "щ": ["shch"], "ы": ["y"],
        "й": ["i"], "ъ": ["ie"], "ь": [""], "я": ["ia"], "ю": ["iu"], "ё": ["e"], "э": ["e"], "е": ["e"],
    },
    "chat": {  # what people type in chats
        "ж": ["zh", "j"], "х": ["h", "kh", "x"], "ц": ["ts", "c"], "ч": ["ch"], "ш": ["sh"],
        "щ": ["sch", "sh"], "ы": ["y", "i"], "й": ["y", "i"], "ъ": ["'", ""], "ь": ["'", ""],
        "я": ["ya"], "ю": ["yu"], "ё": ["yo", "e"], "э": ["e"], "е": ["e"],
    },
    "scientific": {  # ISO 9 / scholarly, with diacritics
        "ж": ["ž"], "х": ["x", "h"], "ц": ["c"], "ч": ["č"], "ш": ["š"], "щ": ["šč"], "ы": ["y"],
        "й": ["j"], "ъ": ["ʺ"], "ь": ["ʹ"], "я": ["ja"], "ю": ["ju"], "ё": ["ë"], "э": ["è", "e"], "е": ["e"],
    },
    "turkic": {  # as typed by speakers of Turkic languages with Latin keyboards
        "ж": ["j"], "х": ["h", "x"], "ц": ["ts"], "ч": ["ç", "ch"], "ш": ["ş"], "щ": ["ş"], "ы": ["ı", "y"],
        "й": ["y"], "ъ": [""], "ь": [""], "я": ["ya"], "ю": ["yu"], "ё": ["yo"], "э": ["e"], "е": ["e"],
    },
}  # fmt: skip
_RU_COMMON = dict(zip("абвгдзиклмнопрстуф", "abvgdziklmnoprstuf", strict=True))


def russian_to_latin(text: str, scheme: str = "chat", rng: random.Random | None = None) -> str:
    """Russian Cyrillic written in Latin letters by one of RUSSIAN_LATIN_SCHEMES (KeyError if unknown).
    Where a scheme allows several spellings of a letter, `rng` picks one per occurrence (first if None)."""
    table = RUSSIAN_LATIN_SCHEMES[scheme]
    out: list[str] = []
    for i, ch in enumerate(text):
        low = ch.lower()
        if low in _RU_COMMON:
            lat = _RU_COMMON[low]
        elif low in table:
            options = table[low]
            lat = options[0] if rng is None else rng.choice(options)
        else:
            out.append(ch)
            continue
        nxt = text[i + 1 : i + 2]
        out.append(_match_case(ch, lat, ch.isupper() and nxt.isupper()) if lat else "")
    return "".join(out)


# --- the skeleton -----------------------------------------------------------------------------------
_CYR_TO_SKELETON: dict[int, str] = {
    ord(k): v
    for k, v in {
        "а": "a", "б": "b", "в": "v", "г": "g", "ғ": "g", "ґ": "g", "д": "d", "е": "e", "є": "e", "ё": "e",
        "ж": "J", "ҷ": "J", "з": "z", "и": "i", "і": "i", "ї": "i", "ӣ": "i", "й": "y", "к": "k", "қ": "k",
        "л": "l", "м": "m", "н": "n", "ң": "n", "о": "o", "ө": "o", "п": "p", "р": "r", "с": "s", "т": "t",
        "у": "u", "ӯ": "o", "ў": "o", "ү": "u", "ұ": "u", "ф": "f", "х": "H", "ҳ": "H", "һ": "H",
        "ц": "ts", "ч": "C", "ш": "S", "щ": "S", "ъ": "", "ь": "", "ы": "y", "э": "e", "ю": "yu", "я": "ya",
        "ә": "a", "ѓ": "g", "ќ": "k", "њ": "H", "љ": "J", "ة": "ه",
    }.items()
}  # fmt: skip
# Applied in order after the Cyrillic map (which emits lower-case Latin, so тс -> ts folds like Latin ts).
_LATIN_DIGRAPHS: tuple[tuple[str, str], ...] = (
    ("shch", "S"),
    ("shh", "S"),  # щ in GOST 7034
    ("sch", "S"),
    ("sh", "S"),
    ("tch", "C"),  # ч in French-based schemes
    ("ch", "C"),
    ("zh", "J"),
    ("kh", "H"),
    ("ts", "C"),
    ("tz", "C"),
    ("gh", "g"),
    ("ph", "f"),
    ("ck", "k"),
)
_VOWELS = "aeiouyıàáâãäåāăąèéêëēĕėęěìíîïĩīĭįòóôõöøōŏőùúûüũūŭůűųýÿœæ"
_LATIN_TO_SKELETON: dict[int, str | None] = {ord(v): "a" for v in _VOWELS}
_LATIN_TO_SKELETON.update(
    {
        ord(k): v
        for k, v in {
            "h": "H", "x": "H", "c": "C", "ç": "C", "č": "C", "ć": "C", "j": "J", "ž": "J", "ş": "S",
            "š": "S", "ŝ": "S", "ś": "S", "q": "k", "w": "v", "ğ": "g", "ñ": "n", "ń": "n", "ł": "l",
        }.items()
    }
)  # fmt: skip
_LATIN_TO_SKELETON.update({ord(a): None for a in _APOS + "ʺ"})
_NOT_LETTER_OR_DIGIT = re.compile(r"[\W_]+")
_REPEATS = re.compile(r"(.)\1+")


# j between a consonant and a vowel is a glide (ISO 9 and scientific schemes: мясо -> mjaso, -тся -> tsja),
# not ж: Uzbek Latin and Turkic typing write ж as j mostly at a word start or next to a vowel.
_GLIDE_J = re.compile(f"(?<=[bcdfgklmnprstvzxqwhSCJH])j(?=[{_VOWELS}])")


def skeleton_letters(normalized: str) -> str:
    """Steps 1-4 of the module doc (no run collapsing): the script-neutral letters of a normalised text."""
    text = normalized.translate(_CYR_TO_SKELETON)
    for digraph, symbol in _LATIN_DIGRAPHS:
        if digraph in text:
            text = text.replace(digraph, symbol)
    if "j" in text:
        text = _GLIDE_J.sub("y", text)
    return _NOT_LETTER_OR_DIGIT.sub("", text.translate(_LATIN_TO_SKELETON))


def skeleton(normalized: str) -> str:
    """The script-neutral skeleton of a normalised text (see the module doc); "" when it has no letters
    or digits. `posbon.signals.text` collapses runs itself on code points (faster); this is for reading."""
    return _REPEATS.sub(r"\1", skeleton_letters(normalized))
