from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from threatexchange.signal_type.md5 import VideoMD5Signal
from threatexchange.signal_type.pdq.pdq_hasher import pdq_from_file

from posbon.domain import MediaKind, SignalType
from posbon.match.pdq import hamming_distance
from posbon.signals import media
from posbon.signals.media import MediaError, media_signals


def _textured(path: Path, seed: int = 0, mode: str = "RGB") -> Path:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(16, 16, 3), dtype=np.uint8)
    image = Image.fromarray(small).resize((256, 256), Image.Resampling.BILINEAR)
    image.convert(mode).save(path)
    return path


def test_image_gives_pdq_with_quality_and_md5(tmp_path: Path) -> None:
    path = _textured(tmp_path / "poster.png")
    signals = media_signals(path, MediaKind.IMAGE)
    by_type = {s.signal_type: s for s in signals}
    assert set(by_type) == {SignalType.PDQ, SignalType.MD5}
    expected_hash, expected_quality = pdq_from_file(path)
    assert by_type[SignalType.PDQ].value == expected_hash
    assert by_type[SignalType.PDQ].quality == expected_quality >= 50
    assert by_type[SignalType.MD5].value == VideoMD5Signal.hash_from_file(path)
    assert all(s.origin == "" for s in signals)


def test_palette_and_rgba_images_are_hashed_like_their_rgb_version(tmp_path: Path) -> None:
    rgb = media_signals(_textured(tmp_path / "a.png"), MediaKind.IMAGE)[0]
    rgba = media_signals(_textured(tmp_path / "b.png", mode="RGBA"), MediaKind.IMAGE)[0]
    assert rgba.value == rgb.value


def test_video_and_other_files_give_md5_of_bytes(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"not really a video" * 1000)
    signals = media_signals(path, MediaKind.VIDEO)
    assert [(s.signal_type, s.value) for s in signals] == [
        (SignalType.MD5, VideoMD5Signal.hash_from_bytes(path.read_bytes()))
    ]


def test_corrupt_image_is_a_media_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
    with pytest.raises(MediaError, match="^cannot read image: "):
        media_signals(path, MediaKind.IMAGE)


def test_truncated_image_is_a_media_error(tmp_path: Path) -> None:
    path = _textured(tmp_path / "full.jpg")
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(path.read_bytes()[:300])
    with pytest.raises(MediaError, match="cannot read image"):
        media_signals(cut, MediaKind.IMAGE)


def test_missing_file_is_a_media_error(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="cannot read"):
        media_signals(tmp_path / "gone.mp4", MediaKind.VIDEO)


def test_decompression_bomb_refused_before_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _textured(tmp_path / "big.png")  # 256 x 256 = 65,536 px
    monkeypatch.setattr(media, "MAX_IMAGE_PIXELS", 60_000)
    with pytest.raises(MediaError, match=r"image too large: 256x256 pixels"):
        media_signals(path, MediaKind.IMAGE)


def _pdq_values(path: Path, **options: bool) -> dict[str, str]:
    return {
        s.origin: s.value
        for s in media_signals(path, MediaKind.IMAGE, **options)
        if s.signal_type == SignalType.PDQ
    }


def _closest(original: str, candidates: dict[str, str]) -> tuple[int, str]:
    return min((hamming_distance(original, value), origin) for origin, value in candidates.items())


def test_rotated_image_matches_only_with_rotations(tmp_path: Path) -> None:
    original = _textured(tmp_path / "poster.png", seed=3)
    rotated = tmp_path / "rotated.png"
    with Image.open(original) as image:
        image.transpose(Image.Transpose.ROTATE_90).save(rotated)
    banked = _pdq_values(original)[""]
    plain = _pdq_values(rotated)
    assert list(plain) == [""]  # no bars, no rotations: just the plain hash
    assert hamming_distance(banked, plain[""]) > 31
    with_rotations = _pdq_values(rotated, rotations=True)
    assert len(with_rotations) == 8 and with_rotations[""] == plain[""]
    distance, origin = _closest(banked, with_rotations)
    assert distance <= 31 and origin.startswith("rot")


def test_letterboxed_image_matches_through_unletterboxing(tmp_path: Path) -> None:
    original = _textured(tmp_path / "poster.png", seed=4)
    boxed = tmp_path / "boxed.jpg"
    with Image.open(original) as image:
        frame = Image.new("RGB", (256, 400), (0, 0, 0))  # black bars top and bottom, as a phone repost
        frame.paste(image, (0, 72))
        frame.save(boxed, quality=90)
    banked = _pdq_values(original)[""]
    without = _pdq_values(boxed, unletterbox=False)
    assert list(without) == [""] and hamming_distance(banked, without[""]) > 31
    found = _pdq_values(boxed)
    assert set(found) == {"", "unletterboxed"}
    assert hamming_distance(banked, found["unletterboxed"]) <= 31
    white = tmp_path / "white.png"
    with Image.open(original) as image:
        frame = Image.new("RGB", (400, 256), (255, 255, 255))  # white pillarbox
        frame.paste(image, (72, 0))
        frame.save(white)
    assert hamming_distance(banked, _pdq_values(white)["unletterboxed"]) <= 31


def test_uniform_image_is_not_cut_to_nothing() -> None:
    assert media.unletterboxed(np.zeros((100, 100, 3), dtype=np.uint8)) is None
    stripe = np.zeros((100, 100, 3), dtype=np.uint8)
    stripe[:, 45:55] = 200  # a thin stripe: cutting would leave less than 20% of the width
    assert media.unletterboxed(stripe) is None
