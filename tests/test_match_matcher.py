import random

from posbon.domain import BankEntry, Signal, SignalType
from posbon.match.matcher import Matcher

RNG = random.Random(5)
PDQ_A = f"{RNG.getrandbits(256):064x}"
PDQ_B = f"{RNG.getrandbits(256):064x}"


def _near(hex_hash: str, bits: int) -> str:
    value = int(hex_hash, 16)
    for bit in range(bits):
        value ^= 1 << (bit * 7)
    return f"{value:064x}"


def _matcher(**kwargs: int) -> Matcher:
    entries = [
        BankEntry(1, "posters", SignalType.PDQ, PDQ_A.upper(), "poster A"),
        BankEntry(2, "posters", SignalType.PDQ, _near(PDQ_A, 10), "poster A, cropped"),
        BankEntry(3, "posters", SignalType.PDQ, PDQ_B, "poster B"),
        BankEntry(4, "files", SignalType.MD5, "d41d8cd98f00b204e9800998ecf8427e", "empty file"),
        BankEntry(5, "links", SignalType.URL, "https://Example.com/Post/?utm_source=x", "post"),
        BankEntry(6, "links", SignalType.DOMAIN, "example.com", "site"),
        BankEntry(7, "broken", SignalType.PDQ, "not-a-hash"),
    ]
    return Matcher(entries, **kwargs)


def test_pdq_within_threshold_best_first_with_distance() -> None:
    query = Signal(SignalType.PDQ, _near(PDQ_A, 3), quality=90, origin="photos/1.jpg")
    evidence = _matcher().match([query])
    assert [(e.entry_id, e.distance) for e in evidence] == [(1, 3), (2, 7)]
    first = evidence[0]
    assert first.kind == "bank_match" and first.signal_type == "pdq" and first.bank == "posters"
    assert first.origin == "photos/1.jpg" and first.entry_label == "poster A"
    assert first.detail.startswith("image matches 'poster A' in bank posters at distance 3")
    assert _matcher(pdq_threshold=5).match([query])[0].entry_id == 1
    assert len(_matcher(pdq_threshold=5).match([query])) == 1
    assert _matcher().match([Signal(SignalType.PDQ, _near(PDQ_B, 40))]) == []


def test_md5_exact_only() -> None:
    matcher = _matcher()
    hit = matcher.match([Signal(SignalType.MD5, "D41D8CD98F00B204E9800998ECF8427E", origin="v.mp4")])
    assert [(e.entry_id, e.signal_type) for e in hit] == [(4, "md5")]
    assert matcher.match([Signal(SignalType.MD5, "d41d8cd98f00b204e9800998ecf8427f")]) == []


def test_url_exact_and_domain_with_subdomains_not_lookalikes() -> None:
    matcher = _matcher()
    found = matcher.match([Signal(SignalType.URL, "https://example.com/Post", origin="text")])
    assert [e.entry_id for e in found] == [5, 6]  # exact URL ranks above the domain
    sub = matcher.match([Signal(SignalType.URL, "https://cdn.news.example.com/other")])
    assert [e.entry_id for e in sub] == [6]
    assert "domain example.com" in sub[0].detail
    for lookalike in (
        "https://evil-example.com/Post",
        "https://example.com.evil.net/",
        "https://example.co/",
    ):
        assert matcher.match([Signal(SignalType.URL, lookalike)]) == []


def test_one_evidence_per_entry_and_origin() -> None:
    matcher = _matcher()
    signals = [
        Signal(SignalType.URL, "https://a.example.com/1", origin="text"),
        Signal(SignalType.URL, "https://b.example.com/2", origin="text"),
        Signal(SignalType.URL, "https://b.example.com/2", origin="photo.jpg"),
    ]
    assert sorted((e.entry_id, e.origin) for e in matcher.match(signals)) == [(6, "photo.jpg"), (6, "text")]


def test_size_counts_entries_and_skips_malformed() -> None:
    matcher = _matcher()
    assert {kind: n for kind, n in matcher.size.items() if n} == {"pdq": 3, "md5": 1, "url": 1, "domain": 1}
    assert matcher.skipped == 1


def test_apply_replaces_and_removes_pdq_entries_in_place() -> None:
    # PDQ hashes are indexed under their entry's key; a replaced entry gets a new key, so its old hash
    # must stop matching and its new one must name the same entry id.
    rng = random.Random(11)
    first, second, replacement = (f"{rng.getrandbits(256):064x}" for _ in range(3))
    malformed = BankEntry(3, "B", SignalType.PDQ, "not-a-hash")
    matcher = Matcher(
        [BankEntry(1, "B", SignalType.PDQ, first), BankEntry(2, "B", SignalType.PDQ, second), malformed]
    )
    assert matcher.skipped == 1

    def ids(value: str) -> list[int]:
        return [e.entry_id for e in matcher.match([Signal(SignalType.PDQ, _near(value, 4))])]

    assert ids(first) == [1] and ids(second) == [2]
    matcher.apply(upserts=[BankEntry(1, "B", SignalType.PDQ, replacement)], removals=[2, 3])
    assert ids(first) == [] and ids(second) == []
    assert ids(replacement) == [1]
    assert matcher.size["pdq"] == 1
    matcher.apply(upserts=[BankEntry(2, "B", SignalType.PDQ, second)])
    assert ids(second) == [2] and ids(replacement) == [1]
