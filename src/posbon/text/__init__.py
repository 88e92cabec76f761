"""The text stage: normalise, identify the language, extract links, handles and hashtags.

Importing this package loads no language model; the detectors load on the first `detect_language` call.
"""

from __future__ import annotations

from posbon.domain import TextFacts
from posbon.text.language import detect_language
from posbon.text.links import extract_links
from posbon.text.normalize import fold_for_language, normalize

__all__ = ["analyze", "detect_language", "extract_links", "fold_for_language", "normalize"]


def analyze(text: str) -> TextFacts:
    """Everything the text stage knows about one piece of text; `original` is `text` unchanged."""
    return TextFacts(
        original=text,
        normalized=normalize(text),
        language=detect_language(text),
        links=extract_links(text),
    )
