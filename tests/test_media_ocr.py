"""OCR of generated posters, the cheap text test, the cache, video keyframes, and OCR being absent."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from rapidfuzz.distance import Levenshtein

from posbon.media import ocr as ocr_mod
from posbon.media.ocr import OcrEngine, OcrUnavailable, ocr_available
from posbon.media.textfind import has_text
from posbon.media.video import keyframes

NOTO = Path("/usr/share/fonts/truetype/noto")
FONTS = {
    "latin": [NOTO / "NotoSans-Regular.ttf", Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")],
    "arabic": [NOTO / "NotoNaskhArabic-Regular.ttf", Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")],
}
POSTERS = {  # benign stand-in texts; CER thresholds are ~3x the CER measured on these (0.00-0.02)
    "tg": ("Ҷашни фонусҳо дар боғи шаҳр", "latin"),
    "ru": ("Праздник фонарей в городском саду", "latin"),
    "uz": ("Shahar bog'ida chiroqlar bayrami", "latin"),
    "fa": ("کتابخانه تازه برای همه باز است", "arabic"),
    "en": ("Lantern festival in the city garden", "latin"),
}
SCRIPT = {"tg": "Cyrillic", "ru": "Cyrillic", "uz": "Latin", "fa": "Arabic", "en": "Latin"}


def _font(kind: str, size: int) -> ImageFont.FreeTypeFont:
    for path in FONTS[kind]:
        if path.exists():
            return ImageFont.truetype(str(path), size)
    raise AssertionError("no font: run scripts/system-deps.sh")


def poster(text: str, kind: str, size: tuple[int, int] = (900, 300)) -> Image.Image:
    img = Image.new("RGB", size, (245, 240, 230))
    d = ImageDraw.Draw(img)
    d.text((40, 110), text, font=_font(kind, 42), fill=(20, 20, 40))
    return img


def cer(truth: str, hyp: str) -> float:
    return Levenshtein.distance(" ".join(truth.split()), " ".join(hyp.split())) / len(truth)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OcrEngine]:
    eng = OcrEngine(cache_dir=tmp_path_factory.mktemp("cache"), workers=2)
    yield eng
    eng.close()


def test_reads_posters_in_five_languages(engine: OcrEngine, tmp_path: Path) -> None:
    paths = {}
    for lang, (text, kind) in POSTERS.items():
        paths[lang] = tmp_path / f"{lang}.png"
        poster(text, kind).save(paths[lang])
    results = engine.read_images(list(paths.values()))
    for lang, (text, _kind) in POSTERS.items():
        res = results[paths[lang]]
        assert res is not None, lang
        assert cer(text, res.text) < 0.08, (lang, res.text)
        assert res.lines and res.lines[0].confidence > 50
        x0, y0, x1, y1 = res.lines[0].box
        assert 20 <= x0 < x1 <= 900 and 80 <= y0 < y1 <= 200
        # one recognition with the script's own data (the script-finding pass is not a recognition kept)
        assert res.languages == (ocr_mod._reader(engine.tessdata).pack_for(SCRIPT[lang]),), lang
    pool = engine._pool
    assert pool is not None
    engine.read_images([tmp_path / "tg.png", tmp_path / "ru.png"])  # cached: no new pool either
    assert engine._pool is pool and engine.stats["cache_hits"] == 2


def test_script_is_found_without_osd_on_a_large_image(tmp_path: Path) -> None:
    """The script-finding pass reads a downscaled copy; a big Arabic-script image still gets Arabic data."""
    big = poster(POSTERS["fa"][0], "arabic", size=(1800, 600))
    reader = ocr_mod._reader(ocr_mod.tessdata_dir())  # type: ignore[arg-type]
    assert reader.detect_script(big.convert("L")) == "Arabic"
    assert reader.detect_script(poster(POSTERS["tg"][0], "latin").convert("L")) == "Cyrillic"
    assert reader.detect_script(Image.new("L", (900, 300), 255)) is None


def test_jpeg_text_test_on_reduced_decode_then_full_read(tmp_path: Path) -> None:
    """JPEGs are tested on a draft (reduced-size) decode; a poster is then read at full size."""
    text = tmp_path / "poster.jpg"
    poster(*POSTERS["ru"], size=(1800, 600)).save(text, quality=85)
    rng = np.random.default_rng(5)
    arr = np.clip(rng.normal(120, 25, (45, 60, 3)), 0, 255).astype(np.uint8)
    blank = tmp_path / "photo.jpg"
    Image.fromarray(arr).resize((2400, 1800), Image.Resampling.BICUBIC).save(blank, quality=85)
    with OcrEngine(workers=1) as eng:
        assert eng.read_image(blank) is None
        res = eng.read_image(text)
    assert res is not None and cer(POSTERS["ru"][0], res.text) < 0.08, res


def test_text_free_image_is_skipped_and_cache_hits(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    arr = np.clip(rng.normal(128, 20, (60, 80, 3)), 0, 255).astype(np.uint8)
    blank = tmp_path / "photo.png"
    Image.fromarray(arr).resize((800, 600), Image.Resampling.BICUBIC).save(blank)
    assert not has_text(blank)
    text = tmp_path / "text.png"
    poster(*POSTERS["ru"]).save(text)
    with OcrEngine(cache_dir=tmp_path / "c", workers=1) as eng:
        assert eng.read_image(blank) is None
        assert eng.stats["skipped_no_text"] == 1
        first = eng.read_image(text)
        assert first is not None and eng.stats["ocr_runs"] == 1
    # a new engine on the same cache: the second read never reaches Tesseract
    calls = ocr_mod._reader(ocr_mod.tessdata_dir()).calls  # type: ignore[arg-type]
    copy = tmp_path / "same-bytes-other-name.png"
    copy.write_bytes(text.read_bytes())
    with OcrEngine(cache_dir=tmp_path / "c", workers=1) as eng:
        again = eng.read_images([copy, blank])
    assert again[copy] == first and again[blank] is None
    assert ocr_mod._reader(ocr_mod.tessdata_dir()).calls == calls  # type: ignore[arg-type]


def test_bad_and_huge_images_become_problems(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    big = tmp_path / "big.png"
    Image.new("L", (3000, 2000), 255).save(big)
    with OcrEngine(workers=1, max_pixels=1_000_000) as eng:
        out = eng.read_images([bad, big, tmp_path / "missing.png"])
        assert all(v is None for v in out.values())
        messages = [str(p) for p in eng.problems]
    assert len(messages) == 3
    joined = "\n".join(sorted(messages))
    assert "bad.jpg: not a readable image" in joined and "big.png: image is 3000x2000" in joined
    assert "over the 1000000 limit" in joined and "missing.png: cannot read file" in joined


def test_ocr_absent_is_one_line_and_no_crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSBON_TESSDATA", str(tmp_path / "no-tessdata"))
    why = ocr_available()
    assert why is not None and "\n" not in why and "scanning without OCR" in why
    with pytest.raises(OcrUnavailable) as exc:
        OcrEngine()
    assert str(exc.value) == why


def _caption_video(path: Path) -> None:
    captions = ["Lantern festival tonight", "Poetry by the river"]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        for k, caption in enumerate(captions):
            img = Image.new("RGB", (640, 360), (40 + 120 * k, 60, 90))
            d = ImageDraw.Draw(img)
            d.rectangle((20, 250, 620, 320), fill=(250, 250, 250))
            d.text((40, 258), caption, font=_font("latin", 40), fill=(0, 0, 0))
            for _ in range(15):  # 1.5 s per scene
                for packet in stream.encode(av.VideoFrame.from_image(img)):
                    out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def test_video_keyframes_carry_captions(tmp_path: Path) -> None:
    video = tmp_path / "clip.mp4"
    _caption_video(video)
    frames, note = keyframes(video)
    assert note is None and len(frames) == 2
    texts = []
    for i, frame in enumerate(frames):
        p = tmp_path / f"k{i}.png"
        frame.save(p)
        with OcrEngine(workers=1) as eng:
            res = eng.read_image(p)
        texts.append(res.text if res else "")
    assert "festival" in texts[0].lower() and "river" in texts[1].lower()
    cut, note = keyframes(video, max_frames=1)
    assert len(cut) == 1 and note is not None and "\n" not in note
    short, note = keyframes(video, max_seconds=1.0)
    assert len(short) == 1 and note is not None and "first 1 s" in note
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(io.BytesIO(b"\x00" * 100).getvalue())
    frames, note = keyframes(junk)
    assert frames == [] and note is not None


def test_tessdata_without_first_pass_data_is_one_line(tmp_path: Path) -> None:
    data = tmp_path / "tessdata"
    data.mkdir()
    (data / "osd.traineddata").write_bytes(b"")  # OSD alone is no longer enough
    why = ocr_available(data)
    assert why is not None and "\n" not in why and "rus+eng+ara" in why
