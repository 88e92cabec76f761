"""A cheap "does this image carry text?" test, run before OCR.

Most images in a feed carry no text, and OCR is the expensive step; this test lets the OCR engine skip them.
It looks for what every script's printed text has and photographs rarely have: rows of several
similar-height, compact blobs side by side (letters, or letter groups in Arabic script). The blobs are
OpenCV MSER regions on a grey thumbnail; the row grouping is a few lines of geometry written here because
OpenCV ships no text-line grouping without a trained detector model (EAST/DB need weights we cannot ship).
Tuned to keep every poster in bench/text_in_media.py (recall first: a false "yes" only costs an OCR call).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

# Measured on the bench feed (docs/ocr.md): 1000 px -> 60 ms/image with decode, 480 px -> 10 ms of MSER after
# a decode, with the same recall (weakest poster 62 row-letters at 480 vs 35 at 1000) and skip rate.
# Limit: letters under ~1/80 of the image's long side (6 px at 480) vanish from the thumbnail.
THUMB_LONG_SIDE = 480
MIN_ROW_BLOBS = 4  # letters side by side needed for a row
MIN_TEXT_BLOBS = 10  # letters in rows needed to say "text" (posters: >= 62; text-free: 95% below 10)


def grey_thumbnail(image: Image.Image | Path) -> np.ndarray:
    """Grey copy of `image` scaled to THUMB_LONG_SIDE; a JPEG file is decoded at reduced size (draft)."""
    img = Image.open(image) if isinstance(image, Path) else image
    try:
        if isinstance(image, Path):
            img.draft("L", (THUMB_LONG_SIDE, THUMB_LONG_SIDE))  # JPEG: decode at 1/2..1/8 size, much faster
        grey = img if img.mode == "L" and not isinstance(image, Path) else img.convert("L")
    finally:
        if isinstance(image, Path):
            img.close()
    scale = THUMB_LONG_SIDE / max(grey.size)
    if scale < 1.0:
        grey = grey.resize(
            (max(1, round(grey.width * scale)), max(1, round(grey.height * scale))), Image.Resampling.BILINEAR
        )
    return np.asarray(grey)


def letter_boxes(grey: np.ndarray) -> np.ndarray:
    """MSER regions shaped like letters: (N, 4) array of x, y, w, h, de-duplicated."""
    h_img = grey.shape[0]
    mser = cv2.MSER_create(  # type: ignore[attr-defined]
        delta=5, min_area=12, max_area=max(200, grey.size // 40)
    )
    _regions, boxes = mser.detectRegions(grey)
    if len(boxes) == 0:
        return np.zeros((0, 4), dtype=np.int32)
    b = np.asarray(boxes, dtype=np.int32)
    w, h = b[:, 2], b[:, 3]
    keep = (h >= 6) & (h <= h_img // 4) & (w >= 2) & (w <= 8 * h) & (h <= 6 * w)
    b = b[keep]
    if len(b) == 0:
        return b
    # MSER returns nested copies of the same letter at several thresholds; keep one per ~2px cell
    key = np.stack([b[:, 0] // 3, b[:, 1] // 3, b[:, 2] // 3, b[:, 3] // 3], axis=1)
    _, first = np.unique(key, axis=0, return_index=True)
    return b[np.sort(first)]


def text_blob_count(grey: np.ndarray) -> int:
    """How many letter-like blobs sit in rows of at least MIN_ROW_BLOBS similar neighbours."""
    b = letter_boxes(grey)
    n = len(b)
    if n < MIN_ROW_BLOBS:
        return 0
    b = b[np.argsort(b[:, 0])]
    cy = b[:, 1] + b[:, 3] / 2.0
    hh = b[:, 3].astype(np.float64)
    x0, x1 = b[:, 0], b[:, 0] + b[:, 2]
    in_row = np.zeros(n, dtype=bool)
    for i in range(n):
        # neighbours: similar height, centre on the same line, starting within ~2 letter heights to the right
        j = np.arange(i + 1, min(n, i + 400))
        if len(j) == 0:
            continue
        near = (
            (x0[j] <= x1[i] + 2.0 * hh[i])
            & (np.abs(cy[j] - cy[i]) < 0.35 * hh[i])
            & (hh[j] < 1.6 * hh[i])
            & (hh[j] > hh[i] / 1.6)
            & (x0[j] > x0[i] + 0.2 * hh[i])
        )
        if int(near.sum()) >= MIN_ROW_BLOBS - 1:
            in_row[i] = True
            in_row[j[near]] = True
    return int(in_row.sum())


def has_text(image: Image.Image | Path) -> bool:
    """True when the image probably carries text (cheap: a 480-px grey thumbnail and MSER, ~10 ms)."""
    return text_blob_count(grey_thumbnail(image)) >= MIN_TEXT_BLOBS
