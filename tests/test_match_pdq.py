import random

import pytest
from threatexchange.signal_type.pdq.signal import PdqSignal

from posbon.match.pdq import PdqIndex, hamming_distance, pack_hashes


def _flip(hex_hash: str, bits: list[int]) -> str:
    value = int(hex_hash, 16)
    for bit in bits:
        value ^= 1 << bit
    return f"{value:064x}"


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


def test_range_search_finds_planted_hashes_0_to_31_not_40_plus() -> None:
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
    found = index.search(query, threshold=31)
    assert found == [(planted[d], d) for d in range(32)]
    assert [d for _, d in index.search(query, threshold=45)] == [*range(32), 40, 41]


def test_batch_search_matches_single_and_index_grows() -> None:
    rng = random.Random(3)
    bank = [f"{rng.getrandbits(256):064x}" for _ in range(300)]
    index = PdqIndex(bank[:100])
    index.add(bank[100:])
    assert len(index) == 300
    queries = [_flip(bank[i], [i % 256, (i * 7) % 256]) for i in (0, 150, 299)]
    batch = index.search_batch(queries)
    assert batch == [index.search(q) for q in queries]
    assert [hits[0][0] for hits in batch] == [0, 150, 299]
    assert PdqIndex().search(queries[0]) == []


def test_malformed_hash_rejected() -> None:
    with pytest.raises(ValueError):
        pack_hashes(["abc"])
