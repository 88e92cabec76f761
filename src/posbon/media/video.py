"""Keyframes of a video by scene change (PyAV decodes; a grey-thumbnail difference marks a new scene).

Bounded: at most `max_seconds` of video and `max_frames` frames; when either cuts the video short, the
second value returned is one line saying so (the caller turns it into a Problem or a note).
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from PIL import Image

from posbon.limits import LIMITS

FRAMES_PER_SECOND_CAP = 120  # decoded frames per second of the time limit, whatever the timestamps say
SCENE_THRESHOLD = 12.0  # mean absolute grey difference (0..255) between 64x36 thumbnails
MIN_GAP_SECONDS = 0.4  # a caption that lingers is kept once, not once per frame


def keyframes(
    path: Path,
    *,
    max_seconds: float = LIMITS.video_seconds,
    max_frames: int = LIMITS.video_frames,
    scene_threshold: float = SCENE_THRESHOLD,
    max_pixels: int = LIMITS.image_pixels,
) -> tuple[list[Image.Image], str | None]:
    """The first frame and every frame that differs enough from the last kept one.

    A video whose frames are larger than `max_pixels` is not decoded. Decoding stops after `max_seconds`
    of video, and after max_seconds x FRAMES_PER_SECOND_CAP frames in any case (a hostile file can carry
    no timestamps, or the same one on every frame).
    """
    frames: list[Image.Image] = []
    last: np.ndarray | None = None
    last_t = -1e9
    max_decoded = int(max_seconds * FRAMES_PER_SECOND_CAP)
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return [], f"{path.name}: no video stream"
            stream = container.streams.video[0]
            width, height = stream.codec_context.width or 0, stream.codec_context.height or 0
            if width * height > max_pixels:
                return [], f"{path.name}: frames of {width}x{height} pixels, over the {max_pixels:,} limit"
            stream.thread_type = "AUTO"
            for decoded, frame in enumerate(container.decode(stream), start=1):
                t = float(frame.time) if frame.time is not None else 0.0
                if t > max_seconds or decoded > max_decoded:
                    return frames, f"{path.name}: only the first {max_seconds:g} s were scanned for keyframes"
                if frame.width * frame.height > max_pixels:
                    return frames, f"{path.name}: a frame of {frame.width}x{frame.height} pixels; stopped"
                thumb = np.asarray(frame.to_image().convert("L").resize((64, 36)), dtype=np.float32)
                changed = last is None or float(np.abs(thumb - last).mean()) >= scene_threshold
                if changed and (last is None or t - last_t >= MIN_GAP_SECONDS):
                    if len(frames) >= max_frames:
                        return frames, f"{path.name}: stopped at {max_frames} keyframes ({t:.0f} s in)"
                    frames.append(frame.to_image())
                    last, last_t = thumb, t
    except (av.FFmpegError, OSError, ValueError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        return frames, f"{path.name}: video could not be read fully ({detail})"
    return frames, None
