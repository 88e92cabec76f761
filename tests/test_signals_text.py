import numpy as np

from posbon.domain import SignalType
from posbon.signals.text import (
    hash_codes,
    hash_codes_twice,
    shingle_hashes,
    shingle_sequence,
    shingles,
    skeleton_codes,
    text_signal,
    unique_sorted,
)
from posbon.text.normalize import normalize


def test_shingles_ignore_punctuation_emoji_and_spacing() -> None:
    plain = normalize("Мо ба ҳамаи шумо салом мерасонем")
    noisy = normalize("Мо,  ба ҳамаи 🔥🔥 шу мо — салом!!! мера\nсонем ★")
    assert shingles(plain) == shingles(noisy)
    assert "mabaH" in shingles(plain)  # мо ба ҳ..: skeleton letters, spaces gone, vowels one mark
    assert all(len(s) == 5 for s in shingles(plain))


def test_shingles_are_the_same_for_uzbek_in_either_script() -> None:
    assert shingles(normalize("Yangi bog'da choy ichamiz")) == shingles(normalize("Янги боғда чой ичамиз"))


def test_shingles_short_text_and_empty() -> None:
    assert shingles("abd") == {"abd"}
    assert shingles("!!! 🔥") == set()
    assert shingles("bdfgk", k=3) == {"bdf", "dfg", "fgk"}
    assert shingle_sequence("bdbd", k=2) == ["bd", "db", "bd"]


def test_shingle_hashes_follow_the_shingles() -> None:
    text = normalize("Завтра в шесть часов мы будем в парке у фонтана")
    hashes = shingle_hashes(text)
    assert hashes.dtype == np.uint32 and len(hashes) == len(shingle_sequence(text))
    by_shingle = dict(zip(shingle_sequence(text), hashes.tolist(), strict=True))
    assert len(set(by_shingle.values())) == len(by_shingle)  # no collisions on a sentence
    assert len(shingle_hashes("")) == 0 and len(shingle_hashes("ab")) == 1


def test_double_length_hashes_equal_direct_ones() -> None:
    codes = skeleton_codes(normalize("Ба канали мо обуна шавед ва дӯстонро даъват кунед"))
    short, long = hash_codes_twice(codes, 5, 10)
    assert np.array_equal(short, hash_codes(codes, 5)) and np.array_equal(long, hash_codes(codes, 10))
    tiny = codes[:7]
    assert np.array_equal(hash_codes_twice(tiny, 5, 10)[1], hash_codes(tiny, 10))
    assert unique_sorted(np.array([3, 1, 3, 2], dtype=np.uint32)).tolist() == [1, 2, 3]


def test_text_signal_needs_twenty_letters() -> None:
    assert text_signal(normalize("салом дӯстон!")) is None
    assert text_signal("1234567890 1234567890 abc") is None  # digits are not letters
    long = normalize("Имрӯз ҳаво хеле хуб аст ва мо ба боғ меравем")
    signal = text_signal(long)
    assert signal is not None and signal.signal_type == SignalType.TEXT and signal.value == long
