"""How often PDQ still matches (d <= 31) after common edits, with posbon's extra signals off and on.

    python bench/pdq_robustness.py

Photos: the real photographs bundled inside scikit-image (read from the package's data folder; nothing is
downloaded). Each photo is banked by its plain PDQ; each edited copy is hashed by
posbon.signals.media.media_signals in three configurations: plain PDQ only, + unletterboxing, and
+ unletterboxing + rotations. A copy matches when any of its PDQ signals is within 31 of its own original.
False matches: every edited copy (and original) of one photo against every other photo's banked hash.
Prints markdown tables; copy them into docs/pdq.md.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import skimage
from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps

from posbon.domain import MediaKind, SignalType
from posbon.match.pdq import DEFAULT_THRESHOLD, hamming_distance
from posbon.signals.media import media_signals

PHOTOS = [
    "astronaut.png",
    "brick.png",
    "camera.png",
    "cell.png",
    "chelsea.png",
    "clock_motion.png",
    "coffee.png",
    "coins.png",
    "grass.png",
    "gravel.png",
    "hubble_deep_field.jpg",
    "ihc.png",
    "moon.png",
    "motorcycle_left.png",
    "page.png",
    "retina.jpg",
    "rocket.jpg",
    "text.png",
]

CONFIGS = {
    "plain": {"rotations": False, "unletterbox": False},
    "+unletterbox": {"rotations": False, "unletterbox": True},
    "+unletterbox +rotations": {"rotations": True, "unletterbox": True},
}


def _crop(image: Image.Image, fraction: float) -> Image.Image:
    """Cut `fraction` of the width and of the height, half from each side."""
    w, h = image.size
    dx, dy = round(w * fraction / 2), round(h * fraction / 2)
    return image.crop((dx, dy, w - dx, h - dy))


def _bars(image: Image.Image, colour: tuple[int, int, int], vertical: bool) -> Image.Image:
    """Letterbox (bars above and below) or pillarbox (left and right), each bar 20% of the side."""
    w, h = image.size
    if vertical:
        frame = Image.new("RGB", (w, round(h * 1.4)), colour)
        frame.paste(image, (0, round(h * 0.2)))
    else:
        frame = Image.new("RGB", (round(w * 1.4), h), colour)
        frame.paste(image, (round(w * 0.2), 0))
    return frame


def _caption(image: Image.Image) -> Image.Image:
    out = image.copy()
    draw = ImageDraw.Draw(out)
    w, h = out.size
    font = ImageFont.load_default(size=max(12, h // 12))
    draw.rectangle((0, round(h * 0.82), w, h), fill=(0, 0, 0))
    draw.text(
        (w // 20, round(h * 0.84)), "Join us today - benign stand-in caption", fill=(255, 255, 255), font=font
    )
    return out


TRANSFORMS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "original": lambda im: im,
    "resize 50%": lambda im: im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS),
    "JPEG q=30": lambda im: im,  # saved with quality 30 below
    "crop 5%": lambda im: _crop(im, 0.05),
    "crop 10%": lambda im: _crop(im, 0.10),
    "letterbox black": lambda im: _bars(im, (0, 0, 0), vertical=True),
    "pillarbox white": lambda im: _bars(im, (255, 255, 255), vertical=False),
    "border 3% grey": lambda im: ImageOps.expand(
        im, border=max(2, im.width * 3 // 100), fill=(128, 128, 128)
    ),
    "greyscale": lambda im: im.convert("L").convert("RGB"),
    "brightness +30%": lambda im: ImageEnhance.Brightness(im).enhance(1.3),
    "rotate 90": lambda im: im.transpose(Image.Transpose.ROTATE_90),
    "rotate 180": lambda im: im.transpose(Image.Transpose.ROTATE_180),
    "mirror": lambda im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
    "caption text": _caption,
}


def pdq_values(path: Path, options: dict[str, bool]) -> list[str]:
    return [
        s.value for s in media_signals(path, MediaKind.IMAGE, **options) if s.signal_type == SignalType.PDQ
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.parse_args()
    data = Path(skimage.__file__).parent / "data"
    photos = [name for name in PHOTOS if (data / name).exists()]
    print(
        f"# {time.strftime('%Y-%m-%d %H:%M')}  load {os.getloadavg()[0]:.1f}  {len(photos)} photos: {photos}"
    )
    with tempfile.TemporaryDirectory(prefix="pdqrobust") as tmp:
        edited: dict[tuple[str, str], Path] = {}
        for name in photos:
            with Image.open(data / name) as source:
                image = source.convert("RGB")
            for transform, apply in TRANSFORMS.items():
                path = (
                    Path(tmp)
                    / f"{Path(name).stem}-{len(edited)}.{'jpg' if transform == 'JPEG q=30' else 'png'}"
                )
                result = apply(image)
                if transform == "JPEG q=30":
                    result.save(path, quality=30)
                else:
                    result.save(path)
                edited[(name, transform)] = path
        banked = {name: pdq_values(edited[(name, "original")], CONFIGS["plain"])[0] for name in photos}

        rates: dict[str, dict[str, float]] = {}
        false_rates: dict[str, tuple[int, int]] = {}
        seconds: dict[str, float] = {}
        for config, options in CONFIGS.items():
            start = time.perf_counter()
            hashes = {key: pdq_values(path, options) for key, path in edited.items()}
            seconds[config] = (time.perf_counter() - start) / len(edited)
            rates[config] = {}
            for transform in TRANSFORMS:
                hits = sum(
                    min(hamming_distance(banked[name], h) for h in hashes[(name, transform)])
                    <= DEFAULT_THRESHOLD
                    for name in photos
                )
                rates[config][transform] = hits / len(photos)
            false = total = 0
            for (name, _), values in hashes.items():
                for other in photos:
                    if other == name:
                        continue
                    total += 1
                    false += min(hamming_distance(banked[other], h) for h in values) <= DEFAULT_THRESHOLD
            false_rates[config] = (false, total)

    names = list(CONFIGS)
    print()
    print("| edit | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for transform in TRANSFORMS:
        print(f"| {transform} | " + " | ".join(f"{rates[c][transform]:.0%}" for c in names) + " |")
    print(
        "| **false matches, different photos** | "
        + " | ".join(f"{false_rates[c][0]} / {false_rates[c][1]}" for c in names)
        + " |"
    )
    print("| hashing ms per image | " + " | ".join(f"{seconds[c] * 1000:.0f}" for c in names) + " |")


if __name__ == "__main__":
    main()
