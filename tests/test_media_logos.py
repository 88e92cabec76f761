"""Branding marks: a benign stand-in logo ("LANTERN") found in a corner, re-compressed; not elsewhere."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from posbon.media.logos import LogoIndex

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")


def make_logo(size: int = 240) -> Image.Image:
    img = Image.new("RGB", (size, size), "white")
    d = ImageDraw.Draw(img)
    d.ellipse((10, 10, size - 10, size - 10), outline=(170, 30, 30), width=8)
    d.polygon([(size // 2, 30), (size // 4, size // 2), (3 * size // 4, size // 2)], fill=(20, 20, 80))
    d.rectangle((size // 5, size // 2 + 10, 4 * size // 5, size // 2 + 22), fill=(170, 30, 30))
    font = ImageFont.truetype(str(FONT), size // 7) if FONT.exists() else ImageFont.load_default()
    d.text((size // 6, int(size * 0.66)), "LANTERN", font=font, fill="black")
    return img


def scene(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (35, 50, 3), dtype=np.uint8)
    img = (
        Image.fromarray(small)
        .resize((1000, 700), Image.Resampling.BICUBIC)
        .filter(ImageFilter.GaussianBlur(2))
    )
    d = ImageDraw.Draw(img)
    for _ in range(8):
        x, y = (int(v) for v in rng.integers(0, 900, 2))
        d.ellipse((x, y % 600, x + 90, y % 600 + 60), fill=tuple(int(c) for c in rng.integers(0, 255, 3)))
    return img


def jpeg(img: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


@pytest.fixture
def index(tmp_path: Path) -> LogoIndex:
    path = tmp_path / "lantern.png"
    make_logo().save(path)
    idx = LogoIndex()
    idx.add("lantern", path)
    return idx


def test_logo_in_corner_found_with_box(index: LogoIndex, tmp_path: Path) -> None:
    img = scene(1)
    img.paste(make_logo().resize((200, 200)), (780, 480))
    path = tmp_path / "post.png"
    img.save(path)
    hits = index.find(path)
    assert hits and hits[0].logo_id == "lantern"
    x0, y0, x1, y1 = hits[0].box
    assert abs(x0 - 780) < 15 and abs(y0 - 480) < 15 and abs(x1 - 980) < 15 and abs(y1 - 680) < 15
    assert hits[0].inliers >= 12 and 0 < hits[0].score <= 1


def test_recompressed_smaller_cropped_copy_found(index: LogoIndex) -> None:
    img = scene(2)
    img.paste(make_logo().resize((90, 90)), (300, 200))
    copy = jpeg(img.crop((100, 50, 900, 650)), 45)  # crop, then JPEG quality 45; logo at 0.375x
    hits = index.find(copy)
    assert hits
    x0, y0, x1, y1 = hits[0].box
    assert abs(x0 - 200) < 12 and abs(y0 - 150) < 12 and abs(x1 - 290) < 12 and abs(y1 - 240) < 12


def test_no_hit_without_the_logo(index: LogoIndex) -> None:
    plain = scene(3)
    word_only = scene(4)
    font = ImageFont.truetype(str(FONT), 34) if FONT.exists() else ImageFont.load_default()
    ImageDraw.Draw(word_only).text((200, 300), "LANTERN FESTIVAL", font=font, fill="black")
    for img in (plain, jpeg(word_only, 70)):
        assert index.find(img) == []


def test_featureless_logo_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "blank.png"
    Image.new("RGB", (100, 100), "white").save(path)
    with pytest.raises(ValueError, match="too little detail"):
        LogoIndex().add("blank", path)
