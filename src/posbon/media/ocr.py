"""Text inside images: Tesseract OCR through tesserocr, fast on feeds where most images carry no text.

For each image: sha256 of its bytes -> cache (SQLite in cache_dir) -> cheap text test (textfind, on a
480-px grey thumbnail; a JPEG is decoded at reduced size for it) -> script detection (a quick `rus+eng+ara`
pass on a 600-px copy whose letters name the script) -> one recognition at full size with that script's
language data (script-level models `Cyrillic`, `Arabic`, `Latin` when packaged, else the region's specific
packs), never all ten languages at once. Tesseract's OSD is not used: it named the wrong script or none for
13 of the 32 bench posters and cost more than the quick pass (docs/ocr.md).
Many images are spread over a process pool started once per engine, one Tesseract per process with
OMP_THREAD_LIMIT=1 (Tesseract's own OpenMP threads oversubscribe the cores and make it several times
slower); the cheap test runs in the workers too, and each image is handed over as soon as it is hashed.

Why tesserocr over pytesseract: see docs/ocr.md (it keeps models loaded in the process instead of starting
a `tesseract` process that reloads them for every image).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
import unicodedata
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from posbon.domain import Problem
from posbon.media.textfind import has_text

PIPELINE_VERSION = "2"  # bump when the reading pipeline changes: old cache entries are then ignored
TESSDATA_ENV = "POSBON_TESSDATA"  # points at a tessdata folder; a missing folder disables OCR
MAX_OCR_SIDE = 3000  # larger images are scaled down before recognition (boxes are scaled back)
MIN_LINE_CONFIDENCE = 30.0  # lines below this are background noise read as letters, not text
# tesserocr hands in-memory images over without a resolution and Tesseract then misreads some of them
# (measured: mean CER 0.27 -> 0.14 on the bench posters once a resolution is set)
SOURCE_DPI = 300
FIRST_PASS = "rus+eng+ara"  # one small model per script: its letters name the script
FIRST_PASS_SIDE = 600  # the script-finding pass reads a copy this size (long side), not the full image
# Per script: language data to use, best first; the first whose files are all present is taken.
SCRIPT_PACKS: dict[str, tuple[str, ...]] = {
    "Cyrillic": ("Cyrillic", "tgk+rus+uzb_cyrl+kaz+kir", "rus"),
    "Arabic": ("Arabic", "fas+pus+ara", "ara"),
    "Latin": ("Latin", "uzb+eng", "eng"),
}
# ISO-ish codes posbon uses -> Tesseract language data
_LANG_FOR_CODE = {
    "tg": "tgk",
    "uz_latn": "uzb",
    "uz_cyrl": "uzb_cyrl",
    "ru": "rus",
    "fa": "fas",
    "ps": "pus",
    "ar": "ara",
    "en": "eng",
    "kk": "kaz",
    "ky": "kir",
}
_TESSDATA_GUESSES = (
    "/usr/share/tesseract-ocr/5/tessdata",
    "/usr/share/tesseract-ocr/4.00/tessdata",
    "/usr/share/tessdata",
    "/usr/local/share/tessdata",
    "/opt/homebrew/share/tessdata",
)


@dataclass(frozen=True)
class OcrLine:
    text: str
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in the original image's pixels
    confidence: float  # 0..100


@dataclass(frozen=True)
class OcrResult:
    text: str
    lines: tuple[OcrLine, ...]
    languages: tuple[str, ...]  # Tesseract language data used, e.g. ("Cyrillic",)
    seconds: float

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, data: str) -> OcrResult:
        d = json.loads(data)
        lines = tuple(OcrLine(ln["text"], tuple(ln["box"]), float(ln["confidence"])) for ln in d["lines"])
        return cls(d["text"], lines, tuple(d["languages"]), float(d["seconds"]))


class OcrUnavailable(Exception):
    """OCR cannot run here; str(exc) is one line saying why and what to do."""


class ImageUnreadable(ValueError):
    """The file is not an image we can read (or is too large); str(exc) is one line."""


def tessdata_dir() -> Path | None:
    """Where Tesseract's language data is: $POSBON_TESSDATA, $TESSDATA_PREFIX, or the usual places."""
    for env in (TESSDATA_ENV, "TESSDATA_PREFIX"):
        value = os.environ.get(env)
        if value:
            p = Path(value)
            return p if any(p.glob("*.traineddata")) else None
    for guess in _TESSDATA_GUESSES:
        p = Path(guess)
        if any(p.glob("*.traineddata")):
            return p
    return None


def ocr_available(tessdata: Path | None = None) -> str | None:
    """None when OCR can run; otherwise one line saying why not and how to fix it."""
    try:
        import tesserocr  # noqa: F401
    except ImportError:
        return "OCR binding tesserocr is not installed: pip install tesserocr; scanning without OCR"
    data = tessdata if tessdata is not None else tessdata_dir()
    if data is None or not any(Path(data).glob("*.traineddata")):
        where = f" in {data}" if data is not None else ""
        return (
            f"Tesseract language data not found{where}: run scripts/system-deps.sh "
            "(apt-get install tesseract-ocr tesseract-ocr-rus ...); scanning without OCR"
        )
    if first_pass_langs(Path(data)) is None:
        return (
            f"Tesseract in {data} has none of {FIRST_PASS} data: run scripts/system-deps.sh; "
            "scanning without OCR"
        )
    return None


def _have(data: Path, langs: str) -> bool:
    return all((data / f"{lang}.traineddata").exists() for lang in langs.split("+"))


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ------------------------------------------------------------------ one process's Tesseract


class _Reader:
    """Tesseract APIs loaded once per process and per language set, then reused (Init costs 0.1-0.9 s)."""

    def __init__(self, data: Path) -> None:
        os.environ["OMP_THREAD_LIMIT"] = "1"  # before libtesseract starts its OpenMP runtime
        import tesserocr

        self._tesserocr = tesserocr
        self.data = data
        self._apis: dict[str, Any] = {}
        self.calls = 0  # recognitions run (tests count these)
        self.first_pass = first_pass_langs(data)

    def api(self, lang: str) -> Any:
        api = self._apis.get(lang)
        if api is None:
            t = self._tesserocr
            api = t.PyTessBaseAPI(path=str(self.data), lang=lang, psm=t.PSM.AUTO)
            self._apis[lang] = api
        return api

    def pack_for(self, script: str) -> str | None:
        for pack in SCRIPT_PACKS.get(script, ()):
            if _have(self.data, pack):
                return pack
        return None

    def detect_script(self, grey: Image.Image) -> str | None:
        """The script of the text in `grey`, from a quick first pass with one small model per script.

        Run on a copy scaled to FIRST_PASS_SIDE (about a third cheaper than full size); when that copy reads
        as nothing, once more at full size. Tesseract's OSD was dropped: on the bench it named the right
        script for 19/32 posters (never for Arabic script; a Tajik poster as Arabic) at the cost of a
        full-size pass; this: 30/32, the two misses being noise posters that no pass reads.
        """
        if self.first_pass is None:
            return None
        scale = FIRST_PASS_SIDE / max(grey.size)
        if scale < 0.9:
            small = grey.resize(
                (max(1, round(grey.width * scale)), max(1, round(grey.height * scale))),
                Image.Resampling.BILINEAR,
            )
            script = script_of(self._text(small, self.first_pass, dpi=round(SOURCE_DPI * scale)))
            if script is not None:
                return script
        return script_of(self._text(grey, self.first_pass, dpi=SOURCE_DPI))

    def _text(self, grey: Image.Image, lang: str, *, dpi: int) -> str:
        api = self.api(lang)
        api.SetImage(grey)
        api.SetSourceResolution(dpi)
        self.calls += 1
        return str(api.GetUTF8Text() or "")

    def recognise(self, grey: Image.Image, lang: str, scale: float) -> list[OcrLine]:
        t = self._tesserocr
        api = self.api(lang)
        api.SetImage(grey)
        api.SetSourceResolution(SOURCE_DPI)
        api.Recognize()
        self.calls += 1
        # Text comes from GetUTF8Text (logical order; the line iterator garbles right-to-left lines), boxes
        # and confidences from the line iterator; both list the lines in the same reading order.
        texts = [ln.strip() for ln in (api.GetUTF8Text() or "").splitlines() if ln.strip()]
        boxes: list[tuple[tuple[int, int, int, int], float]] = []
        it = api.GetIterator()
        if it is not None:
            for r in t.iterate_level(it, t.RIL.TEXTLINE):
                try:
                    if not (r.GetUTF8Text(t.RIL.TEXTLINE) or "").strip():
                        continue
                    box = r.BoundingBox(t.RIL.TEXTLINE)
                except RuntimeError:  # tesserocr raises for an empty line
                    continue
                if box is not None:
                    boxes.append((box, float(r.Confidence(t.RIL.TEXTLINE))))
        whole = (0, 0, grey.width, grey.height)
        lines: list[OcrLine] = []
        for i, text in enumerate(texts):
            box, conf = boxes[i] if len(boxes) == len(texts) else (whole, float(api.MeanTextConf()))
            if conf < MIN_LINE_CONFIDENCE or not any(ch.isalnum() for ch in text):
                continue
            x0, y0, x1, y1 = (round(v / scale) for v in box)
            lines.append(OcrLine(text, (x0, y0, x1, y1), round(conf, 1)))
        return lines

    def read(self, path: Path, max_pixels: int, *, check_text: bool = True) -> OcrResult | None:
        t0 = time.perf_counter()
        if check_text and _is_jpeg(path):
            # JPEG: the test decodes at reduced size (draft); the full decode only for images with text
            if not has_text(_checked_path(path, max_pixels)):
                return None
            check_text = False
        grey, scale = _load_grey(path, max_pixels)
        if check_text and not has_text(grey):  # the one full decode serves the test and the OCR
            return None
        script = self.detect_script(grey)
        pack = self.pack_for(script) if script else None
        used: list[str] = []
        lines: list[OcrLine] = []
        if pack is not None:
            lines = self.recognise(grey, pack, scale)
            used.append(pack)
        text = "\n".join(ln.text for ln in lines)
        return OcrResult(text, tuple(lines), tuple(used), round(time.perf_counter() - t0, 4))


def first_pass_langs(data: Path) -> str | None:
    """The script-finding pass's language data: FIRST_PASS, or those of its packs that are installed."""
    have = [lang for lang in FIRST_PASS.split("+") if _have(data, lang)]
    return "+".join(have) if have else None


def script_of(text: str) -> str | None:
    """The script most letters of `text` are in: "Cyrillic", "Arabic", "Latin", or None."""
    counts = {"Cyrillic": 0, "Arabic": 0, "Latin": 0}
    for ch in text:
        if ch.isalpha():
            name = unicodedata.name(ch, "")
            for script in counts:
                if name.startswith(script.upper()):
                    counts[script] += 1
    best = max(counts, key=lambda s: counts[s])
    return best if counts[best] else None


def _is_jpeg(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(3) == b"\xff\xd8\xff"
    except OSError:
        return False  # _load_grey reports it


def _checked_path(path: Path, max_pixels: int) -> Path:
    """`path` when it opens as an image within `max_pixels`; else ImageUnreadable (one line)."""
    try:
        with Image.open(path) as img:
            w, h = img.size
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError) as exc:
        raise ImageUnreadable(f"{path.name}: not a readable image ({exc.__class__.__name__})") from None
    if w * h > max_pixels:
        raise ImageUnreadable(f"{path.name}: image is {w}x{h} pixels, over the {max_pixels} limit; not read")
    return path


def _load_grey(path: Path, max_pixels: int) -> tuple[Image.Image, float]:
    try:
        with Image.open(path) as img:
            w, h = img.size
            if w * h > max_pixels:
                raise ImageUnreadable(
                    f"{path.name}: image is {w}x{h} pixels, over the {max_pixels} limit; not read"
                )
            img.seek(0)  # first frame of a GIF/multi-page TIFF
            if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
                # transparent areas become white, as a viewer shows them
                rgba = img.convert("RGBA")
                flat = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                flat.alpha_composite(rgba)
                grey = flat.convert("L")
            else:
                grey = img.convert("L")
    except ImageUnreadable:
        raise
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError) as exc:
        raise ImageUnreadable(f"{path.name}: not a readable image ({exc.__class__.__name__})") from None
    scale = 1.0
    if max(grey.size) > MAX_OCR_SIDE:
        scale = MAX_OCR_SIDE / max(grey.size)
        grey = grey.resize((round(grey.width * scale), round(grey.height * scale)), Image.Resampling.LANCZOS)
    return grey, scale


_READERS: dict[str, _Reader] = {}  # per process: loaded models, keyed by tessdata path
_READERS_LOCK = threading.Lock()


def _reader(data: Path) -> _Reader:
    with _READERS_LOCK:
        r = _READERS.get(str(data))
        if r is None:
            r = _READERS[str(data)] = _Reader(data)
        return r


def _worker_init() -> None:
    os.environ["OMP_THREAD_LIMIT"] = "1"


def _read_in_worker(path: str, data: str, max_pixels: int) -> tuple[str, str | None]:
    """Runs in a pool process: ("ok", json or None) or ("error", one-line message)."""
    try:
        res = _reader(Path(data)).read(Path(path), max_pixels)
    except ImageUnreadable as exc:
        return "error", str(exc)
    except RuntimeError as exc:  # Tesseract failed on this image: report it, keep going
        return "error", f"{Path(path).name}: OCR failed ({exc})"
    return "ok", res.to_json() if res is not None else None


# ------------------------------------------------------------------ the engine


class OcrEngine:
    """Reads text in images. Results are cached by content hash in `cache_dir` (when given).

    `read_image` raises ImageUnreadable for a file that is not a readable image; `read_images` maps such
    files to None and lists them in `problems` (one `Problem` per file, reset on each call).
    `stats` counts cache hits, images skipped by the cheap text test, and images OCR'd.
    """

    def __init__(
        self,
        *,
        cache_dir: Path | None = None,
        max_pixels: int = 40_000_000,
        tessdata: Path | None = None,
        workers: int | None = None,
    ) -> None:
        data = tessdata if tessdata is not None else tessdata_dir()
        why = ocr_available(data)
        if why is not None or data is None:
            raise OcrUnavailable(why or "Tesseract language data not found; scanning without OCR")
        self.tessdata = Path(data)
        self.max_pixels = max_pixels
        self.workers = max(1, workers if workers is not None else (os.cpu_count() or 1))
        self.problems: list[Problem] = []
        self.stats = {"cache_hits": 0, "skipped_no_text": 0, "ocr_runs": 0}
        self._pool: ProcessPoolExecutor | None = None
        self._db: sqlite3.Connection | None = None
        if cache_dir is not None:
            cache_dir.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(cache_dir / "ocr-cache.sqlite3")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS ocr (key TEXT PRIMARY KEY, result TEXT)"
            )  # result: OcrResult JSON, or NULL for "no text"
            self._db.commit()

    # -- cache
    def _key(self, digest: str) -> str:
        return f"{digest}:{PIPELINE_VERSION}:{self.tessdata}"

    def _cached(self, digest: str) -> tuple[bool, OcrResult | None]:
        if self._db is None:
            return False, None
        row = self._db.execute("SELECT result FROM ocr WHERE key = ?", (self._key(digest),)).fetchone()
        if row is None:
            return False, None
        self.stats["cache_hits"] += 1
        return True, OcrResult.from_json(row[0]) if row[0] is not None else None

    def _store(self, digest: str, result: OcrResult | None) -> None:
        self._store_many([(digest, result)])

    def _store_many(self, results: Sequence[tuple[str, OcrResult | None]]) -> None:
        if self._db is None or not results:
            return
        with self._db:  # one transaction: one disk sync for the whole batch
            self._db.executemany(
                "INSERT OR REPLACE INTO ocr (key, result) VALUES (?, ?)",
                [(self._key(d), r.to_json() if r is not None else None) for d, r in results],
            )

    def _count(self, result: OcrResult | None) -> None:
        self.stats["skipped_no_text" if result is None else "ocr_runs"] += 1

    # -- reading
    def read_image(self, path: Path) -> OcrResult | None:
        """Text in one image, or None when the cheap test finds no text. In this process."""
        try:
            digest = sha256_file(path)
        except OSError as exc:
            raise ImageUnreadable(f"{path.name}: cannot read file ({exc.strerror or exc})") from None
        hit, cached = self._cached(digest)
        if hit:
            return cached
        result = _reader(self.tessdata).read(path, self.max_pixels)
        self._count(result)
        self._store(digest, result)
        return result

    def read_images(self, paths: Sequence[Path]) -> dict[Path, OcrResult | None]:
        """Text in many images, in parallel across cores; identical files are read once.

        Each new image is handed to the pool as soon as its hash is known, so hashing overlaps reading;
        results are written to the cache in one transaction at the end.
        """
        self.problems = []
        out: dict[Path, OcrResult | None] = {}
        todo: dict[str, list[Path]] = {}
        pending: dict[str, Future[tuple[str, str | None]]] = {}
        pool = self._pool_for(len(paths))
        for p in paths:
            try:
                digest = sha256_file(p)
            except OSError as exc:
                self.problems.append(Problem(str(p), None, f"cannot read file ({exc.strerror or exc})"))
                out[p] = None
                continue
            if digest in todo:
                todo[digest].append(p)
                continue
            hit, cached = self._cached(digest)
            if hit:
                out[p] = cached
                continue
            todo[digest] = [p]
            if pool is not None:
                pending[digest] = pool.submit(_read_in_worker, str(p), str(self.tessdata), self.max_pixels)
        fresh: list[tuple[str, OcrResult | None]] = []
        for digest, group in todo.items():
            future = pending.get(digest)
            status, payload = (
                future.result()
                if future is not None
                else _read_in_worker(str(group[0]), str(self.tessdata), self.max_pixels)
            )
            if status == "error":
                self.problems.append(Problem(str(group[0]), None, payload or "unreadable image"))
                result = None
            else:
                result = OcrResult.from_json(payload) if payload is not None else None
                self._count(result)
                fresh.append((digest, result))
            for p in group:
                out[p] = result
        self._store_many(fresh)
        return {p: out[p] for p in paths}

    def _pool_for(self, n_paths: int) -> ProcessPoolExecutor | None:
        """The engine's one process pool (started on first use, kept until close), or None for in-process."""
        if n_paths <= 1 or self.workers == 1:
            return None
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.workers, initializer=_worker_init)
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> OcrEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = [
    "ImageUnreadable",
    "OcrEngine",
    "OcrLine",
    "OcrResult",
    "OcrUnavailable",
    "ocr_available",
    "script_of",
    "sha256_file",
    "tessdata_dir",
]
