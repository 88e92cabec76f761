"""Near-duplicate text search: MinHash LSH candidates, confirmed by exact shingle-set scores.

Library choice: datasketch's MinHash / MinHashLSH (rensa, the faster Rust MinHash, is not installed here,
and the cost below is dominated by LSH look-ups and numpy, not by MinHash updates).

Resemblance (Jaccard) finds a post that is a copy of a banked text. It misses a banked paragraph quoted
inside a much longer post: the Jaccard of a 300-shingle entry against a 1,500-shingle post is at most 0.2.
datasketch's LSHEnsemble answers containment of the *query* in the indexed sets, the opposite direction
(we need the banked entry contained in the post), so instead entries are kept in size classes (sizes
[16*2^k, 16*2^(k+1)) shingles) and a long post is queried, per class, with the MinHashes of overlapping
windows of its shingle sequence sized like that class (window = 1.41 x the class's lower bound, stride a
quarter window). A verbatim quote then has Jaccard >= ~0.7 with its best window, well above the LSH
threshold (0.3). Window MinHashes are cheap: the post is hashed once, in blocks of 4 shingles, and a window
is the element-wise minimum of its blocks' hash values (a MinHash of a union is the minimum of MinHashes).

Every candidate is confirmed on exact shingle sets (sorted uint32 shingle hashes): resemblance
|A∩B| / |A∪B| and containment |A∩B| / |B|, where A is the post and B the bank entry.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from datasketch import MinHash, MinHashLSH

from posbon.signals.text import shingle_sequence

NUM_PERM = 128
LSH_THRESHOLD = 0.3  # datasketch picks 37 bands x 3 rows: ~95% recall at Jaccard 0.43, ~12% at 0.15
_BASE_SIZE = 16  # smallest size class: entries of fewer than 32 shingles
_BLOCK = 4  # shingles per block when hashing a post

Hashes = npt.NDArray[np.uint32]


def _identity(value: int) -> int:
    """Shingles are hashed once (CRC-32) and MinHash is given the 32-bit values as they are; datasketch
    mixes them (murmur3 finaliser) before its permutations, so CRC-32's linearity does not matter, and it
    is ~5x faster than sha1_hash32 in building the index."""
    return value


_TEMPLATE = MinHash(num_perm=NUM_PERM, hashfunc=_identity, scheme="affine32")


def _new_minhash(hashvalues: npt.NDArray[np.generic] | None = None) -> MinHash:
    return MinHash(
        num_perm=NUM_PERM,
        hashfunc=_identity,
        hashvalues=hashvalues,
        permutations=_TEMPLATE.permutations,
        scheme=_TEMPLATE.scheme,
    )


def shingle_hashes(normalized: str) -> list[int]:
    """32-bit hashes of the text's shingles, in order (with repeats)."""
    return [zlib.crc32(s.encode("utf-8")) for s in shingle_sequence(normalized)]


def _size_class(size: int) -> int:
    return max(0, int(math.log2(max(size, 1) / _BASE_SIZE)))


@dataclass(frozen=True)
class TextHit:
    key: int
    resemblance: float
    containment: float

    @property
    def score(self) -> float:
        return max(self.resemblance, self.containment)


class TextIndex:
    """Banked texts by integer key; `query` returns the near-duplicates of a post, best first."""

    def __init__(self) -> None:
        self._sets: dict[int, Hashes] = {}
        self._classes: dict[int, MinHashLSH] = {}

    def __len__(self) -> int:
        return len(self._sets)

    def add(self, key: int, normalized: str) -> bool:
        """Index one banked text (already normalised). False when it has no letters or digits at all."""
        unique = np.unique(np.array(shingle_hashes(normalized), dtype=np.uint32))
        if not len(unique) or key in self._sets:
            return False
        minhash = _new_minhash()
        minhash.update_batch(unique.tolist())
        size_class = _size_class(len(unique))
        lsh = self._classes.get(size_class)
        if lsh is None:
            lsh = self._classes[size_class] = MinHashLSH(threshold=LSH_THRESHOLD, num_perm=NUM_PERM)
        lsh.insert(key, minhash, check_duplication=False)
        self._sets[key] = unique
        return True

    def candidates(self, hashes: list[int]) -> set[int]:
        """Keys whose MinHash collides with the whole post or with a window of it sized for their class."""
        if not hashes or not self._classes:
            return set()
        blocks = []
        for start in range(0, len(hashes), _BLOCK):
            block = _new_minhash()
            block.update_batch(hashes[start : start + _BLOCK])
            blocks.append(block.hashvalues)
        block_values = np.stack(blocks)
        found: set[int] = set()
        for size_class, lsh in self._classes.items():
            window = max(1, round(_BASE_SIZE * 2**size_class * math.sqrt(2) / _BLOCK))
            stride = max(1, round(window / 4))
            if len(block_values) <= window + stride:
                starts = [0]
            else:
                last = len(block_values) - window
                starts = [*range(0, last, stride), last]
            for start in starts:
                values = block_values[start : start + window].min(axis=0)
                found.update(lsh.query(_new_minhash(values)))
        return found

    def query(self, normalized: str, min_score: float = 0.0) -> list[TextHit]:
        """Banked texts resembling or contained in `normalized`, score >= min_score, best first."""
        hashes = shingle_hashes(normalized)
        post = np.unique(np.array(hashes, dtype=np.uint32))
        hits: list[TextHit] = []
        for key in self.candidates(hashes):
            entry = self._sets[key]
            common = len(np.intersect1d(post, entry, assume_unique=True))
            if not common:
                continue
            hit = TextHit(
                key=key,
                resemblance=common / (len(post) + len(entry) - common),
                containment=common / len(entry),
            )
            if hit.score >= min_score:
                hits.append(hit)
        hits.sort(key=lambda h: (-h.score, h.key))
        return hits
