"""Resource limits for hostile input, in one place, read once from the environment.

posbon's input is written by the people it works against, so every reader and media step is bounded.
Each limit has a default that no real post, export or image comes near, and an environment variable that
raises or lowers it (a whole number, `_` allowed as a digit separator: POSBON_MAX_LINE_BYTES=50_000_000):

    POSBON_MAX_IMAGE_PIXELS   60_000_000  an image declaring more pixels is not decoded (decompression bombs)
    POSBON_MAX_IMAGE_BYTES   209_715_200  a larger image file is not read (200 MiB)
    POSBON_MAX_VIDEO_SECONDS         600  keyframes are taken from the first this-many seconds of a video
    POSBON_MAX_VIDEO_FRAMES          200  keyframes kept per video
    POSBON_MAX_LINE_BYTES     10_485_760  a longer line of a JSON Lines/CSV file is skipped (10 MiB)
    POSBON_MAX_TEXT_CHARS      1_000_000  a longer post text is cut to this length
    POSBON_MAX_JSON_DEPTH             64  a JSON value nested deeper is refused (a post never nests > 10)
    POSBON_MAX_FEED_BYTES    104_857_600  a larger RSS/Atom file is skipped (100 MiB; parsed in memory)
    POSBON_MAX_PATH_CHARS          4_096  a longer media reference is refused (PATH_MAX on Linux)

Every refusal or cut is reported as a one-line Problem naming the file and the post; the scan goes on.
A value that is not a positive whole number is ignored with one line on stderr, and the default is used:
a typo in a limit must not stop a scan, nor silently switch a limit off.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

ENV_PREFIX = "POSBON_MAX_"


@dataclass(frozen=True)
class Limits:
    image_pixels: int = 60_000_000  # 48 MP phone photos are 8000 x 6000
    image_bytes: int = 200 * 1024 * 1024
    video_seconds: int = 600
    video_frames: int = 200
    line_bytes: int = 10 * 1024 * 1024
    text_chars: int = 1_000_000
    json_depth: int = 64
    feed_bytes: int = 100 * 1024 * 1024
    path_chars: int = 4096

    @staticmethod
    def variable(name: str) -> str:
        """The environment variable of a limit: image_pixels -> POSBON_MAX_IMAGE_PIXELS."""
        return ENV_PREFIX + name.upper()


def load_limits(environ: Mapping[str, str]) -> tuple[Limits, list[str]]:
    """Limits from `environ` (POSBON_MAX_*), and one message per value that was ignored."""
    limits = Limits()
    ignored: list[str] = []
    for field in fields(Limits):
        variable = Limits.variable(field.name)
        raw = environ.get(variable)
        if raw is None or not raw.strip():
            continue
        default = getattr(limits, field.name)
        try:
            value = int(raw.strip())
        except ValueError:
            value = 0
        if value <= 0:
            ignored.append(
                f"{variable}={raw.strip()[:40]!r} is not a positive whole number; using {default:_}"
            )
            continue
        limits = replace(limits, **{field.name: value})
    return limits, ignored


def _load() -> Limits:
    limits, ignored = load_limits(os.environ)
    for message in ignored:
        print(f"posbon: {message}", file=sys.stderr)
    return limits


LIMITS: Limits = _load()  # read once, when posbon is imported
