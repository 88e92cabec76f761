"""Keyframes of a video by scene change (PyAV decodes; a grey-thumbnail difference marks a new scene).

Bounded: at most `max_seconds` of video and `max_frames` frames; when either cuts the video short, the
second value returned is one line saying so (the caller turns it into a Problem or a note).
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from PIL import Image

SCENE_THRESHOLD = 12.0  # mean absolute grey difference (0..255) between 64x36 thumbnails
MIN_GAP_SECONDS = 0.4  # a caption that lingers is kept once, not once per frame


def keyframes(
    path: Path,
    *,
    max_seconds: float = 600,
    max_frames: int = 200,
    scene_threshold: float = SCENE_THRESHOLD,
) -> tuple[list[Image.Image], str | None]:
    """The first frame and every frame that differs enough from the last kept one."""
    frames: list[Image.Image] = []
    last: np.ndarray | None = None
    last_t = -1e9
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return [], f"{path.name}: no video stream"
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                t = float(frame.time) if frame.time is not None else 0.0
                if t > max_seconds:
                    return frames, f"{path.name}: only the first {max_seconds:g} s were scanned for keyframes"
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
