"""Links, Telegram links, invite links, @handles and #hashtags in a post.

Runs on the text after NFKC and invisible-character removal, so full-width letters (ｔ．ｍｅ) and zero-width
characters (t.\u200bme) cannot hide a link. Every list is deduplicated and in order of appearance.

Decisions:
- `urls`: every web link: http(s)://..., bare www.... and bare t.me/... (telegram.me, telegram.dog), Telegram
  ones included, so URL signals cover them. tg:// links are not web URLs and are not in `urls`.
- `telegram_links`: t.me / telegram.me / telegram.dog / <name>.t.me links and tg:// links that are not
  invites (t.me/<name>, t.me/c/..., t.me/s/<name>, t.me/<name>/<post>, tg://resolve?domain=..., and
  t.me/+<digits>, which opens a chat by phone number).
- `invite_links`: t.me/+<hash>, t.me/joinchat/<hash>, tg://join?invite=<hash>. An invite link is NOT also in
  `telegram_links` (each Telegram link is in exactly one of the two).
- Trailing punctuation (. , ; : ! ? ' " » ” ’ …) is not part of a link; a closing bracket is dropped unless
  the link has the matching opening one (https://en.wikipedia.org/wiki/Foo_(bar) keeps its ")").
- `handles`: @name with Telegram's rules: 5-32 characters of [A-Za-z0-9_], starting with a letter; not
  preceded by a letter, digit, "." or "@" (so e-mail addresses are not handles); returned lower-cased
  (Telegram usernames are case-insensitive): "@news_tj".
- `hashtags`: # + Unicode letters, digits and underscores with at least one letter (#Хабар, #خبر, #news;
  "#1" or "#2024" alone are numbering, not tags); not preceded by a letter or digit ("C#" is not a tag);
  returned case-folded ("#хабар") and deduplicated case-insensitively.
Handles and hashtags inside a link (https://x.org/#top, t.me/@name) are not counted again.
"""

from __future__ import annotations

import re
import unicodedata

from posbon.domain import Links
from posbon.text.normalize import strip_invisible

# Hand-written: URL-finding libraries (urlextract, linkify) either need a TLD list download at run time or
# do not know bare t.me forms, tg:// links and Telegram's handle rules.
_LINK_CHARS = r"[^\s<>\"«»“”‘’`{}|\\^]"
_LINK_RE = re.compile(
    r"(?:"
    rf"https?://{_LINK_CHARS}+"
    rf"|(?<![\w.@/-])www\.{_LINK_CHARS}+"
    rf"|(?<![\w.@/-])(?:t\.me|telegram\.me|telegram\.dog)/{_LINK_CHARS}+"
    rf"|tg://{_LINK_CHARS}+"
    r")",
    re.IGNORECASE,
)
_TRAILING = ".,;:!?'\"»”’…*_"
_BRACKETS = {")": "(", "]": "[", "}": "{", ">": "<"}

_TELEGRAM_HOST_RE = re.compile(
    r"^(?:https?://)?(?:www\.)?(?:(?:t\.me|telegram\.me|telegram\.dog)(?:/|$)|[a-z0-9_]+\.t\.me(?:/|$))",
    re.IGNORECASE,
)
_TELEGRAM_PATH_RE = re.compile(
    r"^(?:https?://)?(?:www\.)?(?:t\.me|telegram\.me|telegram\.dog)/(?P<path>[^?#]*)", re.IGNORECASE
)
_PHONE_RE = re.compile(r"^\+\d+/?$")

_HANDLE_RE = re.compile(r"(?<![\w.@])@([A-Za-z][A-Za-z0-9_]{4,31})(?![A-Za-z0-9_@])")
_HASHTAG_RE = re.compile(r"(?<![\w#&])#(\w*[^\W\d_]\w*)")


def _trim(link: str) -> str:
    """Drop trailing punctuation and unbalanced closing brackets."""
    while link:
        last = link[-1]
        if last in _TRAILING or last in _BRACKETS and link.count(last) > link.count(_BRACKETS[last]):
            link = link[:-1]
        else:
            break
    return link


def _is_invite(link: str) -> bool:
    lowered = link.lower()
    if lowered.startswith("tg://"):
        return lowered.startswith("tg://join")
    match = _TELEGRAM_PATH_RE.match(link)
    if match is None:
        return False
    path = match.group("path")
    if path.lower().startswith("joinchat/"):
        return True
    return path.startswith("+") and len(path) > 1 and not _PHONE_RE.match(path)


def _prepare(text: str) -> str:
    return strip_invisible(unicodedata.normalize("NFKC", text))


def extract_links(text: str) -> Links:
    """Find the links, Telegram links, invite links, handles and hashtags in `text`. Never raises."""
    clean = _prepare(text)
    urls: dict[str, None] = {}
    telegram: dict[str, None] = {}
    invites: dict[str, None] = {}
    spans: list[tuple[int, int]] = []
    for match in _LINK_RE.finditer(clean):
        link = _trim(match.group())
        scheme_only = link.lower().rstrip("/") in ("http:", "https:", "tg:", "www.")
        if not link or scheme_only or link.lower().endswith("://"):
            continue
        spans.append((match.start(), match.start() + len(link)))
        is_tg_scheme = link.lower().startswith("tg://")
        if not is_tg_scheme:
            urls.setdefault(link, None)
        if _is_invite(link):
            invites.setdefault(link, None)
        elif is_tg_scheme or _TELEGRAM_HOST_RE.match(link):
            telegram.setdefault(link, None)

    masked = clean
    for start, end in spans:
        masked = masked[:start] + " " * (end - start) + masked[end:]
    handles: dict[str, None] = {}
    for match in _HANDLE_RE.finditer(masked):
        handles.setdefault("@" + match.group(1).lower(), None)
    hashtags: dict[str, None] = {}
    for match in _HASHTAG_RE.finditer(masked):
        hashtags.setdefault("#" + match.group(1).casefold(), None)
    return Links(
        urls=tuple(urls),
        telegram_links=tuple(telegram),
        invite_links=tuple(invites),
        handles=tuple(handles),
        hashtags=tuple(hashtags),
    )
