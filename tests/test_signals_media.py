from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from threatexchange.signal_type.md5 import VideoMD5Signal
from threatexchange.signal_type.pdq.pdq_hasher import pdq_from_file

from posbon.domain import MediaKind, SignalType
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
