"""Near-duplicate text search over banked texts: sampled-gram candidates, confirmed by exact scores.

Texts are compared on the script-neutral skeleton (posbon.signals.text, posbon.text.translit), so a text
banked in Cyrillic is found when re-posted in Latin letters, and the reverse. See docs/text-matching.md.

Candidates. Every banked text keeps a content-defined sample of the hashes of its skeleton 10-grams, its
*anchors*: the hashes h with h mod r == 0, with r the largest of 16, 8, 4, 2, 1 that still leaves at least
16 anchors (short texts sample densely). This is Broder's "mod-m" sketch, the companion of MinHash in his
1997 resemblance/containment paper. It is used instead of MinHash with banded LSH (datasketch, rensa)
because the same gram is sampled in every text that has it, so the share of a banked text's anchors found
in a post estimates *containment* directly (a banked paragraph quoted inside a long post still has all its
anchors there) with no size classes or query windows, and because at 1M texts banded LSH needs thousands
of bands to tell an evaded copy (Jaccard 0.3-0.7) from an unrelated text (up to ~0.15) without flooding
the confirmation step (numbers in the doc). 10-grams (~26 bits of skeleton) are rare enough to look up;
5-grams are not (tried as anchors with 100,000 banked texts: most were saturated, recall fell to 96.9%).

The anchors are one sorted uint32 array with a parallel array of entry ids (8 bytes a posting, ~20 a text)
and a directory over the hashes' top bits, so one look-up touches ~2 cache lines. Entries meeting at least
CANDIDATE_SHARE of their anchors (and 2 of them) are candidates. An anchor with SATURATION or more postings
(a common word, or one text banked in hundreds of variants) keeps only its first SATURATION postings and is
skipped in the first pass; a second pass uses those anchors too when the first finds nothing and most of
the post's anchors are saturated (so heavily re-banked texts are still found).

Confirmation. Each candidate's skeleton is kept (one UTF-8 buffer with offsets, ~1 byte a letter); its
5-gram set is recomputed and compared with the post's exactly: resemblance |A∩B| / |A∪B| and containment
|A∩B| / |B|, where A is the post and B the banked text. Score = max of the two.

New entries go to a pending part (sorted on the next query, cached until the next add) and are merged into
the main arrays when it holds more than max(200,000, a quarter of the main index) postings. Building in
bulk and then querying is the fast path: each query after an add re-sorts the pending part.
"""

from __future__ import annotations

import sys
from array import array
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from posbon.signals.text import SHINGLE_SIZE, hash_codes, hash_codes_twice, skeleton_codes, unique_sorted

ANCHOR_SIZE = 2 * SHINGLE_SIZE  # skeleton letters in an anchor: ~26 bits, rare enough to look up at 1M
SAMPLING_RATES = (16, 8, 4, 2, 1)
MIN_ANCHORS = 16
CANDIDATE_SHARE = 0.3  # share of a banked text's anchors a post must contain to be confirmed exactly
SATURATION = 64  # postings kept for one anchor
BUCKET_SIZE = 8  # mean postings per bucket of the directory over the sorted anchor hashes
MAX_CONFIRM = 64  # candidates confirmed per query, best share first
_PENDING_MIN = 200_000  # pending postings that force a merge, or a quarter of the main index if larger

U32 = npt.NDArray[np.uint32]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class TextHit:
    key: int
    resemblance: float
    containment: float

    @property
    def score(self) -> float:
        return max(self.resemblance, self.containment)


def _gather(lo: I64, lengths: I64) -> I64:
    """Positions lo[i] .. lo[i]+lengths[i]-1 for every i, concatenated."""
    total = int(lengths.sum())
    if not total:
        return np.empty(0, dtype=np.int64)
    ends = np.cumsum(lengths)
    return np.arange(total, dtype=np.int64) + np.repeat(lo - (ends - lengths), lengths)


def _count(values: U32) -> tuple[U32, I64]:
    """Distinct values (sorted) and how often each occurs (np.unique is slower on small arrays)."""
    if not len(values):
        return values, np.empty(0, dtype=np.int64)
    ordered = np.sort(values)
    first = np.empty(len(ordered), dtype=bool)
    first[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    counts = np.empty(len(starts), dtype=np.int64)
    counts[:-1] = starts[1:] - starts[:-1]
    counts[-1] = len(ordered) - starts[-1]
    return ordered[starts], counts


class TextIndex:
    """Banked texts by integer key; `query` returns the near-duplicates of a post, best first."""

    def __init__(self, *, shingle_size: int = SHINGLE_SIZE, anchor_size: int = ANCHOR_SIZE) -> None:
        self.shingle_size = shingle_size
        self.anchor_size = anchor_size
        self._keys: list[int] = []
        self._ids: dict[int, int] = {}
        self._skeletons = bytearray()
        self._offsets = array("Q", [0])
        self._n_anchors = array("I")
        self._min_rate = SAMPLING_RATES[0]
        self._tiny_entries = 0  # entries with fewer than 4 anchors
        # main index: sorted anchor hashes, their entry ids, anchors per entry outside saturated lists
        self._hashes: U32 = np.empty(0, dtype=np.uint32)
        self._entry_ids: U32 = np.empty(0, dtype=np.uint32)
        self._n_unsaturated: U32 = np.empty(0, dtype=np.uint32)
        # bucket directory over the sorted hashes: bucket b (top bits of a hash) is
        # _hashes[_directory[b] : _directory[b + 1]]; one look-up touches ~2 cache lines, where a binary
        # search over 20M hashes touches ~20 (measured: 3-5x faster at 1M texts)
        self._shift = 31
        self._directory: I64 = np.zeros(3, dtype=np.int64)
        # pending: appended since the last merge; sorted copies cached until the next add
        self._pending_hashes = array("I")
        self._pending_ids = array("I")
        self._pending_sorted: tuple[U32, U32] | None = None

    def __len__(self) -> int:
        return len(self._keys)

    # --- building -----------------------------------------------------------------------------------
    def add(self, key: int, normalized: str) -> bool:
        """Index one banked text (already normalised). False when it has no letters or digits at all, or
        the key is already in the index."""
        if key in self._ids:
            return False
        codes = skeleton_codes(normalized)
        if not len(codes):
            return False
        unique = unique_sorted(hash_codes(codes, self.anchor_size))
        anchors = unique
        for rate in SAMPLING_RATES:
            sample = unique[(unique & np.uint32(rate - 1)) == 0]
            if len(sample) >= MIN_ANCHORS or rate == 1:
                anchors = sample
                self._min_rate = min(self._min_rate, rate)
                break
        entry = len(self._keys)
        self._keys.append(key)
        self._ids[key] = entry
        self._skeletons += codes.tobytes().decode("utf-32-le").encode("utf-8")
        self._offsets.append(len(self._skeletons))
        self._n_anchors.append(len(anchors))
        self._tiny_entries += len(anchors) < 4
        self._pending_hashes.frombytes(anchors.tobytes())
        self._pending_ids.frombytes(np.full(len(anchors), entry, dtype=np.uint32).tobytes())
        self._pending_sorted = None
        return True

    def _merge(self) -> None:
        """Fold the pending postings into the main arrays, truncating saturated anchors.

        Postings are sorted as one uint64 (hash << 32 | entry id), in place, so entries stay in the order
        they were added within an anchor and the peak memory is ~2.5x the postings (not ~6x with argsort).
        """
        main, pending = len(self._hashes), len(self._pending_ids)
        keys = np.empty(main + pending, dtype=np.uint64)
        for part, hashes_part, ids_part in (
            (slice(0, main), self._hashes, self._entry_ids),
            (slice(main, main + pending), self._pending_hashes, self._pending_ids),
        ):
            view = keys[part]
            view[:] = np.frombuffer(hashes_part, dtype=np.uint32)
            view <<= np.uint64(32)
            view |= np.frombuffer(ids_part, dtype=np.uint32)
        self._hashes = self._entry_ids = np.empty(0, dtype=np.uint32)
        self._pending_hashes, self._pending_ids, self._pending_sorted = array("I"), array("I"), None
        keys.sort()
        halves = keys.view(np.uint32)  # [low, high, low, high, ...] on little-endian machines
        low, high = (0, 1) if sys.byteorder == "little" else (1, 0)
        hashes, ids = halves[high::2].copy(), halves[low::2].copy()
        del keys, halves
        n = len(hashes)
        first = np.empty(n, dtype=bool)
        first[:1] = True
        np.not_equal(hashes[1:], hashes[:-1], out=first[1:])
        starts = np.flatnonzero(first)
        del first
        sizes = np.diff(starts, append=n)
        over = sizes > SATURATION
        keep = np.ones(n, dtype=bool)
        keep[_gather(starts[over] + SATURATION, sizes[over] - SATURATION)] = False
        unsaturated = np.repeat(sizes < SATURATION, sizes)
        self._n_unsaturated = np.bincount(ids[unsaturated], minlength=len(self._keys)).astype(np.uint32)
        del unsaturated, starts, sizes
        self._hashes, self._entry_ids = hashes[keep], ids[keep]
        bits = min(28, max(1, int(np.ceil(np.log2(max(len(self._hashes), 1) / BUCKET_SIZE)))))
        self._shift = 32 - bits
        directory = np.zeros((1 << bits) + 1, dtype=np.int64)
        np.cumsum(np.bincount(self._hashes >> self._shift, minlength=1 << bits), out=directory[1:])
        self._directory = directory

    def _pending(self) -> tuple[U32, U32]:
        if self._pending_sorted is None:
            hashes = np.frombuffer(self._pending_hashes, dtype=np.uint32)
            ids = np.frombuffer(self._pending_ids, dtype=np.uint32)
            order = np.argsort(hashes, kind="stable")
            self._pending_sorted = (hashes[order], ids[order])
        return self._pending_sorted

    # --- searching ------------------------------------------------------------------------------------
    def _lookup(self, probes: U32) -> tuple[U32, I64, bool]:
        """Entry ids and hit counts of entries whose anchors the probes meet, and whether the first pass
        (unsaturated anchors only) was used."""
        if len(self._pending_hashes) > max(_PENDING_MIN, len(self._hashes) // 4):
            self._merge()
        buckets = (probes >> self._shift).astype(np.int64)
        starts = self._directory[buckets]
        sizes = self._directory[buckets + 1] - starts
        positions = _gather(starts, sizes)
        owners = np.repeat(np.arange(len(probes)), sizes)
        same = self._hashes[positions] == probes[owners]
        positions, owners = positions[same], owners[same]
        lengths = np.bincount(owners, minlength=len(probes))
        saturated = lengths >= SATURATION
        parts = [self._entry_ids[positions[~saturated[owners]]]]
        if len(self._pending_hashes):
            p_hashes, p_ids = self._pending()
            p_lo = np.searchsorted(p_hashes, probes, side="left")
            p_len = np.searchsorted(p_hashes, probes, side="right") - p_lo
            parts.append(p_ids[_gather(p_lo, p_len)])
        ids, counts = _count(np.concatenate(parts))
        n_saturated = int(np.count_nonzero(saturated))
        if n_saturated and n_saturated >= int(np.count_nonzero(lengths)) - n_saturated:
            first = self._candidates(ids, counts, first_pass=True)
            if len(first):
                return ids, counts, True
            parts[0] = self._entry_ids[positions]
            ids, counts = _count(np.concatenate(parts))
            return ids, counts, False
        return ids, counts, True

    def _candidates(self, ids: U32, counts: I64, *, first_pass: bool) -> U32:
        """Entries meeting at least CANDIDATE_SHARE of their anchors (of those outside saturated lists in
        the first pass) and at least 2 of them (1 for texts with fewer than 4), best share first."""
        if not self._tiny_entries:  # most ids meet one anchor by chance: drop them before other work
            several = counts >= 2
            ids, counts = ids[several], counts[several]
        if not len(ids):
            return ids
        n_all = np.frombuffer(self._n_anchors, dtype=np.uint32)[ids]
        if first_pass:
            merged = ids < len(self._n_unsaturated)
            denominators = n_all.copy()
            denominators[merged] = self._n_unsaturated[ids[merged]]
        else:
            denominators = n_all
        denominators = np.maximum(denominators, 1)
        share = counts / denominators
        needed = np.where(n_all >= 4, 2, 1)
        good = (share >= CANDIDATE_SHARE) & (counts >= needed)
        chosen = ids[good]
        order = np.argsort(-share[good], kind="stable")[:MAX_CONFIRM]
        return chosen[order]

    def _entry_set(self, entry: int) -> U32:
        text = self._skeletons[self._offsets[entry] : self._offsets[entry + 1]].decode("utf-8")
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        return unique_sorted(hash_codes(codes, self.shingle_size))

    def query(self, normalized: str, min_score: float = 0.0) -> list[TextHit]:
        """Banked texts resembling or contained in `normalized`, score >= min_score, best first."""
        if not self._keys:
            return []
        codes = skeleton_codes(normalized)
        if not len(codes):
            return []
        shingles, grams = hash_codes_twice(codes, self.shingle_size, self.anchor_size)
        post = unique_sorted(shingles)
        long_grams = unique_sorted(grams)
        probes = long_grams[(long_grams & np.uint32(self._min_rate - 1)) == 0]
        ids, counts, first_pass = self._lookup(probes)
        hits: list[TextHit] = []
        for entry in self._candidates(ids, counts, first_pass=first_pass).tolist():
            banked = self._entry_set(entry)
            where = np.minimum(np.searchsorted(post, banked), len(post) - 1)
            common = int(np.count_nonzero(post[where] == banked))
            if not common:
                continue
            hit = TextHit(
                key=self._keys[entry],
                resemblance=common / (len(post) + len(banked) - common),
                containment=common / len(banked),
            )
            if hit.score >= min_score:
                hits.append(hit)
        hits.sort(key=lambda h: (-h.score, h.key))
        return hits
