"""posbon.text.links: each kind of link, hidden links, trailing punctuation, dedup and order."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from posbon.domain import Links
from posbon.text.links import extract_links


def test_http_and_bare_www_urls() -> None:
    links = extract_links(
        "Манбаъ: https://example.tj/news/1?id=2 ва http://old.example.org, ҳамчунин www.site.tj."
    )
    assert links.urls == ("https://example.tj/news/1?id=2", "http://old.example.org", "www.site.tj")
    assert links.telegram_links == ()


def test_telegram_links_all_hosts_and_tg_resolve() -> None:
    text = (
        "t.me/news_tj https://telegram.me/other_chan telegram.dog/third_chan https://t.me/c/123456/789 "
        "https://t.me/s/news_tj tg://resolve?domain=some_chan https://name_chan.t.me"
    )
    links = extract_links(text)
    assert links.telegram_links == (
        "t.me/news_tj",
        "https://telegram.me/other_chan",
        "telegram.dog/third_chan",
        "https://t.me/c/123456/789",
        "https://t.me/s/news_tj",
        "tg://resolve?domain=some_chan",
        "https://name_chan.t.me",
    )
    assert "tg://resolve?domain=some_chan" not in links.urls  # not a web URL
    assert "t.me/news_tj" in links.urls


def test_invite_links_are_separate_and_not_duplicated() -> None:
    text = (
        "Join t.me/+AbCdEfGh12_3 or https://t.me/joinchat/QwErTy987 or tg://join?invite=ZzYy123; "
        "chan t.me/x_chan"
    )
    links = extract_links(text)
    assert links.invite_links == (
        "t.me/+AbCdEfGh12_3",
        "https://t.me/joinchat/QwErTy987",
        "tg://join?invite=ZzYy123",
    )
    assert links.telegram_links == ("t.me/x_chan",)


def test_phone_number_link_is_not_an_invite() -> None:
    links = extract_links("Звоните: t.me/+992900000000")
    assert links.invite_links == ()
    assert links.telegram_links == ("t.me/+992900000000",)


def test_trailing_punctuation_and_brackets_are_not_part_of_links() -> None:
    text = (
        "(https://example.org/a) «https://t.me/chan_one». See https://example.org/b, "
        'https://example.org/c! "https://example.org/d"; https://en.wikipedia.org/wiki/Foo_(bar).'
    )
    assert extract_links(text).urls == (
        "https://example.org/a",
        "https://t.me/chan_one",
        "https://example.org/b",
        "https://example.org/c",
        "https://example.org/d",
        "https://en.wikipedia.org/wiki/Foo_(bar)",
    )


def test_links_hidden_with_zero_width_characters_are_found() -> None:
    links = extract_links("Обуна шавед: t.\u200bme/\u200dhidden_chan ва ht\u2060tps://exa\ufeffmple.org/x")
    assert links.telegram_links == ("t.me/hidden_chan",)
    assert links.urls == ("t.me/hidden_chan", "https://example.org/x")


def test_full_width_links_are_found() -> None:
    links = extract_links("ｈｔｔｐｓ：／／ｔ．ｍｅ／ｗｉｄｅ＿ｃｈａｎ ва ＠ｗｉｄｅ＿ｈａｎｄｌｅ ＃ｔａｇ")
    assert links.telegram_links == ("https://t.me/wide_chan",)
    assert links.handles == ("@wide_handle",)
    assert links.hashtags == ("#tag",)


def test_handles_follow_telegram_rules_and_skip_emails() -> None:
    text = (
        "@news_tj @Ab12 @valid_name @1digitfirst info@example.org @" + "a" * 33 + " @News_TJ, (@paren_name)"
    )
    assert extract_links(text).handles == ("@news_tj", "@valid_name", "@paren_name")


def test_hashtags_in_any_script() -> None:
    links = extract_links("#Хабар #خبر_فوری #news #Хабар #ХАБАР #1 #2024 C# #tag_2 x#notag #ўзбек")
    assert links.hashtags == ("#хабар", "#خبر_فوری", "#news", "#tag_2", "#ўзбек")


def test_handles_and_hashtags_inside_links_are_not_counted() -> None:
    links = extract_links("https://example.org/page#section https://t.me/@not_a_handle")
    assert links.hashtags == ()
    assert links.handles == ()


def test_deduplicated_in_order_of_appearance() -> None:
    links = extract_links(
        "t.me/b_chan https://x.org t.me/a_chan https://x.org t.me/b_chan @bbbbb @aaaaa @bbbbb"
    )
    assert links.urls == ("t.me/b_chan", "https://x.org", "t.me/a_chan")
    assert links.telegram_links == ("t.me/b_chan", "t.me/a_chan")
    assert links.handles == ("@bbbbb", "@aaaaa")


def test_plain_text_has_no_links() -> None:
    assert extract_links("Имрӯз ҳаво гарм аст. Example.org is not a link without www or a scheme.") == Links()


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_extract_links_never_raises(text: str) -> None:
    assert isinstance(extract_links(text), Links)
