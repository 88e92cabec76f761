import pytest

from posbon.domain import Links, SignalType
from posbon.signals.urls import domain_of, normalize_url, url_signals


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("HTTP://Example.COM:80/News/?utm_source=tg&b=2&a=1#top", "https://example.com/News?a=1&b=2"),
        ("https://example.com:443/", "https://example.com"),
        ("https://example.com:8443/x", "https://example.com:8443/x"),
        ("https://example.com/page?fbclid=abc&gclid=1", "https://example.com/page"),
        ("example.com/a/b/", "https://example.com/a/b"),
        ("t.me/SomeChannel", "https://t.me/somechannel"),
        ("https://telegram.me/SomeChannel/12", "https://t.me/somechannel/12"),
        ("https://t.me/+AbCdEf123", "https://t.me/+AbCdEf123"),
        ("https://t.me/joinchat/AbCdEf", "https://t.me/joinchat/AbCdEf"),
        ("https://пример.рф/", "https://xn--e1afmkfd.xn--p1ai"),
        ("https://user:secret@example.com/x", "https://example.com/x"),
        ("https://example.com/%d0%b0", "https://example.com/%D0%B0"),
        ("https://example.com/а", "https://example.com/%D0%B0"),
    ],
)
def test_normalize_url(raw: str, expected: str) -> None:
    assert normalize_url(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "hello", "mailto:a@example.com", "ftp://example.com/x", "http://exa mple.com"]
)
def test_not_a_url(raw: str) -> None:
    assert normalize_url(raw) is None


def test_domain_of() -> None:
    assert domain_of("https://News.Example.com/x") == "news.example.com"
    assert domain_of("not a url") is None


def test_url_signals_cover_all_link_kinds_once() -> None:
    links = Links(
        urls=("https://example.com/a/", "https://EXAMPLE.com/a?utm_medium=x"),
        telegram_links=("t.me/Chan",),
        invite_links=("https://t.me/+XyZ",),
        handles=("@chan",),
    )
    signals = url_signals(links)
    assert [s.value for s in signals] == ["https://example.com/a", "https://t.me/chan", "https://t.me/+XyZ"]
    assert {s.signal_type for s in signals} == {SignalType.URL}
