"""Media fingerprints: PDQ (with quality) and MD5 of the bytes, computed through python-threatexchange."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

from PIL import Image
from threatexchange.signal_type.md5 import VideoMD5Signal
from threatexchange.signal_type.pdq.pdq_hasher import pdq_from_bytes

from posbon.domain import MediaKind, Signal, SignalType

# Decompression-bomb guard: the header is read and width x height checked before any pixel is decoded.
# 60 M pixels is well above any real poster or photo (a 48 MP phone photo is 8000 x 6000).
MAX_IMAGE_PIXELS = 60_000_000
# Images are read into memory once (MD5 and PDQ from the same bytes); videos and other files are streamed.
MAX_IMAGE_BYTES = 200 * 1024 * 1024

# Modes threatexchange's pdq_from_bytes hashes correctly as they are; others (P, RGBA, CMYK, 1, ...) are
# converted to RGB first, because pdqhash would read palette indices or a 4th channel as pixels.
_THREATEXCHANGE_MODES = frozenset({"RGB", "L", "LA", "I;16"})


class MediaError(Exception):
    """A media file that cannot be fingerprinted: unreadable, corrupt or too large. One-line message."""


def media_signals(path: Path, kind: MediaKind) -> list[Signal]:
    """Fingerprints of one media file.

    Images: PDQ (with its quality, 0..100) and the MD5 of the file's bytes. Videos and other files: the MD5
    of the bytes (threatexchange's VideoMD5Signal). `origin` is left "" for the caller to set.
    Raises MediaError with a one-line message for unreadable, corrupt or oversized files.
    """
    if kind is MediaKind.IMAGE:
        return _image_signals(path)
    try:
        md5 = VideoMD5Signal.hash_from_file(path)
    except OSError as exc:
        raise MediaError(f"cannot read file: {exc.strerror or exc}") from None
    return [Signal(SignalType.MD5, md5)]


def _image_signals(path: Path) -> list[Signal]:
    try:
        size = path.stat().st_size
        if size > MAX_IMAGE_BYTES:
            raise MediaError(f"image too large: {size:,} bytes (limit {MAX_IMAGE_BYTES:,})")
        data = path.read_bytes()
    except OSError as exc:
        raise MediaError(f"cannot read image: {exc.strerror or exc}") from None
    md5 = VideoMD5Signal.hash_from_bytes(data)
    pdq_hash, quality = _pdq(data)
    return [Signal(SignalType.PDQ, pdq_hash, quality=quality), Signal(SignalType.MD5, md5)]


def _pdq(data: bytes) -> tuple[str, int]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise MediaError(f"image too large: {width}x{height} pixels (limit {MAX_IMAGE_PIXELS:,})")
                if image.mode in _THREATEXCHANGE_MODES:
                    pixels = data
                else:
                    buffer = io.BytesIO()
                    image.convert("RGB").save(buffer, format="PNG")
                    pixels = buffer.getvalue()
            pdq_hash, quality = pdq_from_bytes(pixels)
    except MediaError:
        raise
    except Exception as exc:  # PIL and pdqhash raise many types on corrupt input; none is a bug of ours
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MediaError(f"cannot read image: {message}") from None
    return pdq_hash.lower(), int(quality)
