"""Versioned indicator packs: named outlets, publications and recruitment behaviour, matched in any script.

A pack is a YAML file (see `docs/indicators.md`): `id`, `version`, `description`, `sources` (the public
research the names come from) and `indicators`, each with `id`, `category`, `weight` (0..1), `languages`,
`scripts` and literal `terms` and/or regex `patterns`.

Matching happens on a folded copy of the text (NFKC, casefold, zero-width characters and diacritics out,
legacy Tajik letters and Arabic letter forms unified, Cyrillic/Greek letters that look like Latin ones mapped
to one skeleton, Uzbek apostrophes dropped, whitespace collapsed). Every folded character remembers which
characters of the original text it came from, so spans always point into the ORIGINAL text.
Terms are folded the same way, and for Cyrillic and Latin terms the matcher adds transliteration variants
(Tajik, Russian and Uzbek tables below), so one term written once matches its usual spellings.

A trailing `*` on a term lets the term match the start of a longer word (inflected forms: "Хуросон*"
matches "Хуросонро"); otherwise a term must start and end at word boundaries. Arabic-script terms also
match behind the attached proclitics و ب ل ف.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import ahocorasick
import yaml

from posbon.domain import Problem

PACKS_DIR = Path(__file__).parent / "packs"
CONTEXT_CUES_FILE = "context_cues.yaml"  # lives beside the packs but is not an indicator pack

KNOWN_SCRIPTS = frozenset({"Latn", "Cyrl", "Arab"})
KNOWN_LANGUAGES = frozenset({"tg", "ru", "uz", "fa", "ps", "ar", "en", "ky", "kk", "*"})
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


# --------------------------------------------------------------------------------------------------------
# Folding with an offset map
# --------------------------------------------------------------------------------------------------------


def _external_normalize() -> Callable[[str], str] | None:
    """The text stage's `normalize(text)`, when it is installed; None before it lands."""
    try:
        from posbon.text.normalize import normalize  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    return normalize  # type: ignore[no-any-return,unused-ignore]


_ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u00ad\u180e")
_APOSTROPHES = "'\u2019\u2018\u02bb\u02bc\u0060\u00b4\u02b9\u2032"
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"

# One table, applied after NFKC + casefold, to text, terms and pattern literals alike. Written by hand: no
# maintained library folds legacy Tajik letters, Arabic/Persian letter forms and cross-script look-alikes
# together while keeping a per-character offset map.
_CHAR_FOLD: dict[str, str] = {
    # legacy Tajik letters typed with other Cyrillic alphabets' look-alikes
    "ѓ": "ғ",
    "ї": "ӣ",
    "ќ": "қ",
    "ў": "ӯ",
    "њ": "ҳ",
    "љ": "ҷ",
    "ё": "е",
    # Arabic / Persian / Pashto letter forms
    "ي": "ی",
    "ى": "ی",
    "ې": "ی",
    "ك": "ک",
    "ة": "ه",
    "ۀ": "ه",
    "ە": "ه",
    "أ": "ا",
    "إ": "ا",
    "آ": "ا",
    "ٱ": "ا",
    "\u0640": "",  # tatweel
    # Cyrillic and Greek letters that look like Latin ones -> one skeleton (after casefold)
    "а": "a",
    "в": "b",
    "е": "e",
    "һ": "h",
    "н": "h",
    "і": "i",
    "ј": "j",
    "к": "k",
    "м": "m",
    "о": "o",
    "р": "p",
    "ԛ": "q",
    "с": "c",
    "ѕ": "s",
    "т": "t",
    "у": "y",
    "х": "x",
    "ԝ": "w",
    "α": "a",
    "β": "b",
    "ε": "e",
    "ι": "i",
    "κ": "k",
    "ν": "v",
    "ο": "o",
    "ρ": "p",
    "τ": "t",
    "υ": "u",
    "χ": "x",
}
for _c in _APOSTROPHES:
    _CHAR_FOLD[_c] = ""
for _c in _DASHES:
    _CHAR_FOLD[_c] = "-"
for _i, _c in enumerate("٠١٢٣٤٥٦٧٨٩"):
    _CHAR_FOLD[_c] = str(_i)
for _i, _c in enumerate("۰۱۲۳۴۵۶۷۸۹"):
    _CHAR_FOLD[_c] = str(_i)


@lru_cache(maxsize=65536)
def _fold_segment(segment: str) -> str:
    # pure, and called per character: the few thousand distinct characters of a feed are folded once each
    normalize = _external_normalize()
    base = normalize(segment) if normalize is not None else unicodedata.normalize("NFKC", segment).casefold()
    out: list[str] = []
    for c in base:
        if c in _ZERO_WIDTH or unicodedata.category(c) in ("Mn", "Me", "Cf"):
            continue
        if c.isspace():
            out.append(" ")
            continue
        c = _CHAR_FOLD.get(c, c)
        out.append(c)
    return "".join(out)


@dataclass(frozen=True)
class Folded:
    """A folded copy of a text; `starts[i]`/`ends[i]`: the original offsets folded character i came from."""

    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Folded [start, end) -> the original text's (start, end)."""
        return self.starts[start], self.ends[end - 1]


@lru_cache(maxsize=256)
def fold(text: str) -> Folded:
    """Fold `text` for matching, keeping for every folded character where it came from.

    Cached: the indicator matcher and the context model fold the same post one after the other."""
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    n = len(text)
    i = 0
    while i < n:
        j = i + 1
        while j < n and unicodedata.combining(text[j]):  # keep a base letter with its combining marks
            j += 1
        segment = text[i:j]
        if segment.isspace() or segment in _ZERO_WIDTH:
            folded = " " if segment.isspace() else ""
        else:
            folded = _fold_segment(segment)
        for c in folded:
            if c == " " and (not chars or chars[-1] == " "):
                continue  # collapse whitespace, drop it at the start
            chars.append(c)
            starts.append(i)
            ends.append(j)
        i = j
    return Folded("".join(chars), tuple(starts), tuple(ends))


def fold_term(term: str) -> str:
    return fold(term).text.strip()


def fold_pattern(pattern: str) -> str:
    """Fold the literal letters of a regex like text; escapes and `(?...)` group openers stay as written.

    Patterns therefore may be written in natural spelling; avoid character ranges over letters (`[а-я]`):
    use `\\w` instead, since folding maps some letters of a range to Latin.
    """
    out: list[str] = []
    i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if pattern.startswith("(?", i):
            j = i + 2
            while j < n and pattern[j] not in ":)>=!":
                j += 1
            out.append(pattern[i : j + 1])
            i = j + 1
            continue
        if c.isalpha() or c in _APOSTROPHES or c in _DASHES or c in _ZERO_WIDTH:
            out.append(_fold_segment(c))
        else:
            out.append(c)
        i += 1
    return "".join(out)


# --------------------------------------------------------------------------------------------------------
# Transliteration variants
# --------------------------------------------------------------------------------------------------------

# Informal Latin spellings people actually type (not ISO 9): each language has a few whole-word schemes,
# since a writer keeps one scheme through a word. `cyrtranslit` was checked: it has no Uzbek and its Tajik
# table is the scholarly one (â, ç, ḩ), which posts do not use, hence these small tables.
_COMMON_CYR = {
    "а": "a",
    "б": "b",
    "в": "v",
    "г": "g",
    "д": "d",
    "е": "e",
    "з": "z",
    "и": "i",
    "к": "k",
    "л": "l",
    "м": "m",
    "н": "n",
    "о": "o",
    "п": "p",
    "р": "r",
    "с": "s",
    "т": "t",
    "у": "u",
    "ф": "f",
    "ш": "sh",
    "ч": "ch",
    "ъ": "",
    "ь": "",
    "э": "e",
}
_SCHEMES: dict[str, list[dict[str, str]]] = {
    "tg": [
        {
            "ё": "yo",
            "ж": "zh",
            "й": "y",
            "ю": "yu",
            "я": "ya",
            "х": "x",
            "ҳ": "h",
            "ҷ": "j",
            "қ": "q",
            "ғ": "gh",
            "ӣ": "i",
            "ӯ": "u",
        },
        {
            "ё": "yo",
            "ж": "zh",
            "й": "y",
            "ю": "yu",
            "я": "ya",
            "х": "kh",
            "ҳ": "h",
            "ҷ": "j",
            "қ": "q",
            "ғ": "gh",
            "ӣ": "i",
            "ӯ": "u",
        },
        {
            "ё": "jo",
            "ж": "zh",
            "й": "j",
            "ю": "ju",
            "я": "ja",
            "х": "h",
            "ҳ": "h",
            "ҷ": "ch",
            "қ": "k",
            "ғ": "g",
            "ӣ": "i",
            "ӯ": "u",
        },
    ],
    "ru": [
        {"ё": "yo", "ж": "zh", "й": "y", "ю": "yu", "я": "ya", "х": "kh", "ц": "ts", "щ": "shch", "ы": "y"},
        {"ё": "e", "ж": "zh", "й": "i", "ю": "iu", "я": "ia", "х": "h", "ц": "c", "щ": "sch", "ы": "y"},
        {"ё": "jo", "ж": "j", "й": "j", "ю": "ju", "я": "ja", "х": "x", "ц": "c", "щ": "sh", "ы": "i"},
    ],
    "uz": [
        {
            "ё": "yo",
            "ж": "j",
            "й": "y",
            "ю": "yu",
            "я": "ya",
            "х": "x",
            "ҳ": "h",
            "қ": "q",
            "ғ": "g'",
            "ў": "o'",
            "ц": "ts",
        },
    ],
}
_SCHEMES["ky"] = _SCHEMES["ru"]
_SCHEMES["kk"] = _SCHEMES["ru"]

# Uzbek official Latin -> Cyrillic (longest first).
_UZ_LAT_TO_CYR = [
    *[("o'", "ў"), ("g'", "ғ"), ("sh", "ш"), ("ch", "ч"), ("yo", "ё"), ("yu", "ю"), ("ya", "я"), ("ts", "ц")],
    *zip("abdefghijklmnopqrstuvxyz'", "абдефгҳижклмнопқрстувхйзъ", strict=True),
]


def _script_of(ch: str) -> str | None:
    if not ch.isalpha():
        return None
    name = unicodedata.name(ch, "")
    if name.startswith("CYRILLIC"):
        return "Cyrl"
    if name.startswith(("ARABIC", "PERSIAN")):
        return "Arab"
    if name.startswith("LATIN"):
        return "Latn"
    return "Other"


def scripts_of(term: str) -> set[str]:
    return {s for s in (_script_of(c) for c in term) if s is not None}


def _cyr_to_lat(term: str, scheme: dict[str, str]) -> str:
    out = []
    for ch in term:
        low = ch.lower()
        out.append(scheme.get(low, _COMMON_CYR.get(low, ch)))
    return "".join(out)


def _uz_lat_to_cyr(term: str) -> str:
    low = unicodedata.normalize("NFKC", term).lower()
    for a in _APOSTROPHES:
        low = low.replace(a, "'")
    out = []
    i = 0
    while i < len(low):
        for lat, cyr in _UZ_LAT_TO_CYR:
            if low.startswith(lat, i):
                out.append(cyr)
                i += len(lat)
                break
        else:
            out.append(low[i])
            i += 1
    return "".join(out)


_ARABIC_PROCLITICS = ("و", "ب", "ل", "ف", "ول", "وب", "فل")
_ARABIC_ARTICLE = ("ال", "وال", "بال", "لل", "فال")


def term_variants(term: str, languages: Iterable[str]) -> list[str]:
    """Spelling variants of `term` (before folding): transliterations, hyphen forms, Arabic proclitics."""
    langs = set(languages)
    if "*" in langs:
        langs = set(_SCHEMES) | {"uz"}
    variants = [term]
    scripts = scripts_of(term)
    if scripts == {"Cyrl"}:
        for lang in sorted(langs & set(_SCHEMES)):
            variants.extend(_cyr_to_lat(term, scheme) for scheme in _SCHEMES[lang])
    elif scripts == {"Latn"} and "uz" in langs:
        variants.append(_uz_lat_to_cyr(term))
    elif scripts == {"Arab"}:
        variants.extend(p + term for p in _ARABIC_PROCLITICS)
        if not term.startswith("ال"):
            variants.extend(p + term for p in _ARABIC_ARTICLE)
    more: list[str] = []
    for v in variants:
        if "-" in v:
            more.extend((v.replace("-", " "), v.replace("-", "")))
    variants.extend(more)
    return list(dict.fromkeys(variants))


# --------------------------------------------------------------------------------------------------------
# Packs
# --------------------------------------------------------------------------------------------------------


class PackError(ValueError):
    """A pack that cannot be used. `str()` is one line naming the file (and line/indicator)."""


@dataclass(frozen=True)
class Source:
    title: str
    publisher: str
    year: str = ""
    authors: str = ""
    note: str = ""


@dataclass(frozen=True)
class Indicator:
    id: str
    category: str
    weight: float
    languages: tuple[str, ...]
    scripts: tuple[str, ...]
    terms: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    description: str = ""
    variants: bool = True  # add transliteration / proclitic / hyphen variants of the terms


@dataclass(frozen=True)
class IndicatorPack:
    id: str
    version: str
    description: str
    sources: tuple[Source, ...]
    indicators: tuple[Indicator, ...]
    path: str = ""
    settings: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class IndicatorHit:
    indicator_id: str
    category: str
    weight: float
    span: tuple[int, int]  # offsets in the ORIGINAL text
    matched: str  # the original text inside span
    pack: str
    pack_version: str


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that records each mapping's line as `__line__`, so errors can name it."""


def _construct_mapping_with_line(loader: _LineLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping_with_line)


def _str_list(value: Any, what: str, fail: Callable[[str], PackError]) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
        raise fail(f"'{what}' must be a list of strings")
    return tuple(str(v) for v in value)


def _parse_indicator(raw: Any, where: str, index: int, seen: set[str]) -> Indicator:
    if not isinstance(raw, dict):
        raise PackError(f"{where}: indicator #{index + 1}: must be a mapping with id, category, weight, ...")
    line = raw.get("__line__")
    iid = raw.get("id")
    label = f"indicator '{iid}'" if iid else f"indicator #{index + 1}"
    at = f"{where}:{line}" if line else where

    def fail(msg: str) -> PackError:
        return PackError(f"{at}: {label}: {msg}")

    if not isinstance(iid, str) or not _ID_RE.match(iid):
        raise fail("'id' must be a lowercase identifier (a-z, 0-9, _ . -)")
    if iid in seen:
        raise fail("duplicate id")
    seen.add(iid)
    unknown = set(raw) - {"__line__", "id", "category", "weight", "languages", "scripts", "terms", "patterns",
                          "description", "variants"}  # fmt: skip
    if unknown:
        raise fail(f"unknown field(s): {', '.join(sorted(map(str, unknown)))}")
    category = raw.get("category")
    if not isinstance(category, str) or not _ID_RE.match(category):
        raise fail("'category' must be a lowercase identifier such as outlet_name")
    weight = raw.get("weight")
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0.0 <= float(weight) <= 1.0:
        raise fail(f"'weight' must be a number between 0 and 1, got {weight!r}")
    languages = _str_list(raw.get("languages"), "languages", fail)
    if not languages:
        raise fail("'languages' must list at least one language code")
    bad_lang = [lang for lang in languages if lang not in KNOWN_LANGUAGES]
    if bad_lang:
        raise fail(f"unknown language code(s) {bad_lang}; known: {sorted(KNOWN_LANGUAGES)}")
    scripts = _str_list(raw.get("scripts"), "scripts", fail)
    if not scripts or not set(scripts) <= KNOWN_SCRIPTS:
        raise fail(f"'scripts' must list some of {sorted(KNOWN_SCRIPTS)}, got {list(scripts)}")
    terms = _str_list(raw.get("terms"), "terms", fail)
    patterns = _str_list(raw.get("patterns"), "patterns", fail)
    if not terms and not patterns:
        raise fail("needs 'terms' and/or 'patterns'")
    for term in terms:
        term_scripts = scripts_of(term)
        if len(term_scripts) > 1:
            raise fail(
                f"term {term!r} mixes scripts {sorted(term_scripts)} (a look-alike letter typed by mistake?)"
            )
        if term_scripts and not term_scripts <= set(scripts):
            raise fail(
                f"term {term!r} is in script {sorted(term_scripts)[0]}, not in 'scripts' {list(scripts)}"
            )
        if not fold_term(term.rstrip("*")):
            raise fail(f"term {term!r} is empty after normalisation")
    for pattern in patterns:
        try:
            re.compile(fold_pattern(pattern))
        except re.error as exc:
            raise fail(f"pattern {pattern!r} is not a valid regex: {exc}") from None
    variants = raw.get("variants", True)
    if not isinstance(variants, bool):
        raise fail("'variants' must be true or false")
    description = raw.get("description", "")
    return Indicator(
        id=iid,
        category=category,
        weight=float(weight),
        languages=languages,
        scripts=scripts,
        terms=terms,
        patterns=patterns,
        description=str(description or ""),
        variants=variants,
    )


def _parse_source(raw: Any, where: str, index: int) -> Source:
    if isinstance(raw, str):
        raise PackError(f"{where}: source #{index + 1}: must be a mapping with title and publisher")
    if not isinstance(raw, dict) or not raw.get("title") or not raw.get("publisher"):
        raise PackError(f"{where}: source #{index + 1}: needs 'title' and 'publisher'")
    return Source(
        title=str(raw["title"]),
        publisher=str(raw["publisher"]),
        year=str(raw.get("year", "")),
        authors=str(raw.get("authors", "")),
        note=str(raw.get("note", "")),
    )


def parse_pack(data: Any, where: str) -> IndicatorPack:
    """Validate a loaded YAML document as a pack; raise PackError (one line) on the first problem."""
    if not isinstance(data, dict):
        raise PackError(f"{where}: a pack must be a YAML mapping with id, version, description, indicators")
    pid = data.get("id")
    if not isinstance(pid, str) or not _ID_RE.match(pid):
        raise PackError(f"{where}: 'id' must be a lowercase identifier")
    version = data.get("version")
    if version is None or isinstance(version, bool) or not str(version).strip():
        raise PackError(f"{where}: pack '{pid}': 'version' is required")
    raw_sources = data.get("sources") or []
    if not isinstance(raw_sources, list):
        raise PackError(f"{where}: pack '{pid}': 'sources' must be a list")
    raw_indicators = data.get("indicators")
    if not isinstance(raw_indicators, list) or not raw_indicators:
        raise PackError(f"{where}: pack '{pid}': 'indicators' must be a non-empty list")
    settings = data.get("settings") or {}
    if not isinstance(settings, dict):
        raise PackError(f"{where}: pack '{pid}': 'settings' must be a mapping")
    settings = {k: v for k, v in settings.items() if k != "__line__"}
    seen: set[str] = set()
    return IndicatorPack(
        id=pid,
        version=str(version),
        description=str(data.get("description", "") or ""),
        sources=tuple(_parse_source(s, where, i) for i, s in enumerate(raw_sources)),
        indicators=tuple(_parse_indicator(r, where, i, seen) for i, r in enumerate(raw_indicators)),
        path=where,
        settings=settings,
    )


def load_pack(path: Path) -> IndicatorPack:
    """Read and validate one pack file; PackError (one line naming file and indicator) when it is bad."""
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PackError(f"{where}: cannot read pack: {exc}") from None
    try:
        data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise PackError(f"{where}{line}: not valid YAML: {problem}") from None
    return parse_pack(data, where)


def shipped_pack_paths() -> list[Path]:
    return sorted(p for p in PACKS_DIR.glob("*.yaml") if p.name != CONTEXT_CUES_FILE)


def load_packs(
    paths: Sequence[Path] | None = None, problems: list[Problem] | None = None
) -> list[IndicatorPack]:
    """Load packs (None: the shipped ones). Pass `problems` to skip bad packs and collect them as Problems;
    without it the first bad pack raises PackError. Indicator ids must be unique across packs."""
    packs: list[IndicatorPack] = []
    ids: dict[str, str] = {}
    for path in shipped_pack_paths() if paths is None else paths:
        try:
            pack = load_pack(Path(path))
            for ind in pack.indicators:
                if ind.id in ids:
                    raise PackError(f"{path}: indicator '{ind.id}': id already used in {ids[ind.id]}")
        except PackError as exc:
            if problems is None:
                raise
            problems.append(Problem(str(path), None, str(exc).removeprefix(f"{path}: ")))
            continue
        for ind in pack.indicators:
            ids[ind.id] = str(path)
        packs.append(pack)
    return packs


# --------------------------------------------------------------------------------------------------------
# Matching
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    pack: IndicatorPack
    indicator: Indicator


def _is_word_char(c: str) -> bool:
    return c.isalnum()


class IndicatorMatcher:
    """Finds every pack indicator in a text: terms through one Aho-Corasick automaton, patterns as regexes."""

    def __init__(self, packs: Sequence[IndicatorPack]) -> None:
        self._entries: list[_Entry] = []
        keys: dict[str, set[tuple[int, bool]]] = {}
        self._regexes: list[tuple[int, re.Pattern[str]]] = []
        for pack in packs:
            for ind in pack.indicators:
                idx = len(self._entries)
                self._entries.append(_Entry(pack, ind))
                for raw in ind.terms:
                    prefix = raw.endswith("*")
                    base = raw[:-1] if prefix else raw
                    forms = term_variants(base, ind.languages) if ind.variants else [base]
                    for form in forms:
                        key = fold_term(form)
                        if key:
                            keys.setdefault(key, set()).add((idx, prefix))
                for pattern in ind.patterns:
                    self._regexes.append((idx, re.compile(fold_pattern(pattern))))
        self._automaton: Any = None
        if keys:
            automaton = ahocorasick.Automaton()
            for key, values in keys.items():
                automaton.add_word(key, (len(key), tuple(sorted(values))))
            automaton.make_automaton()
            self._automaton = automaton

    @property
    def indicators(self) -> list[tuple[IndicatorPack, Indicator]]:
        return [(e.pack, e.indicator) for e in self._entries]

    def find(self, original_text: str) -> list[IndicatorHit]:
        """Every indicator occurrence, spans in the original text, sorted by position."""
        folded = fold(original_text)
        text = folded.text
        n = len(text)
        raw: dict[int, list[tuple[int, int]]] = {}
        if self._automaton is not None and text:
            for end_idx, (length, values) in self._automaton.iter(text):
                start = end_idx - length + 1
                end = end_idx + 1
                if start > 0 and _is_word_char(text[start - 1]):
                    continue
                for idx, prefix in values:
                    e = end
                    if prefix:
                        while e < n and _is_word_char(text[e]):
                            e += 1
                    elif e < n and _is_word_char(text[e]):
                        continue
                    raw.setdefault(idx, []).append((start, e))
        for idx, regex in self._regexes:
            for m in regex.finditer(text):
                if m.end() > m.start():
                    raw.setdefault(idx, []).append((m.start(), m.end()))
        hits: list[IndicatorHit] = []
        for idx, spans in raw.items():
            entry = self._entries[idx]
            # leftmost-longest, non-overlapping within one indicator
            last_end = -1
            for start, end in sorted(spans, key=lambda s: (s[0], -s[1])):
                if start < last_end:
                    continue
                last_end = end
                o_start, o_end = folded.original_span(start, end)
                hits.append(
                    IndicatorHit(
                        indicator_id=entry.indicator.id,
                        category=entry.indicator.category,
                        weight=entry.indicator.weight,
                        span=(o_start, o_end),
                        matched=original_text[o_start:o_end],
                        pack=entry.pack.id,
                        pack_version=entry.pack.version,
                    )
                )
        hits.sort(key=lambda h: (h.span, h.indicator_id))
        return hits


@lru_cache(maxsize=1)
def default_matcher() -> IndicatorMatcher:
    """A matcher over the shipped packs, built once."""
    return IndicatorMatcher(load_packs())


__all__ = [
    "Folded",
    "Indicator",
    "IndicatorHit",
    "IndicatorMatcher",
    "IndicatorPack",
    "PackError",
    "Source",
    "default_matcher",
    "fold",
    "fold_pattern",
    "load_pack",
    "load_packs",
    "term_variants",
]
