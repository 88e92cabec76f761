"""URL signals: one normal form per link so that banked URLs match however a post spells them."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

import idna

from posbon.domain import Links, Signal, SignalType

_DEFAULT_PORTS = {"http": 80, "https": 443}
_TRACKING_PARAMS = frozenset(
    {"fbclid", "gclid", "dclid", "gbraid", "wbraid", "yclid", "msclkid", "igshid", "mc_cid", "mc_eid",
     "_ga", "_gl", "ref_src", "si"}
)  # fmt: skip
_TRACKING_PREFIXES = ("utm_",)
_TELEGRAM_HOSTS = {"telegram.me": "t.me", "telegram.dog": "t.me", "www.t.me": "t.me"}
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_HOST_LIKE = re.compile(r"^[^\s/?#@:]+\.[^\s/?#@:]+")


def _idna_host(host: str) -> str | None:
    host = host.strip().rstrip(".").lower()
    if not host or any(ch.isspace() for ch in host):
        return None
    if host.isascii():
        return host
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError:
        try:
            return host.encode("idna").decode("ascii")  # IDNA 2003 fallback (e.g. symbols uts46 refuses)
        except UnicodeError:
            return None


def normalize_url(url: str) -> str | None:
    """One normal form for a link, or None if `url` is not an http(s) URL.

    Scheme and host lowercased, host in IDNA (punycode), http folded into https (a banked link matches
    whichever scheme a post uses), user info, default ports, fragment, tracking parameters (utm_*, fbclid,
    ...) and the trailing slash dropped, remaining query parameters sorted. telegram.me/telegram.dog fold
    into t.me, and Telegram user names (case-insensitive) are lowercased; invite hashes keep their case.
    A link without a scheme ("t.me/name", "example.com/x") is read as https.
    """
    text = url.strip()
    if not text:
        return None
    if not _SCHEME.match(text):
        if text.startswith("//"):
            text = "https:" + text
        elif _HOST_LIKE.match(text):
            text = "https://" + text
        else:
            return None
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        return None
    host = _idna_host(parts.hostname or "")
    if host is None or "." not in host and host != "localhost":
        return None
    host = _TELEGRAM_HOSTS.get(host, host)
    scheme = "https"
    netloc = host if port is None or port in _DEFAULT_PORTS.values() else f"{host}:{port}"
    # One spelling of the path: "/путь" and "/%D0%BF%D1%83%D1%82%D1%8C" are the same link.
    path = quote(unquote(parts.path), safe="/:@!$&'()*+,;=~").rstrip("/")
    if host == "t.me" and path and not path.startswith(("/+", "/joinchat")):
        path = path.lower()
    query_pairs = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if key.lower() not in _TRACKING_PARAMS and not key.lower().startswith(_TRACKING_PREFIXES)
    ]
    query = urlencode(sorted(query_pairs))
    return urlunsplit((scheme, netloc, path, query, ""))


def domain_of(url: str) -> str | None:
    """The host of a URL in normal form (lowercase, IDNA), or None if it is not a URL."""
    normal = normalize_url(url)
    if normal is None:
        return None
    return urlsplit(normal).hostname


def normalize_domain(value: str) -> str | None:
    """A host name in normal form ("Example.COM." -> "example.com"); a URL given instead yields its host."""
    text = value.strip()
    if "/" in text or ":" in text:
        return domain_of(text)
    host = _idna_host(text)
    if host is None or "." not in host or not re.fullmatch(r"[a-z0-9.-]+", host):
        return None
    return host


def url_signals(links: Links) -> list[Signal]:
    """One URL signal per distinct normalised URL, Telegram link or invite link (origin left "")."""
    seen: set[str] = set()
    signals: list[Signal] = []
    for link in (*links.urls, *links.telegram_links, *links.invite_links):
        normal = normalize_url(link)
        if normal is not None and normal not in seen:
            seen.add(normal)
            signals.append(Signal(SignalType.URL, normal))
    return signals
