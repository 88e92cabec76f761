"""Fingerprints of content: PDQ and MD5 of media (through threatexchange), text shingles, normalised URLs.

Each function turns content into `posbon.domain.Signal`s; `posbon.match` looks them up in banks.
"""

from posbon.signals.media import MediaError, media_signals
from posbon.signals.text import shingles, text_signal
from posbon.signals.urls import domain_of, normalize_url, url_signals

__all__ = [
    "MediaError",
    "domain_of",
    "media_signals",
    "normalize_url",
    "shingles",
    "text_signal",
    "url_signals",
]
