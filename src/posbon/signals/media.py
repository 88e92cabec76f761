"""Media fingerprints: PDQ (with quality) and MD5 of the bytes, computed through python-threatexchange.

Two optional extra PDQ signals make common edits match (measured in bench/pdq_robustness.py, docs/pdq.md):
- rotations: the PDQ of the 7 other dihedral transforms of the pixels (90/180/270 rotations, mirror, flip
  and the two diagonal flips). pdqhash's compute_dihedral derives them from one DCT in ~1.2x the time of
  one hash, but it is not exact: on drawn test posters its 180-degree hash lay 10-38 bits from the hash of
  the rotated pixels (over the threshold for some), so the pixels are transformed and hashed 8 times;
- unletterboxing: when an image has uniform bars on its edges (letterbox/pillarbox, also white or coloured,
  as added when re-posting a picture in another frame), the PDQ of the image with the bars cut off.
The plain PDQ is always the first signal and is unchanged, so banks hashed without these still match.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pdqhash
from PIL import Image
from threatexchange.signal_type.md5 import VideoMD5Signal

from posbon.domain import MediaKind, Signal, SignalType
from posbon.limits import LIMITS

# Decompression-bomb guard: the header is read and width x height checked before any pixel is decoded.
# 60 M pixels by default (POSBON_MAX_IMAGE_PIXELS), well above any real poster or photo.
MAX_IMAGE_PIXELS = LIMITS.image_pixels
# Images are read into memory once (MD5 and PDQ from the same bytes); videos and other files are streamed.
MAX_IMAGE_BYTES = LIMITS.image_bytes

# The dihedral transforms hashed with `rotations`: name -> pixel transform of an (h, w, 3) array.
DIHEDRAL: dict[str, Callable[[npt.NDArray[np.uint8]], npt.NDArray[np.uint8]]] = {
    "rot90": lambda a: np.rot90(a, 1),
    "rot180": lambda a: np.rot90(a, 2),
    "rot270": lambda a: np.rot90(a, 3),
    "mirror": lambda a: a[:, ::-1],
    "flip": lambda a: a[::-1],
    "transpose": lambda a: a.transpose(1, 0, 2),
    "transverse": lambda a: np.rot90(a, 2).transpose(1, 0, 2),
}
# Unletterboxing: a bar is a run of edge rows (or columns) whose pixels all lie within BAR_TOLERANCE of each
# other per channel (JPEG ringing stays below it); bars thinner than BAR_MIN_FRACTION of the side are
# ignored, and nothing is cut if less than BAR_MIN_CONTENT of the width or height would remain.
BAR_TOLERANCE = 24
BAR_MIN_FRACTION = 0.02
BAR_MIN_CONTENT = 0.2
# An extra signal below this PDQ quality (threatexchange's recommended floor) is dropped: a near-uniform
# crop or transform matches too much. The plain hash is always returned, with its quality, as before.
EXTRA_MIN_QUALITY = 50


class MediaError(Exception):
    """A media file that cannot be fingerprinted: unreadable, corrupt or too large. One-line message."""


def media_signals(
    path: Path, kind: MediaKind, *, rotations: bool = False, unletterbox: bool = True
) -> list[Signal]:
    """Fingerprints of one media file.

    Images: PDQ (with its quality, 0..100) and the MD5 of the file's bytes, then the extra PDQ signals:
    with `unletterbox`, one for the image without its uniform edge bars if it has any (origin
    "unletterboxed"); with `rotations`, one per other dihedral transform (origin "rot90", "rot180",
    "rot270", "mirror", "flip", "transpose", "transverse"). An extra value equal to an earlier one, or of
    PDQ quality below EXTRA_MIN_QUALITY, is left out.
    Videos and other files: the MD5 of the bytes (threatexchange's VideoMD5Signal).
    `origin` of the plain PDQ and the MD5 is "" for the caller to set; a caller that sets its own origin
    should keep the extra signals' origin as a suffix (e.g. "photo.jpg#rot90").
    Raises MediaError with a one-line message for unreadable, corrupt or oversized files.
    """
    if kind is MediaKind.IMAGE:
        return _image_signals(path, rotations=rotations, unletterbox=unletterbox)
    try:
        md5 = VideoMD5Signal.hash_from_file(path)
    except OSError as exc:
        raise MediaError(f"cannot read file: {exc.strerror or exc}") from None
    return [Signal(SignalType.MD5, md5)]


def _image_signals(path: Path, *, rotations: bool, unletterbox: bool) -> list[Signal]:
    try:
        size = path.stat().st_size
        if size > MAX_IMAGE_BYTES:
            raise MediaError(f"image too large: {size:,} bytes (limit {MAX_IMAGE_BYTES:,})")
        data = path.read_bytes()
    except OSError as exc:
        raise MediaError(f"cannot read image: {exc.strerror or exc}") from None
    md5 = VideoMD5Signal.hash_from_bytes(data)
    pixels = _pixels(data)
    try:
        vector, quality = pdqhash.compute(pixels)
        plain = _hex(vector)
        signals = [Signal(SignalType.PDQ, plain, quality=int(quality)), Signal(SignalType.MD5, md5)]
        extra: list[tuple[str, npt.NDArray[np.uint8]]] = []
        if unletterbox and (inner := unletterboxed(pixels)) is not None:
            extra.append(("unletterboxed", inner))
        if rotations:
            extra.extend((name, transform(pixels)) for name, transform in DIHEDRAL.items())
        seen = {plain}
        for origin, array in extra:
            vector, extra_quality = pdqhash.compute(np.ascontiguousarray(array))
            value = _hex(vector)
            if value not in seen and extra_quality >= EXTRA_MIN_QUALITY:  # symmetric images repeat hashes
                seen.add(value)
                signals.append(Signal(SignalType.PDQ, value, quality=int(extra_quality), origin=origin))
    except Exception as exc:  # pdqhash on a degenerate image (e.g. 1 x 1); not a bug of ours
        raise MediaError(
            f"cannot hash image: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from None
    return signals


def _hex(vector: npt.NDArray[np.integer] | list[int]) -> str:
    """pdqhash's 256 bits (first = most significant, as threatexchange prints them) -> 64 hex chars."""
    return np.packbits(np.asarray(vector, dtype=np.uint8)).tobytes().hex()


def unletterboxed(pixels: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8] | None:
    """The (h, w, 3) image without uniform bars on its edges, or None when it has none worth cutting.

    Written here rather than using threatexchange's unletterboxing helper: that one only cuts pure black
    (one Python call per pixel row) and so misses JPEG-compressed, grey or white bars.
    """
    height, width = pixels.shape[:2]
    if height < 8 or width < 8:
        return None
    rows = np.ptp(pixels, axis=1).max(axis=1) <= BAR_TOLERANCE  # each row uniform?
    cols = np.ptp(pixels, axis=0).max(axis=1) <= BAR_TOLERANCE
    top, bottom = _run(rows), _run(rows[::-1])
    left, right = _run(cols), _run(cols[::-1])
    top, bottom = (v if v >= BAR_MIN_FRACTION * height else 0 for v in (top, bottom))
    left, right = (v if v >= BAR_MIN_FRACTION * width else 0 for v in (left, right))
    if not (top or bottom or left or right):
        return None
    if height - top - bottom < BAR_MIN_CONTENT * height or width - left - right < BAR_MIN_CONTENT * width:
        return None
    return pixels[top : height - bottom, left : width - right]


def _run(flags: npt.NDArray[np.bool_]) -> int:
    """Length of the leading run of True."""
    false = np.flatnonzero(~flags)
    return int(false[0]) if len(false) else len(flags)


def _pixels(data: bytes) -> npt.NDArray[np.uint8]:
    """Decoded RGB pixels (palette, alpha, CMYK, 16-bit... converted as threatexchange's hasher does)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise MediaError(f"image too large: {width}x{height} pixels (limit {MAX_IMAGE_PIXELS:,})")
                return np.asarray(image.convert("RGB"))
    except MediaError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:  # Pillow's own, larger cap
        message = str(exc).split(",")[0]
        raise MediaError(f"image too large: {message} (limit {MAX_IMAGE_PIXELS:,} pixels)") from None
    except Exception as exc:  # PIL raises many types on corrupt input; none is a bug of ours
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MediaError(f"cannot read image: {message}") from None
