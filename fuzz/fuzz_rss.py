"""atheris target: the RSS/Atom reader (feedparser plus posbon's HTML-to-text)."""

from _target import main, reader_target

if __name__ == "__main__":
    main(reader_target("feed.rss", "rss", b'<?xml version="1.0"?><rss version="2.0"><channel>'))
