"""Video fingerprints: vPDQ, through python-threatexchange's vpdq extension (the `vpdq` package's C++ hasher).

vPDQ is one PDQ hash (with its quality) per second of video. The signal value is threatexchange's own
serialised form (VPDQSignal): a JSON list of "pdq_hex,quality,timestamp" strings, so hashes exchanged with
threatexchange/HMA users import as they are.

The file is first opened with PyAV (already a posbon dependency) to refuse what is not a video, too long a
video or too large frames before the C++ hasher decodes it all: vpdq has no limit of its own.
When the `vpdq` package is missing (it compiles against ffmpeg's libraries; see docs/video.md),
`vpdq_unavailable()` says why in one line and `video_signals` raises VideoHashUnavailable with that reason.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import av

from posbon.domain import Signal, SignalType
from posbon.limits import LIMITS
from posbon.signals.media import MediaError

SECONDS_PER_HASH = 1.0  # threatexchange's default: one frame hash per second
# vpdq decodes the whole file and has no limit of its own: longer videos are refused, not hashed for minutes
MAX_VIDEO_SECONDS = 3600
MAX_FRAME_PIXELS = LIMITS.image_pixels
VPDQ_QUALITY_THRESHOLD = 50  # threatexchange's VPDQ_QUALITY_THRESHOLD: frames below it are not compared


class VideoHashUnavailable(MediaError):
    """vPDQ cannot be computed on this installation (the `vpdq` package is missing). One-line message."""


@lru_cache(maxsize=1)
def _extension() -> tuple[Any, str | None]:
    """(threatexchange's VPDQSignal class, None), or (None, the one-line reason it cannot be imported)."""
    try:
        from threatexchange.extensions.vpdq.vpdq import VPDQSignal
    except ImportError as exc:
        return None, f"vPDQ unavailable: {exc} (install posbon's `video` extra; see docs/video.md)"
    return VPDQSignal, None


def vpdq_unavailable() -> str | None:
    """None when vPDQ works here, else one line saying why not."""
    return _extension()[1]


def video_signals(path: Path) -> list[Signal]:
    """The vPDQ signal of one video file (SignalType.VPDQ, threatexchange's serialised form).

    `quality` is the mean quality of the frame hashes (0..100); `origin` is "" for the caller to set.
    A video with no frame of quality 50 or more (e.g. all black) gives no signal: it would match nothing.
    Raises VideoHashUnavailable when vpdq is not installed, MediaError (one line) for a file that is not a
    readable video, is longer than MAX_VIDEO_SECONDS or has frames larger than MAX_FRAME_PIXELS.
    """
    signal_cls, reason = _extension()
    if signal_cls is None:
        raise VideoHashUnavailable(reason or "vPDQ unavailable")
    _check_video(path)
    try:
        value = str(signal_cls.hash_from_file(path, seconds_per_hash=SECONDS_PER_HASH))
    except Exception as exc:  # vpdq raises a bare Exception("Fail to create VPDQ hash") on bad input
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MediaError(f"cannot hash video: {message}") from None
    frames = json.loads(value)
    qualities = [int(f.split(",")[1]) for f in frames]
    if not qualities or max(qualities) < VPDQ_QUALITY_THRESHOLD:
        return []
    return [Signal(SignalType.VPDQ, value, quality=round(sum(qualities) / len(qualities)))]


_CACHE_SIZE = 256
_cache: dict[tuple[str, int, int], list[Signal] | MediaError] = {}


def cached_video_signals(path: Path) -> list[Signal]:
    """video_signals, computed once per file (path, size, mtime): a video posted a hundred times is decoded
    once per process. Raises as video_signals does."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    found = _cache.get(key)
    if found is None:
        try:
            found = video_signals(path)
        except MediaError as exc:
            found = exc
        if len(_cache) >= _CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
        _cache[key] = found
    if isinstance(found, MediaError):
        raise found
    return list(found)


def _check_video(path: Path) -> None:
    try:
        with av.open(str(path)) as container:
            streams = container.streams.video
            if not streams:
                raise MediaError("not a video: no video stream")
            stream = streams[0]
            seconds: float | None = None
            if stream.duration is not None and stream.time_base is not None:
                seconds = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                seconds = container.duration / 1_000_000
            width, height = stream.codec_context.width, stream.codec_context.height
    except MediaError:
        raise
    except Exception as exc:  # PyAV raises many error types on corrupt input; none is a bug of ours
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MediaError(f"cannot read video: {message}") from None
    if seconds is not None and seconds > MAX_VIDEO_SECONDS:
        raise MediaError(f"video too long to fingerprint: {seconds:,.0f} s (limit {MAX_VIDEO_SECONDS:,} s)")
    if width * height > MAX_FRAME_PIXELS:
        raise MediaError(f"video frames too large: {width}x{height} pixels (limit {MAX_FRAME_PIXELS:,})")


__all__ = ["VideoHashUnavailable", "cached_video_signals", "video_signals", "vpdq_unavailable"]
