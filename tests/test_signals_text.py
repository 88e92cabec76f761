from posbon.domain import SignalType
from posbon.signals.text import shingles, text_signal
from posbon.text.normalize import normalize


def test_shingles_ignore_punctuation_emoji_and_spacing() -> None:
    plain = normalize("Мо ба ҳамаи шумо салом мерасонем")
    noisy = normalize("Мо,  ба ҳамаи 🔥🔥 шумо — салом!!! мерасонем ★")
    assert shingles(plain) == shingles(noisy)
    assert "мо ба" in shingles(plain)
    assert all(len(s) == 5 for s in shingles(plain))


def test_shingles_short_text_and_empty() -> None:
    assert shingles("abc") == {"abc"}
    assert shingles("!!! 🔥") == set()
    assert shingles("abcdef", k=3) == {"abc", "bcd", "cde", "def"}


def test_text_signal_needs_twenty_letters() -> None:
    assert text_signal(normalize("салом дӯстон!")) is None
    assert text_signal("1234567890 1234567890 abc") is None  # digits are not letters
    long = normalize("Имрӯз ҳаво хеле хуб аст ва мо ба боғ меравем")
    signal = text_signal(long)
    assert signal is not None and signal.signal_type == SignalType.TEXT and signal.value == long
