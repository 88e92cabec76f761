"""Text fingerprints: character shingles of already-normalised text (see posbon.text.normalize)."""

from __future__ import annotations

import unicodedata

from posbon.domain import Signal, SignalType

SHINGLE_SIZE = 5
# Below this many letters a text is too short to fingerprint: a near-duplicate match on it would be noise.
MIN_LETTERS = 20


def _letters_and_digits(normalized: str) -> str:
    """Keep letters and digits; a run of anything else (punctuation, emoji, symbols, space) -> one space."""
    out: list[str] = []
    gap = False
    for ch in normalized:
        if unicodedata.category(ch)[0] in "LN":
            if gap and out:
                out.append(" ")
            out.append(ch)
            gap = False
        else:
            gap = True
    return "".join(out)


def shingle_sequence(normalized: str, k: int = SHINGLE_SIZE) -> list[str]:
    """The character k-grams of the text in order (with repeats); a text shorter than k is one shingle."""
    cleaned = _letters_and_digits(normalized)
    if not cleaned:
        return []
    if len(cleaned) <= k:
        return [cleaned]
    return [cleaned[i : i + k] for i in range(len(cleaned) - k + 1)]


def shingles(normalized: str, k: int = SHINGLE_SIZE) -> set[str]:
    """Character k-grams over letters and digits only (punctuation, emoji and symbols dropped, spaces
    collapsed): the basis for MinHash and for the exact resemblance/containment scores."""
    return set(shingle_sequence(normalized, k))


def letter_count(text: str) -> int:
    return sum(1 for ch in text if unicodedata.category(ch)[0] == "L")


def text_signal(normalized: str) -> Signal | None:
    """A TEXT signal for normalised text, or None when it has fewer than MIN_LETTERS letters."""
    if letter_count(normalized) < MIN_LETTERS:
        return None
    return Signal(SignalType.TEXT, normalized)
