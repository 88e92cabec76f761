from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from posbon.domain import Item, Problem
from posbon.ingest import detect_format, read_source
from posbon.ingest.rss import html_to_text
from posbon.privacy import Pseudonymizer

PSEUDO = Pseudonymizer(b"test-key")

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Local News</title><link>https://news.example/</link>
<item><guid>https://news.example/1</guid><title>Market opens</title>
<link>https://news.example/1</link>
<description>&lt;p&gt;Prices &lt;b&gt;fell&lt;/b&gt; today.&lt;/p&gt;&lt;p&gt;See &lt;a href="https://t.me/+Invite1"&gt;chat&lt;/a&gt;&lt;/p&gt;&lt;script&gt;bad()&lt;/script&gt;</description>
<author>reporter@news.example (Reporter)</author>
<pubDate>Fri, 01 Mar 2024 12:34:56 +0500</pubDate></item>
<item><title>No id</title><link>https://news.example/2</link><description>plain</description></item>
</channel></rss>
"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Atom Feed</title><id>urn:feed</id>
<entry><id>urn:e1</id><title>Hello</title><updated>2024-03-02T00:00:00Z</updated>
<summary>short</summary>
<content type="html">&lt;div&gt;full &lt;i&gt;text&lt;/i&gt;&lt;/div&gt;</content></entry>
</feed>
"""


def read(path: Path) -> tuple[list[Item], list[Problem]]:
    out = list(read_source(path, None, PSEUDO))
    return [o for o in out if isinstance(o, Item)], [o for o in out if isinstance(o, Problem)]


def test_rss_entries(tmp_path: Path) -> None:
    path = tmp_path / "news.xml"
    path.write_text(RSS)
    assert detect_format(path) == "rss"
    items, problems = read(path)
    assert problems == []
    first, second = items
    assert first.text == "Market opens\nPrices fell today.\nSee chat\nhttps://t.me/+Invite1"
    assert first.external_id == "https://news.example/1" and first.url == "https://news.example/1"
    assert first.source == "Local News" and first.origin == f"{path}:entry 1"
    assert first.created_at == datetime(2024, 3, 1, 7, 34, 56, tzinfo=UTC)
    assert first.author is not None and "reporter" not in repr(items).lower()
    assert second.external_id == "https://news.example/2" and second.text == "No id\nplain"
    assert [i.item_id for i in read(path)[0]] == [i.item_id for i in items]


def test_atom_prefers_content(tmp_path: Path) -> None:
    path = tmp_path / "feed.atom"
    path.write_text(ATOM)
    items, problems = read(path)
    assert problems == [] and items[0].text == "Hello\nfull text" and items[0].external_id == "urn:e1"
    assert items[0].source == "Atom Feed" and items[0].created_at == datetime(2024, 3, 2, tzinfo=UTC)


def test_bozo_feed_still_read_with_one_problem(tmp_path: Path) -> None:
    path = tmp_path / "broken.rss"
    path.write_text(RSS.replace("</channel></rss>", "<item><title>cut &bogus; </title></item></channel>"))
    items, problems = read(path)
    assert len(items) >= 2 and len(problems) == 1
    assert "not well-formed" in problems[0].message and problems[0].file == str(path)
    junk = tmp_path / "junk.rss"
    junk.write_text("this is not xml at all")
    items, problems = read(junk)
    assert items == [] and len(problems) == 1


def test_html_to_text() -> None:
    text, links = html_to_text("<p>a&amp;b</p><style>x{}</style><ul><li>one</li><li>two<br/>three</li></ul>")
    assert text == "a&b\none\ntwo\nthree" and links == []
