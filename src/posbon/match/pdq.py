"""Exact PDQ range search at platform scale: multi-index hashing, a compiled loop, a memory-mapped snapshot.

Every banked hash within a Hamming distance of a query is returned, never an approximation.

Why this is hand-written (and not faiss, which posbon could use): faiss's exact binary indexes either scan
everything (IndexBinaryFlat: 10M x 32 bytes per query, a few hundred lookups/s at 10M) or keep one
`unordered_map` of 8-byte ids per substring (IndexBinaryMultiHash, under threatexchange's PDQIndex: 16 x 8
bytes per hash plus map overhead, over 1 GB at 10M), and neither supports deletes or a memory-mapped
snapshot. docs/pdq.md has the measurements behind this choice.

Design (see docs/pdq.md):
- 256 bits are cut into m = 11 disjoint substrings of `bits` bits (bits ~ log2 of the segment size + 3, at
  most 22). By the generalised pigeonhole principle, if d(q, x) <= t then some substring i differs in at
  most r_i bits whenever sum(r_i) >= t - m + 1 (for t = 31: ten substrings searched at radius 2 and one at
  radius 1). Each substring has a table: a row of `offsets` (2**bits + 1 uint32, a counting-sort directory)
  and a row of `perms` (uint32 rows ordered by that substring). A query probes every key within r_i of its
  own substring, gathers the rows of those buckets and verifies them by popcount, in a numba-compiled loop
  that releases the GIL (batches run on several threads). Rows are stored ordered by the first substring, so
  table 0 needs no permutation.
- The index is a list of immutable segments (log-structured): `add` builds a small segment for the new
  hashes (milliseconds for 10k) and a segment is merged into the one before it once it reaches 1/4 of its
  size, except into a base of 1M or more: that is rebuilt only by compact(), so no add pays for it.
  `remove` sets a tombstone; a segment more than half dead is rebuilt from its live rows. Ids are the
  caller's (non-negative ints) and stable.
- Memory at 10M hashes: hashes 320 MB + ids 40 MB (uint32 when they fit) + 10 perms x 40 MB + 11 x 16 MB
  directories = ~940 MB; a snapshot is one file laid out exactly like that, opened with numpy memmap.
- Small segments and thresholds where probing would cost more than reading every row use a blocked scan.
"""

from __future__ import annotations

import itertools
import json
import math
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numba
import numpy as np
import numpy.typing as npt

PDQ_HEX_LENGTH = 64
PDQ_BYTES = 32
DEFAULT_THRESHOLD = 31  # threatexchange's PDQ_CONFIDENT_MATCH_THRESHOLD

TABLES = 11  # substrings; 11 is the fewest for which radius <= 2 per substring covers t = 31
MAX_BITS = 22  # 2**22 buckets (16 MB directory) per table: the memory budget at 10M hashes
MIN_BITS = 8
SPARSITY = 3  # substring bits beyond log2(segment size): see _bits_for
QUERY_CHUNK = 256  # queries per call of the compiled loop (and per thread)
MERGE_RATIO = 4  # a segment is merged into the previous one once it is at least 1/4 of its size
AUTO_MERGE_LIMIT = 1_000_000  # a base segment this big is only rebuilt by compact()
SNAPSHOT_MAGIC = b"POSBONPDQIDX\x00\x01\n\n"  # 16 bytes

Packed = npt.NDArray[np.uint64]  # (n, 4): the 32 bytes of each hash viewed as 4 native uint64 words
IntArray = npt.NDArray[np.int64]


class SnapshotError(ValueError):
    """A snapshot file that cannot be loaded: missing, truncated, or not a posbon PDQ index."""


def parse_hashes(hex_hashes: Iterable[str]) -> npt.NDArray[np.uint8]:
    """64-hex-char PDQ hashes -> (n, 32) uint8 array. Raises ValueError naming the first malformed hash."""
    values = list(hex_hashes)
    for number, value in enumerate(values):
        if len(value) != PDQ_HEX_LENGTH:
            raise ValueError(f"PDQ hash #{number} must be {PDQ_HEX_LENGTH} hex characters, got {len(value)}")
    try:
        raw = bytes.fromhex("".join(values))
    except ValueError:
        raise ValueError("PDQ hash contains a character that is not hex") from None
    if len(raw) != PDQ_BYTES * len(values):  # bytes.fromhex skips spaces
        raise ValueError("PDQ hash contains a character that is not hex")
    return np.frombuffer(raw, dtype=np.uint8).reshape(len(values), PDQ_BYTES)


def pack_hashes(hashes: Iterable[str] | npt.NDArray[Any]) -> Packed:
    """Hex strings or an (n, 32) uint8 array -> contiguous (n, 4) uint64 words. Raises ValueError."""
    if isinstance(hashes, np.ndarray):
        array = hashes
        if array.dtype == np.uint64 and array.ndim == 2 and array.shape[1] == 4:
            return np.ascontiguousarray(array)
        if array.dtype != np.uint8 or array.ndim != 2 or array.shape[1] != PDQ_BYTES:
            raise ValueError(
                f"PDQ hash array must be (n, {PDQ_BYTES}) uint8, got {array.shape} {array.dtype}"
            )
    else:
        array = parse_hashes(hashes)
    return np.ascontiguousarray(array).view(np.uint64).reshape(-1, 4)


def unpack_hashes(words: Packed) -> list[str]:
    """(n, 4) uint64 words -> 64-hex-char strings (inverse of pack_hashes)."""
    raw = np.ascontiguousarray(words).view(np.uint8).reshape(-1, PDQ_BYTES)
    return [row.tobytes().hex() for row in raw]


def hamming_distance(hash_a: str, hash_b: str) -> int:
    """Hamming distance between two PDQ hashes in hex."""
    packed = pack_hashes((hash_a, hash_b))
    return int(np.bitwise_count(packed[0] ^ packed[1]).sum())


# --- substring keys and probes -------------------------------------------------------------------------


def _bits_for(n: int) -> int:
    """Substring length for a segment of n hashes: about one hash per 2**SPARSITY buckets, capped by memory.

    Sparse buckets cost more probes (C(b, 2) per table) but far fewer candidates, each a random read of
    its row: at 1M random hashes, single `search` calls ran 2,420/s with b = 22 against 1,649/s with
    b = 19 (docs/pdq.md), for 176 MB of directories instead of 23 MB. At 4M hashes and up b is 22 anyway.
    """
    return max(MIN_BITS, min(MAX_BITS, math.floor(math.log2(max(n, 1))) + SPARSITY))


def _keys(words: Packed, table: int, bits: int) -> npt.NDArray[np.int64]:
    """Bits [table*bits, (table+1)*bits) of each hash as an integer key."""
    start = table * bits
    word, shift = divmod(start, 64)
    key = words[:, word] >> np.uint64(shift)
    if shift + bits > 64:
        key = key | (words[:, word + 1] << np.uint64(64 - shift))
    return (key & np.uint64((1 << bits) - 1)).astype(np.int64)


@lru_cache(maxsize=64)
def _flip_masks(bits: int, radius: int) -> npt.NDArray[np.int64]:
    """Every XOR mask over `bits` bits with at most `radius` bits set (the probe neighbourhood)."""
    masks = [0]
    for count in range(1, radius + 1):
        masks.extend(sum(1 << b for b in combo) for combo in itertools.combinations(range(bits), count))
    return np.array(masks, dtype=np.int64)


def _radii(threshold: int) -> list[int]:
    """Per-table search radius with sum(r_i) >= threshold - TABLES + 1 (generalised pigeonhole)."""
    needed = max(0, threshold - TABLES + 1)
    base, extra = divmod(needed, TABLES)
    return [base + (1 if table < extra else 0) for table in range(TABLES)]


def _probe_count(bits: int, radii: list[int]) -> int:
    return sum(sum(math.comb(bits, k) for k in range(r + 1)) for r in radii)


def _offsets(keys: npt.NDArray[np.int64], bits: int) -> npt.NDArray[np.uint32]:
    counts = np.bincount(keys, minlength=1 << bits)
    offsets = np.zeros((1 << bits) + 1, dtype=np.uint32)
    np.cumsum(counts, out=offsets[1:])
    return offsets


def _order_by(keys: npt.NDArray[np.int64]) -> npt.NDArray[np.uint32]:
    """Stable order of rows by key (keys < 2**22, rows < 2**32): one numpy sort of key<<32|row."""
    rows = np.arange(len(keys), dtype=np.uint64)
    composite = (keys.astype(np.uint64) << np.uint64(32)) | rows
    composite.sort()
    return (composite & np.uint64(0xFFFFFFFF)).astype(np.uint32)


# --- the compiled search loop --------------------------------------------------------------------------
# numpy would need ~10 passes over temporaries per candidate (gather, repeat, XOR, popcount...); one
# compiled loop per query touches each candidate once and runs the queries of a batch on all cores.

_U1 = np.uint64(1)
_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)


@numba.njit(cache=True, inline="always")
def _popcount(x: np.uint64) -> int:
    x = x - ((x >> _U1) & _M1)
    x = (x & _M2) + ((x >> np.uint64(2)) & _M2)
    x = (x + (x >> np.uint64(4))) & _M4
    return int((x * _H01) >> np.uint64(56))


@numba.njit(cache=True, inline="always")
def _key_of(row: Any, start: int, bits: int) -> int:
    word = start >> 6
    shift = start & 63
    key = row[word] >> np.uint64(shift)
    if shift + bits > 64:
        key = key | (row[word + 1] << np.uint64(64 - shift))
    return int(key & np.uint64((1 << bits) - 1))


@numba.njit(cache=True, nogil=True)
def _mih_kernel(  # pragma: no cover - compiled; exercised through PdqIndex.search_* in the tests
    words: Any,
    alive: Any,
    offsets: Any,
    perms: Any,
    bits: int,
    radii: Any,
    masks: Any,
    mask_starts: Any,
    queries: Any,
    threshold: int,
    out_rows: Any,
    out_dist: Any,
    counts: Any,
) -> None:
    # Three passes per table (bucket bounds, candidate rows, verification), each a loop of independent
    # loads, so the CPU keeps many cache misses in flight instead of chasing one pointer at a time.
    cap = out_rows.shape[1]
    tables = radii.shape[0]
    widest = 0
    for table in range(tables):
        widest = max(widest, mask_starts[table + 1] - mask_starts[table])
    low = np.empty(widest, dtype=np.int64)
    high = np.empty(widest, dtype=np.int64)
    candidates = np.empty(1024, dtype=np.int64)
    for q in range(queries.shape[0]):
        query = queries[q]
        count = 0
        for table in range(tables):
            query_key = _key_of(query, table * bits, bits)
            first = mask_starts[table]
            probes = mask_starts[table + 1] - first
            total = 0
            for i in range(probes):
                probe = query_key ^ masks[first + i]
                low[i] = offsets[table, probe]
                high[i] = offsets[table, probe + 1]
                total += high[i] - low[i]
            if total > candidates.shape[0]:
                candidates = np.empty(2 * total, dtype=np.int64)
            filled = 0
            if table == 0:
                for i in range(probes):
                    for position in range(low[i], high[i]):
                        candidates[filled] = position
                        filled += 1
            else:
                permutation = perms[table - 1]
                for i in range(probes):
                    for position in range(low[i], high[i]):
                        candidates[filled] = permutation[position]
                        filled += 1
            for j in range(filled):
                row = candidates[j]
                candidate = words[row]
                distance = _popcount(candidate[0] ^ query[0]) + _popcount(candidate[1] ^ query[1])
                if distance > threshold:
                    continue
                distance += _popcount(candidate[2] ^ query[2]) + _popcount(candidate[3] ^ query[3])
                if distance > threshold or not alive[row]:
                    continue
                # Reported once: skip it here if an earlier table's probes also reach it.
                earlier = False
                for other in range(table):
                    start = other * bits
                    differing = _key_of(candidate, start, bits) ^ _key_of(query, start, bits)
                    if _popcount(np.uint64(differing)) <= radii[other]:
                        earlier = True
                        break
                if earlier:
                    continue
                if count < cap:
                    out_rows[q, count] = row
                    out_dist[q, count] = distance
                count += 1
        counts[q] = count


@lru_cache(maxsize=64)
def _probe_plan(
    bits: int, threshold: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(radii, all tables' XOR masks concatenated, where each table's masks start)."""
    radii = _radii(threshold)
    parts = [_flip_masks(bits, radius) for radius in radii]
    starts = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum([len(p) for p in parts], out=starts[1:])
    return np.array(radii, dtype=np.int64), np.concatenate(parts), starts


_warmed = False


def warm_up() -> None:
    """Load the compiled search loop now, once per process. In a fresh process numba takes ~0.4 s to load
    it from its on-disk cache (longer when it must compile): without this, a server's or worker's first
    PDQ lookup after a start or restart waits that long. Runs the loop on a one-hash segment, with the
    same argument types as every search of an index built in memory."""
    global _warmed
    if _warmed:
        return
    words = pack_hashes(np.zeros((1, PDQ_BYTES), dtype=np.uint8))
    segment = _Segment.build(words, np.zeros(1, dtype=np.int64))
    radii, masks, mask_starts = _probe_plan(segment.bits, DEFAULT_THRESHOLD)
    rows = np.zeros((1, 16), dtype=np.int64)
    distance = np.zeros((1, 16), dtype=np.uint16)
    counts = np.zeros(1, dtype=np.int64)
    _mih_kernel(
        segment.words, segment.alive, segment.offsets, segment.perms, segment.bits, radii, masks,
        mask_starts, np.ascontiguousarray(words), DEFAULT_THRESHOLD, rows, distance, counts,
    )  # fmt: skip
    if int(counts[0]) != 1 or int(distance[0, 0]) != 0:  # the hash finds itself at distance 0
        raise RuntimeError("PDQ search loop failed its warm-up check")
    _warmed = True


# --- segments ------------------------------------------------------------------------------------------


@dataclass
class _Segment:
    """An immutable set of hashes with its substring tables; only `alive` changes (tombstones)."""

    words: Packed  # (n, 4), rows ordered by table 0's key
    ids: npt.NDArray[Any]  # (n,) uint32 or int64, the caller's ids
    alive: npt.NDArray[np.bool_]  # (n,) writable
    bits: int
    offsets: npt.NDArray[np.uint32]  # (TABLES, 2**bits + 1): bucket k of table t is [o[t, k], o[t, k + 1])
    perms: npt.NDArray[np.uint32]  # (TABLES - 1, n): rows ordered by the keys of tables 1..
    dead: int = 0
    _id_order: npt.NDArray[Any] | None = field(default=None, repr=False)
    _id_range: tuple[int, int] | None = field(default=None, repr=False)

    @classmethod
    def build(cls, words: Packed, ids: IntArray) -> _Segment:
        n = len(words)
        bits = _bits_for(n)
        order = _order_by(_keys(words, 0, bits))
        words = np.take(words, order, axis=0)
        ids = _compact_ids(ids[order])
        offsets = np.empty((TABLES, (1 << bits) + 1), dtype=np.uint32)
        perms = np.empty((TABLES - 1, n), dtype=np.uint32)
        offsets[0] = _offsets(_keys(words, 0, bits), bits)
        for table in range(1, TABLES):
            keys = _keys(words, table, bits)
            perms[table - 1] = _order_by(keys)
            offsets[table] = _offsets(keys, bits)
        return cls(words, ids, np.ones(n, dtype=np.bool_), bits, offsets, perms)

    def __len__(self) -> int:
        return len(self.words)

    @property
    def live(self) -> int:
        return len(self.words) - self.dead

    def rows_of(self, ids: IntArray) -> npt.NDArray[np.int64]:
        """Rows (alive or not) holding these ids; ids not in the segment are left out."""
        if not len(self.ids) or not len(ids):
            return np.zeros(0, dtype=np.int64)
        if self._id_range is None:
            self._id_range = (int(self.ids.min()), int(self.ids.max()))
        ids = ids[(ids >= self._id_range[0]) & (ids <= self._id_range[1])]
        if not len(ids):  # e.g. new ids past every stored one: no need to sort this segment's ids
            return np.zeros(0, dtype=np.int64)
        if self._id_order is None:  # sorted once, on the first remove or upsert that concerns it
            self._id_order = np.argsort(self.ids, kind="stable")
        sorted_ids = self.ids[self._id_order]
        where = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
        found = sorted_ids[where] == ids
        return np.asarray(self._id_order[where[found]], dtype=np.int64)

    def live_rows(self) -> tuple[Packed, IntArray]:
        keep = np.flatnonzero(self.alive)
        return np.take(self.words, keep, axis=0), self.ids[keep].astype(np.int64)

    def search(
        self, query_words: Packed, threshold: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.uint16]]:
        """(query index, row, distance) of every live row within threshold of each query; no duplicates."""
        n = len(self.words)
        probes = _probe_count(self.bits, _radii(threshold))
        # Probing costs ~probes + candidates per query; a scan costs n cheap sequential rows.
        if probes * 4 >= n or threshold >= 64:
            return self._scan(query_words, threshold)
        radii, masks, mask_starts = _probe_plan(self.bits, threshold)
        cap = 16
        # contiguous and writable: queries parsed from hex are read-only views of bytes, a second type
        # signature for numba to load (~6 ms) besides the one warm_up() loads
        queries = np.require(query_words, requirements=["C", "W"])
        while True:
            rows = np.zeros((len(queries), cap), dtype=np.int64)
            distance = np.zeros((len(queries), cap), dtype=np.uint16)
            counts = np.zeros(len(queries), dtype=np.int64)
            _mih_kernel(
                self.words, self.alive, self.offsets, self.perms, self.bits, radii, masks, mask_starts,
                queries, threshold, rows, distance, counts,
            )  # fmt: skip
            if int(counts.max(initial=0)) <= cap:
                break
            cap = int(counts.max())  # rare: a query with many near-duplicates in the bank; run again
        filled = np.arange(cap)[None, :] < counts[:, None]
        query_of = np.nonzero(filled)[0]
        return query_of.astype(np.int64), rows[filled], distance[filled]

    def _scan(
        self, query_words: Packed, threshold: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.uint16]]:
        """Exact blocked brute force, for small segments and high thresholds."""
        n = len(self.words)
        block = max(1024, (1 << 22) // max(1, len(query_words)))  # ~32 MB of temporaries per block
        found: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.uint16]]] = []
        for start in range(0, n, block):
            chunk = self.words[start : start + block]
            distance = np.zeros((len(query_words), len(chunk)), dtype=np.uint16)
            for word in range(4):
                distance += np.bitwise_count(query_words[:, word, None] ^ chunk[None, :, word])
            query_of, rows = np.nonzero(distance <= threshold)
            if len(rows):
                found.append((query_of, rows + start, distance[query_of, rows]))
        if not found:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, np.zeros(0, dtype=np.uint16)
        query_of = np.concatenate([f[0] for f in found]).astype(np.int64)
        rows = np.concatenate([f[1] for f in found]).astype(np.int64)
        distance = np.concatenate([f[2] for f in found])
        live = self.alive[rows]
        return query_of[live], rows[live], distance[live]


def _compact_ids(ids: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Ids as uint32 when they fit (half the memory of int64), else int64."""
    if not len(ids) or int(ids.max()) < (1 << 32):
        return ids.astype(np.uint32)
    return ids.astype(np.int64)


def _as_ids(ids: Iterable[int] | npt.NDArray[Any]) -> IntArray:
    array = np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids)
    if array.size == 0:
        return np.zeros(0, dtype=np.int64)
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
        raise ValueError("ids must be a flat sequence of integers")
    if int(array.min()) < 0 or int(array.max()) >= (1 << 63):
        raise ValueError("ids must be non-negative 63-bit integers")
    return array.astype(np.int64)


# --- the index -----------------------------------------------------------------------------------------


class PdqIndex:
    """Banked PDQ hashes keyed by caller ids; exact range search by Hamming distance.

    `PdqIndex(hex_hashes)` numbers the hashes 0..n-1 (their positions), which is what the matcher maps back
    to bank entries. `add(ids, hashes)` / `remove(ids)` change the index incrementally; `save(path)` and
    `PdqIndex.load(path, mmap=True)` persist it. Searches may run concurrently with each other; changes
    must not run concurrently with anything (the caller serialises them, e.g. one writer thread).
    """

    def __init__(self, hex_hashes: Iterable[str] | npt.NDArray[Any] = (), *, threads: int = 2) -> None:
        self.threads = threads  # worker threads for batches larger than QUERY_CHUNK
        self._segments: list[_Segment] = []
        words = pack_hashes(hex_hashes)
        if len(words):
            self._segments.append(_Segment.build(words, np.arange(len(words), dtype=np.int64)))

    # -- size and contents

    def __len__(self) -> int:
        return sum(segment.live for segment in self._segments)

    @property
    def delta_fraction(self) -> float:
        """Share of live hashes outside the base segment; compact() when it grows large (say > 0.25)."""
        total = len(self)
        return (total - self._segments[0].live) / total if total else 0.0

    @property
    def segment_sizes(self) -> list[int]:
        """Live hashes per segment, oldest first (for monitoring the merge policy)."""
        return [segment.live for segment in self._segments]

    def next_id(self) -> int:
        """One more than the largest id stored, removed ones possibly included (0 for an empty index)."""
        tops = [int(segment.ids.max()) for segment in self._segments if len(segment)]
        return max(tops) + 1 if tops else 0

    def __contains__(self, item_id: int) -> bool:
        ids = np.array([item_id], dtype=np.int64)
        return any(bool(segment.alive[segment.rows_of(ids)].any()) for segment in self._segments)

    # -- changes

    def add(self, ids: Iterable[int] | npt.NDArray[Any], hashes: Iterable[str] | npt.NDArray[Any]) -> None:
        """Add hashes under the given ids; an id already present gets the new hash (upsert).

        Raises ValueError for malformed hashes, negative ids, repeated ids or a length mismatch.
        """
        id_array = _as_ids(ids)
        words = pack_hashes(hashes if isinstance(hashes, np.ndarray) else list(hashes))
        if len(id_array) != len(words):
            raise ValueError(f"{len(id_array)} ids for {len(words)} hashes")
        if not len(words):
            return
        if len(np.unique(id_array)) != len(id_array):
            raise ValueError("ids repeat within one add")
        self.remove(id_array)
        self._segments.append(_Segment.build(words, id_array))
        self._merge_small_segments()

    def append(self, hashes: Iterable[str] | npt.NDArray[Any]) -> IntArray:
        """Add hashes under new ids next_id(), next_id() + 1, ...; returns the ids."""
        words = pack_hashes(hashes if isinstance(hashes, np.ndarray) else list(hashes))
        ids = np.arange(self.next_id(), self.next_id() + len(words), dtype=np.int64)
        self.add(ids, words)
        return ids

    def remove(self, ids: Iterable[int] | npt.NDArray[Any]) -> int:
        """Remove these ids (unknown ids are ignored); returns how many were removed."""
        id_array = np.unique(_as_ids(ids))
        removed = 0
        for segment in self._segments:
            rows = segment.rows_of(id_array)
            rows = rows[segment.alive[rows]]
            if len(rows):
                segment.alive[rows] = False
                segment.dead += len(rows)
                removed += len(rows)
        if removed:
            self._segments = [
                _rebuilt(segment) if segment.dead * 2 > len(segment) else segment
                for segment in self._segments
            ]
            self._segments = [segment for segment in self._segments if len(segment)]
        return removed

    def compact(self) -> None:
        """Merge every segment into one and drop removed rows (a full rebuild: seconds at 10M)."""
        if len(self._segments) > 1 or any(segment.dead for segment in self._segments):
            self._segments = [_merged(self._segments)] if len(self) else []

    def _merge_small_segments(self) -> None:
        """Tiered merging: the newest segment joins the one before it once it is at least 1/MERGE_RATIO of
        its size, so sizes fall geometrically and there are O(log n) segments. A base of AUTO_MERGE_LIMIT
        hashes or more is never merged here (that is a full rebuild: call compact() off the request path)."""
        while (
            len(self._segments) > 1
            and self._segments[-1].live * MERGE_RATIO >= self._segments[-2].live
            and (len(self._segments) > 2 or self._segments[0].live < AUTO_MERGE_LIMIT)
        ):
            last = self._segments.pop()
            self._segments[-1] = _merged([self._segments[-1], last])

    # -- search

    def search(self, query: str, threshold: int = DEFAULT_THRESHOLD) -> list[tuple[int, int]]:
        """(id, distance) of every hash within `threshold`, nearest first (ties by id)."""
        return self.search_batch([query], threshold)[0]

    def search_batch(
        self, queries: Sequence[str] | npt.NDArray[Any], threshold: int = DEFAULT_THRESHOLD
    ) -> list[list[tuple[int, int]]]:
        """For each query, (id, distance) of every hash within `threshold`, nearest first (ties by id).

        Queries are hex strings or an (n, 32) uint8 array. Exact: no hash within the threshold is missed
        and none beyond it is returned. Raises ValueError for a malformed query or a threshold outside
        0..256.
        """
        query_of, ids, distance = self.search_arrays(queries, threshold)
        count = len(queries)
        order = np.lexsort((ids, distance, query_of))
        query_of, ids, distance = query_of[order], ids[order], distance[order]
        bounds = np.searchsorted(query_of, np.arange(count + 1)).tolist()
        id_list, distance_list = ids.tolist(), distance.tolist()
        return [
            list(
                zip(id_list[bounds[q] : bounds[q + 1]], distance_list[bounds[q] : bounds[q + 1]], strict=True)
            )
            for q in range(count)
        ]

    def search_arrays(
        self, queries: Sequence[str] | npt.NDArray[Any], threshold: int = DEFAULT_THRESHOLD
    ) -> tuple[IntArray, IntArray, npt.NDArray[np.uint16]]:
        """The raw form of search_batch: parallel arrays (query index, id, distance), unordered."""
        if not 0 <= threshold <= 256:
            raise ValueError(f"PDQ threshold must be 0..256, got {threshold}")
        query_words = pack_hashes(queries if isinstance(queries, np.ndarray) else list(queries))
        segments = list(self._segments)

        def run(start: int) -> list[tuple[IntArray, IntArray, npt.NDArray[np.uint16]]]:
            chunk = query_words[start : start + QUERY_CHUNK]
            found = []
            for segment in segments:
                query_of, rows, distance = segment.search(chunk, threshold)
                if len(rows):
                    found.append((query_of + start, segment.ids[rows].astype(np.int64), distance))
            return found

        starts = range(0, len(query_words), QUERY_CHUNK)
        if self.threads > 1 and len(starts) > 1:  # the compiled loop releases the GIL
            with ThreadPoolExecutor(max_workers=self.threads) as pool:
                results = list(pool.map(run, starts))
        else:
            results = [run(start) for start in starts]
        parts = [part for result in results for part in result]
        if not parts:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, np.zeros(0, dtype=np.uint16)
        return (
            np.concatenate([p[0] for p in parts]),
            np.concatenate([p[1] for p in parts]),
            np.concatenate([p[2] for p in parts]),
        )

    # -- snapshot

    def save(self, path: str | Path) -> None:
        """Write the index to one file (atomically: a temporary file renamed over `path`)."""
        target = Path(path)
        header: dict[str, Any] = {"format": 1, "tables": TABLES, "segments": []}
        arrays: list[npt.NDArray[Any]] = []
        for segment in self._segments:
            named = {
                "words": segment.words,
                "ids": segment.ids,
                "alive": segment.alive,
                "offsets": segment.offsets,
                "perms": segment.perms,
            }
            entry: dict[str, Any] = {"bits": segment.bits, "dead": segment.dead, "arrays": {}}
            for name, array in named.items():
                entry["arrays"][name] = [len(arrays), array.dtype.str, list(array.shape)]
                arrays.append(array)
            header["segments"].append(entry)
        # Offsets are filled in once the header's length is known; each array starts on a 64-byte boundary.
        offset_slots: list[int] = []
        position = 0
        for array in arrays:
            offset_slots.append(position)
            position += _aligned(array.nbytes)
        header["array_offsets"] = offset_slots
        encoded = json.dumps(header).encode()
        data_start = _aligned(len(SNAPSHOT_MAGIC) + 8 + len(encoded))
        temporary = target.with_name(target.name + ".tmp")
        with temporary.open("wb") as out:
            out.write(SNAPSHOT_MAGIC)
            out.write(len(encoded).to_bytes(8, "little"))
            out.write(encoded)
            out.write(b"\x00" * (data_start - out.tell()))
            for array, slot in zip(arrays, offset_slots, strict=True):
                out.write(b"\x00" * (data_start + slot - out.tell()))
                out.write(np.ascontiguousarray(array).tobytes(order="C"))
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)

    @classmethod
    def load(cls, path: str | Path, mmap: bool = True, *, threads: int = 2) -> PdqIndex:
        """Open a snapshot written by save(). With mmap, arrays are memory-mapped read-only (pages load
        on first use and are shared between processes); changes after loading live in new segments.

        Raises SnapshotError with a one-line message for a missing, truncated or foreign file.
        """
        source = Path(path)
        try:
            with source.open("rb") as handle:
                magic = handle.read(len(SNAPSHOT_MAGIC))
                if magic != SNAPSHOT_MAGIC:
                    raise SnapshotError(f"{source}: not a posbon PDQ index snapshot")
                length = int.from_bytes(handle.read(8), "little")
                header = json.loads(handle.read(length))
            size = source.stat().st_size
            buffer: npt.NDArray[np.uint8] = (
                np.memmap(source, dtype=np.uint8, mode="r") if mmap else np.fromfile(source, dtype=np.uint8)
            )
        except OSError as exc:
            raise SnapshotError(f"{source}: cannot read snapshot: {exc.strerror or exc}") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise SnapshotError(f"{source}: corrupt snapshot header: {exc}") from None
        if not isinstance(header, dict) or header.get("format") != 1 or header.get("tables") != TABLES:
            raise SnapshotError(f"{source}: unsupported snapshot format (want format 1 with {TABLES} tables)")
        try:
            return cls._from_header(
                source, header, buffer, size, _aligned(len(SNAPSHOT_MAGIC) + 8 + length), threads
            )
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            if isinstance(exc, SnapshotError):
                raise
            raise SnapshotError(f"{source}: corrupt snapshot header: {exc}") from None

    @classmethod
    def _from_header(
        cls,
        source: Path,
        header: Any,
        buffer: npt.NDArray[np.uint8],
        size: int,
        data_start: int,
        threads: int,
    ) -> PdqIndex:
        index = cls(threads=threads)
        offsets = header["array_offsets"]
        for entry in header["segments"]:
            arrays: dict[str, npt.NDArray[Any]] = {}
            for name, (slot, dtype, shape) in entry["arrays"].items():
                kind = np.dtype(dtype)
                begin = data_start + int(offsets[slot])
                end = begin + kind.itemsize * math.prod(shape)
                if end > size:
                    raise SnapshotError(f"{source}: truncated snapshot (array {name} ends past the file)")
                arrays[name] = buffer[begin:end].view(kind).reshape(shape)
            index._segments.append(
                _Segment(
                    words=arrays["words"],
                    ids=arrays["ids"],
                    alive=np.array(arrays["alive"], dtype=np.bool_),  # writable copy for removes
                    bits=int(entry["bits"]),
                    offsets=arrays["offsets"],
                    perms=arrays["perms"],
                    dead=int(entry["dead"]),
                )
            )
        return index


def _aligned(size: int) -> int:
    return (size + 63) // 64 * 64


def _merged(segments: list[_Segment]) -> _Segment:
    parts = [segment.live_rows() for segment in segments]
    words = np.concatenate([p[0] for p in parts]) if parts else np.zeros((0, 4), dtype=np.uint64)
    ids = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, dtype=np.int64)
    return _Segment.build(words, ids)


def _rebuilt(segment: _Segment) -> _Segment:
    return _merged([segment])
