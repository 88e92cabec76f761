"""Banked videos by vPDQ, searched with python-threatexchange's VPDQIndex (faiss over the frame hashes).

A banked video matches a post's video when at least `query_percent` of the post video's frames (quality
50 or more, duplicates removed) lie within PDQ distance 31 of one of the banked video's frames, and at
least `compared_percent` of the banked video's frames lie within it of the post video's: threatexchange's
"query match percent" and "compared match percent". Defaults are threatexchange's (80 and 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from posbon.signals.video import vpdq_unavailable

DEFAULT_QUERY_PERCENT = 80.0  # threatexchange's VPDQ_QUERY_MATCH_THRESHOLD_PERCENT
DEFAULT_COMPARED_PERCENT = 0.0  # threatexchange's VPDQ_INDEX_MATCH_THRESHOLD_PERCENT


@dataclass(frozen=True)
class VideoHit:
    key: int
    query_percent: float  # share of the post video's frames found in the banked video
    compared_percent: float  # share of the banked video's frames found in the post video


def valid_vpdq(value: str) -> bool:
    """True for threatexchange's serialised vPDQ form with at least one frame."""
    if vpdq_unavailable() is not None:
        return False
    from threatexchange.extensions.vpdq.vpdq_util import json_to_vpdq

    try:
        return bool(json_to_vpdq(value))
    except (ValueError, TypeError, AttributeError):
        return False


class VideoIndex:
    """vPDQ entries, keyed by the caller's ints. Empty (and `available` False) when vpdq is not installed."""

    def __init__(
        self,
        query_percent: float = DEFAULT_QUERY_PERCENT,
        compared_percent: float = DEFAULT_COMPARED_PERCENT,
    ) -> None:
        self.query_percent = query_percent
        self.compared_percent = compared_percent
        self.available = vpdq_unavailable() is None
        self._index: Any = None
        self._size = 0
        if self.available:
            from threatexchange.extensions.vpdq.vpdq_index import VPDQIndex

            self._index = VPDQIndex(
                query_match_threshold_pct=query_percent, index_match_threshold_pct=compared_percent
            )

    def __len__(self) -> int:
        return self._size

    def add(self, key: int, value: str) -> bool:
        """Index one serialised vPDQ; False when it is malformed or has no frame good enough to compare."""
        if self._index is None or not valid_vpdq(value):
            return False
        try:
            self._index.add(value, key)
        except ValueError:  # every frame below quality 50: threatexchange refuses to index it
            return False
        self._size += 1
        return True

    def query(self, value: str) -> list[VideoHit]:
        """Banked videos the given vPDQ matches, best first."""
        if self._index is None or not self._size or not valid_vpdq(value):
            return []
        hits = [
            VideoHit(
                int(m.metadata),
                float(m.similarity_info.query_match_percent),
                float(m.similarity_info.compared_match_percent),
            )
            for m in self._index.query(value)
        ]
        return sorted(hits, key=lambda h: (-h.query_percent, -h.compared_percent, h.key))
