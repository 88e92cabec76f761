import random
from pathlib import Path

import numpy as np
import pytest
from threatexchange.signal_type.pdq.signal import PdqSignal

from posbon.match import pdq
from posbon.match.pdq import PdqIndex, SnapshotError, hamming_distance, pack_hashes, unpack_hashes


def _flip(hex_hash: str, bits: list[int]) -> str:
    value = int(hex_hash, 16)
    for bit in bits:
        value ^= 1 << bit
    return f"{value:064x}"


def _near(rng: np.random.Generator, rows: np.ndarray, distances: np.ndarray) -> np.ndarray:
    """Copies of `rows` ((n, 32) uint8) with exactly `distances[i]` bits flipped in row i."""
    bits = np.unpackbits(rows, axis=1)
    for i, distance in enumerate(distances):
        bits[i, rng.choice(256, int(distance), replace=False)] ^= 1
    return np.packbits(bits, axis=1)


def _brute(
    bank: np.ndarray, ids: np.ndarray, queries: np.ndarray, threshold: int
) -> list[list[tuple[int, int]]]:
    words, query_words = pack_hashes(bank), pack_hashes(queries)
    out = []
    for query in query_words:
        distance = np.bitwise_count(words ^ query).sum(axis=1)
        close = np.flatnonzero(distance <= threshold)
        out.append(sorted(((int(ids[i]), int(distance[i])) for i in close), key=lambda h: (h[1], h[0])))
    return out


@pytest.fixture(scope="module")
def bank_and_queries() -> tuple[np.ndarray, np.ndarray]:
    """20k random hashes, plus 400 queries planted at distances 0..45 from bank rows and 100 random ones.

    A cluster of 40 near-copies of row 0 makes some queries have more hits than the kernel's first buffer.
    """
    rng = np.random.default_rng(5)
    bank = rng.integers(0, 256, (20_000, 32), dtype=np.uint8)
    bank[1:41] = _near(rng, np.repeat(bank[:1], 40, axis=0), rng.integers(1, 20, 40))
    sources = rng.integers(0, len(bank), 400)
    sources[:20] = 0
    planted = _near(rng, bank[sources], rng.integers(0, 46, 400))
    queries = np.concatenate([planted, rng.integers(0, 256, (100, 32), dtype=np.uint8)])
    return bank, queries


def _hex(row: np.ndarray) -> str:
    return bytes(row).hex()


def test_distance_equals_threatexchange() -> None:
    rng = random.Random(7)
    for _ in range(200):
        a = f"{rng.getrandbits(256):064x}"
        if rng.random() < 0.5:
            b = _flip(a, rng.sample(range(256), rng.randint(0, 80)))
        else:
            b = PdqSignal.get_random_signal()
        expected = PdqSignal.compare_hash(a, b).distance.distance  # type: ignore[attr-defined]
        assert hamming_distance(a, b) == expected
        assert PdqIndex([b]).search(a, threshold=256) == [(0, expected)]


@pytest.mark.parametrize("threshold", [0, 8, 20, 31, 45])
def test_range_search_is_exact_against_brute_force(bank_and_queries: tuple, threshold: int) -> None:
    bank, queries = bank_and_queries
    index = PdqIndex(bank)
    assert index._segments[0].bits == 17  # log2(n) + 3: the multi-index path, not the small-segment scan
    expected = _brute(bank, np.arange(len(bank)), queries, threshold)
    assert index.search_batch(queries, threshold) == expected
    assert sum(map(len, expected)) >= 5  # the comparison is not vacuous
    if threshold == 31:
        assert max(map(len, expected)) > 16  # a query with more hits than the first result buffer


def test_batch_equals_single_and_hex_equals_array(bank_and_queries: tuple) -> None:
    bank, queries = bank_and_queries
    index = PdqIndex(bank)
    hex_queries = unpack_hashes(pack_hashes(queries[:60]))
    batch = index.search_batch(hex_queries)
    assert batch == [index.search(q) for q in hex_queries]
    assert batch == index.search_batch(queries[:60])
    index.threads = 1
    assert index.search_batch(queries) == PdqIndex(bank, threads=2).search_batch(queries)


def test_planted_hashes_0_to_31_found_40_plus_not() -> None:
    rng = random.Random(11)
    bank = [f"{rng.getrandbits(256):064x}" for _ in range(5000)]
    query = f"{rng.getrandbits(256):064x}"
    planted: dict[int, int] = {}
    for distance in [*range(32), 40, 41, 50, 64]:
        position = rng.randrange(len(bank))
        while position in planted.values():
            position = rng.randrange(len(bank))
        bank[position] = _flip(query, rng.sample(range(256), distance))
        planted[distance] = position
    index = PdqIndex(bank)
    assert index.search(query, threshold=31) == [(planted[d], d) for d in range(32)]
    assert [d for _, d in index.search(query, threshold=45)] == [*range(32), 40, 41]


def test_add_remove_incremental_with_stable_ids(bank_and_queries: tuple) -> None:
    bank, queries = bank_and_queries
    rng = np.random.default_rng(9)
    ids = rng.permutation(np.unique(rng.integers(5, 10**9, 25_000))[: len(bank)])  # arbitrary, unordered
    index = PdqIndex()
    index.add(ids[:15_000], bank[:15_000])
    for start in range(15_000, 20_000, 1000):  # small adds: new segments, merged as they grow
        index.add(ids[start : start + 1000], bank[start : start + 1000])
    assert len(index) == 20_000
    assert len(index.segment_sizes) < 5
    assert index.search_batch(queries) == _brute(bank, ids, queries, 31)

    gone = ids[rng.choice(len(bank), 3000, replace=False)]
    gone = np.concatenate([gone, ids[:41]])  # the whole near-duplicate cluster too
    assert index.remove(gone) == len(np.unique(gone))
    assert index.remove(gone) == 0  # already removed
    keep = ~np.isin(ids, gone)
    after = index.search_batch(queries)
    assert after == _brute(bank[keep], ids[keep], queries, 31)
    assert not {i for hits in after for i, _ in hits} & set(gone.tolist())
    assert ids[50] in index and ids[0] not in index

    # Re-adding a removed id brings it back; adding a present id replaces its hash (upsert).
    index.add([int(ids[0])], bank[:1])
    replacement = _near(rng, bank[50:51], np.array([100]))
    index.add([int(ids[50])], replacement)
    assert (int(ids[0]), 0) in index.search_batch(bank[:1])[0]
    assert index.search_batch(bank[50:51])[0] == []
    assert index.search_batch(replacement)[0] == [(int(ids[50]), 0)]
    index.compact()
    assert index.segment_sizes == [len(index)]
    assert index.search_batch(replacement)[0] == [(int(ids[50]), 0)]


def test_append_and_positions_like_the_first_version() -> None:
    rng = random.Random(3)
    bank = [f"{rng.getrandbits(256):064x}" for _ in range(300)]
    index = PdqIndex(bank[:100])
    assert index.append(bank[100:]).tolist() == list(range(100, 300))
    assert len(index) == 300
    queries = [_flip(bank[i], [i % 256, (i * 7) % 256]) for i in (0, 150, 299)]
    assert [hits[0] for hits in index.search_batch(queries)] == [
        (0, 0),
        (150, 2),
        (299, 2),
    ]  # i=0 flips bit 0 twice
    assert PdqIndex().search(queries[0]) == []


@pytest.mark.parametrize("mmap", [True, False])
def test_snapshot_round_trip(tmp_path: Path, bank_and_queries: tuple, mmap: bool) -> None:
    bank, queries = bank_and_queries
    index = PdqIndex(bank[:18_000])
    index.add(np.arange(18_000, 20_000), bank[18_000:])
    index.remove([3, 4, 5])
    expected = index.search_batch(queries)
    path = tmp_path / "bank.pdqidx"
    index.save(path)
    loaded = PdqIndex.load(path, mmap=mmap)
    assert isinstance(loaded._segments[0].words, np.memmap) == mmap
    assert len(loaded) == len(index) == 19_997
    assert loaded.search_batch(queries) == expected
    loaded.remove([7])  # changes after loading work on a read-only mapping
    loaded.add([3], bank[3:4])
    assert (3, 0) in loaded.search_batch(bank[3:4])[0]
    assert 7 not in dict(loaded.search(_hex(bank[7])))
    loaded.save(path)  # replacing the file that is mapped
    assert PdqIndex.load(path).search_batch(bank[:60]) == loaded.search_batch(bank[:60])


def test_bad_snapshot_and_bad_input_raise_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="cannot read snapshot"):
        PdqIndex.load(tmp_path / "missing.pdqidx")
    foreign = tmp_path / "foreign.pdqidx"
    foreign.write_bytes(b"PK\x03\x04 not an index")
    with pytest.raises(SnapshotError, match="not a posbon PDQ index snapshot"):
        PdqIndex.load(foreign)
    good = tmp_path / "good.pdqidx"
    PdqIndex(np.zeros((5000, 32), dtype=np.uint8)).save(good)
    truncated = tmp_path / "cut.pdqidx"
    truncated.write_bytes(good.read_bytes()[:-1000])
    with pytest.raises(SnapshotError, match="truncated"):
        PdqIndex.load(truncated)
    with pytest.raises(ValueError, match="64 hex characters"):
        pack_hashes(["abc"])
    with pytest.raises(ValueError, match="not hex"):
        PdqIndex(["zz" * 32])
    with pytest.raises(ValueError, match="threshold"):
        PdqIndex().search("00" * 32, threshold=300)
    with pytest.raises(ValueError, match="ids"):
        PdqIndex().add([1, 1], ["00" * 32, "11" * 32])
    with pytest.raises(ValueError, match="ids"):
        PdqIndex().add([-1], ["00" * 32])


def test_small_adds_never_rebuild_a_big_base(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pdq, "AUTO_MERGE_LIMIT", 5000)
    rng = np.random.default_rng(2)
    bank = rng.integers(0, 256, (12_000, 32), dtype=np.uint8)
    index = PdqIndex(bank[:6000])
    base = index._segments[0]
    for start in range(6000, 12_000, 250):
        index.add(np.arange(start, start + 250), bank[start : start + 250])
        assert index._segments[0] is base  # the base is never merged by add
        assert len(index.segment_sizes) <= 6  # tiers grow geometrically: few segments
    assert index.delta_fraction == pytest.approx(0.5)
    assert index.search_batch(bank[::500]) == [[(i, 0)] for i in range(0, 12_000, 500)]
    index.compact()
    assert index.segment_sizes == [12_000] and index.delta_fraction == 0.0
    assert index.search_batch(bank[::500]) == [[(i, 0)] for i in range(0, 12_000, 500)]
