"""Text fingerprints: character shingles of the script-neutral skeleton of normalised text.

A text is normalised (posbon.text.normalize), reduced to its skeleton (posbon.text.translit.skeleton:
Cyrillic and Latin spellings of the same words become the same letters, vowels one mark, spaces,
punctuation and emoji gone, runs collapsed), and cut into overlapping k-grams of skeleton letters.
`shingle_hashes` gives them as 32-bit hashes in text order, computed with numpy on code points (a rolling
polynomial over k code points, then a 64-bit mixer), ~10x faster than hashing k-gram strings one by one.
"""

from __future__ import annotations

import unicodedata

import numpy as np
import numpy.typing as npt

from posbon.domain import Signal, SignalType
from posbon.text.translit import skeleton_letters

SHINGLE_SIZE = 5
# Below this many letters a text is too short to fingerprint: a near-duplicate match on it would be noise.
MIN_LETTERS = 20

Codes = npt.NDArray[np.uint32]
_BASE = np.uint64(0x100000001B3)  # odd, so distinct short k-grams of code points (< 2^21) rarely collide
_MIX = np.uint64(0x9E3779B97F4A7C15)
_S29 = np.uint64(29)
_S32 = np.uint64(32)


def skeleton_codes(normalized: str) -> Codes:
    """Code points of the text's skeleton, runs of one code point collapsed to one."""
    letters = skeleton_letters(normalized)
    codes = np.frombuffer(letters.encode("utf-32-le"), dtype=np.uint32)
    if len(codes) < 2:
        return codes.copy()
    keep = np.empty(len(codes), dtype=bool)
    keep[0] = True
    np.not_equal(codes[1:], codes[:-1], out=keep[1:])
    return codes[keep]


def _polynomial(wide: npt.NDArray[np.uint64], k: int) -> npt.NDArray[np.uint64]:
    """c[i]*B^(k-1) + ... + c[i+k-1] mod 2^64 for every i (k <= len(wide)); numpy wraps on overflow."""
    count = len(wide) - k + 1
    h = wide[:count].copy()
    for j in range(1, k):
        h *= _BASE
        h += wide[j : j + count]
    return h


def _finish(h: npt.NDArray[np.uint64]) -> Codes:
    """64-bit polynomial -> well-mixed 32 bits (xor-shift, then the high half of a multiply)."""
    h ^= h >> _S29
    h *= _MIX
    return (h >> _S32).astype(np.uint32)


def hash_codes(codes: Codes, k: int = SHINGLE_SIZE) -> Codes:
    """32-bit hashes of the k-grams of `codes` in order; a sequence shorter than k is one shingle."""
    if not len(codes):
        return np.empty(0, dtype=np.uint32)
    return _finish(_polynomial(codes.astype(np.uint64), min(k, len(codes))))


def hash_codes_twice(codes: Codes, k: int, double: int) -> tuple[Codes, Codes]:
    """The k-gram hashes and the (2k)-gram hashes of `codes` (`double` must be 2k): the longer ones are
    made from the shorter polynomials (h2k(i) = hk(i) * B^k + hk(i+k)), one pass over the text."""
    if double != 2 * k or len(codes) < double:
        return hash_codes(codes, k), hash_codes(codes, double)
    short = _polynomial(codes.astype(np.uint64), k)
    long = short[:-k] * np.uint64(pow(int(_BASE), k, 1 << 64)) + short[k:]
    return _finish(short), _finish(long)


def unique_sorted(hashes: Codes) -> Codes:
    """Distinct values, sorted (np.unique is several times slower on arrays this small)."""
    if len(hashes) < 2:
        return hashes.copy()
    ordered = np.sort(hashes)
    keep = np.empty(len(ordered), dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def shingle_hashes(normalized: str, k: int = SHINGLE_SIZE) -> Codes:
    """32-bit hashes of the skeleton's k-grams, in text order (with repeats)."""
    return hash_codes(skeleton_codes(normalized), k)


def shingle_sequence(normalized: str, k: int = SHINGLE_SIZE) -> list[str]:
    """The skeleton's k-grams in order (with repeats), as strings (for reading and tests)."""
    cleaned = "".join(map(chr, skeleton_codes(normalized).tolist()))
    if not cleaned:
        return []
    if len(cleaned) <= k:
        return [cleaned]
    return [cleaned[i : i + k] for i in range(len(cleaned) - k + 1)]


def shingles(normalized: str, k: int = SHINGLE_SIZE) -> set[str]:
    """The set of skeleton k-grams: what resemblance and containment are computed on."""
    return set(shingle_sequence(normalized, k))


def letter_count(text: str) -> int:
    return sum(1 for ch in text if unicodedata.category(ch)[0] == "L")


def text_signal(normalized: str) -> Signal | None:
    """A TEXT signal for normalised text, or None when it has fewer than MIN_LETTERS letters."""
    if letter_count(normalized) < MIN_LETTERS:
        return None
    return Signal(SignalType.TEXT, normalized)
