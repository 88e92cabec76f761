"""Text inside a batch of posts' media: images read directly, videos by their keyframes.

The scan hands over a chunk of items at a time so that OCR runs in parallel across cores and identical
images (the same poster in many posts) are read once; what comes back is keyed by item id and media
reference, ready for the text stage.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from posbon.domain import Item, MediaKind, Problem
from posbon.limits import LIMITS
from posbon.media.ocr import OcrEngine, OcrResult, OcrUnavailable, ocr_available
from posbon.media.video import keyframes

MIN_OCR_CONFIDENCE = 40.0  # lines Tesseract is less sure of than this are left out of the text


@dataclass(frozen=True)
class MediaText:
    """Text found in one image or video keyframe of a post."""

    reference: str  # the post's media reference
    where: str  # "text in image" or "text in video keyframe N"
    text: str
    box: tuple[int, int, int, int] | None  # the region of the lines kept (x0, y0, x1, y1)
    confidence: float  # mean line confidence, 0..100


def media_text_from(result: OcrResult, reference: str, where: str) -> MediaText | None:
    lines = [ln for ln in result.lines if ln.confidence >= MIN_OCR_CONFIDENCE and ln.text.strip()]
    text = result.text.strip() if lines else ""
    if not text:
        return None
    box = (
        min(ln.box[0] for ln in lines),
        min(ln.box[1] for ln in lines),
        max(ln.box[2] for ln in lines),
        max(ln.box[3] for ln in lines),
    )
    confidence = sum(ln.confidence for ln in lines) / len(lines)
    return MediaText(reference, where, text, box, round(confidence, 1))


class MediaReader:
    """OCR for the scan. `open()` returns None plus one line when OCR cannot run here."""

    def __init__(self, engine: OcrEngine) -> None:
        self.engine = engine
        self._frames = tempfile.TemporaryDirectory(prefix="posbon-frames-")

    @classmethod
    def open(cls, cache_dir: Path | None) -> tuple[MediaReader | None, str | None]:
        why = ocr_available()
        if why is not None:
            return None, why
        try:
            return cls(OcrEngine(cache_dir=cache_dir, max_pixels=LIMITS.image_pixels)), None
        except OcrUnavailable as exc:
            return None, str(exc)

    def close(self) -> None:
        self.engine.close()
        self._frames.cleanup()

    def read(self, items: Sequence[Item]) -> tuple[dict[str, list[MediaText]], list[Problem]]:
        """Text in every image and video keyframe of the items, keyed by item id."""
        problems: list[Problem] = []
        wanted: list[tuple[str, str, str, Path]] = []  # item id, reference, where, image path
        for item in items:
            for ref in item.media:
                if ref.path is None:
                    continue
                if ref.kind is MediaKind.IMAGE:
                    wanted.append((item.item_id, ref.reference, "text in image", ref.path))
                elif ref.kind is MediaKind.VIDEO:
                    frames, note = keyframes(ref.path)
                    if note:
                        problems.append(
                            Problem(item.origin or item.source, None, f"video: {note}", note=True)
                        )
                    for number, frame in enumerate(frames, start=1):
                        frame_path = Path(self._frames.name) / f"{item.item_id}-{len(wanted)}-{number}.png"
                        frame.save(frame_path)
                        wanted.append(
                            (item.item_id, ref.reference, f"text in video keyframe {number}", frame_path)
                        )
        if not wanted:
            return {}, problems
        results = self.engine.read_images([w[3] for w in wanted])
        problems.extend(self.engine.problems)
        found: dict[str, list[MediaText]] = {}
        for item_id, reference, where, path in wanted:
            result = results.get(path)
            if where.startswith("text in video"):
                path.unlink(missing_ok=True)
            if result is None:
                continue
            media_text = media_text_from(result, reference, where)
            if media_text is not None:
                found.setdefault(item_id, []).append(media_text)
        return found, problems
