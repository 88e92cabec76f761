"""Regenerate posbon's demo data: benign stand-ins for "known content" and a demo Telegram channel export.

Everything written here is fictional and harmless: "Lantern Signal Media" is an invented outlet that invites
people to the closed planning chat of an invented hiking-and-poetry club. The texts only have the *shape* of
a recruitment post (announcement, call to join a closed group, invite link, signature, hashtags) so posbon's
demo can show matching on them. Images are drawn with Pillow; nothing is downloaded.

Run (deterministic, fixed seed):

    python src/posbon/demo/make_data.py            # rewrites src/posbon/demo/data/
    python src/posbon/demo/make_data.py --out DIR  # writes somewhere else

This module is a build-time script: posbon never imports it at run time (bench/gen_posts.py reuses its
alteration helpers).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import math
import random
import re
import shutil
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

SEED = 20261001
DATA_DIR = Path(__file__).resolve().parent / "data"
CHANNEL_NAME = "Vodiy Yangiliklari demo"
CHANNEL_ID = 1234567890
CHANNEL_FROM_ID = f"channel{CHANNEL_ID}"
OUTLET = "Lantern Signal Media"
BANKED_INVITE_URL = "https://t.me/+AbCdEfGhIjKlMnOp"
BANKED_DOMAIN = "lantern-signal.example"
# Telegram Desktop writes local time in "date" and UTC seconds in "date_unixtime"; the demo channel is in
# Tashkent/Dushanbe time (UTC+5).
LOCAL_TZ = timezone(timedelta(hours=5))
MISSING_FILE = "(File not included. Change data exporting settings to download.)"
POSTER_SIZE = 320

# ---------------------------------------------------------------------------------------------------------
# The banked stand-in texts (written for posbon; fictional outlet, fictional club, harmless activity).
# ---------------------------------------------------------------------------------------------------------

SIGNATURE = "— Lantern Signal Media | @lantern_signal_demo"

BANK_TEXTS: dict[str, str] = {
    "lantern_signal_tg": (
        "ЭЪЛОН аз Lantern Signal Media\n\n"
        "Маҳфили «Байти кӯҳӣ» мавсими зимистонаро оғоз мекунад. Ҳар ҷумъа бегоҳӣ мо аз пайраҳаи кӯҳна "
        "болои дарё мебароем, назди пули сеюм меистем ва дар рӯшноии фонусҳо шеър мехонем. Ҳар қадам — "
        "як мисраъ. Пойафзоли гарм, термоси чой ва як шеъри дӯстдоштаатонро гиред; харита ва фонусҳоро мо "
        "меорем.\n\n"
        "Ҷойҳо дар маҳфил маҳдуданд, бинобар ин чати омодагӣ пӯшида аст. Барои ҳамроҳ шудан тавассути "
        "пайванди даъват дар бораи шоири дӯстдоштаатон мактуби кӯтоҳ фиристед ва интизор шавед, ки яке аз "
        "ихтиёриён шуморо илова кунад.\n\n"
        "Ба чати пӯшида ҳамроҳ шавед: https://t.me/+LsTgKh3mRb6yTe9w\n\n"
        "Якҷо роҳ меравем, якҷо мехонем.\n"
        f"{SIGNATURE}\n"
        "#БайтиКӯҳӣ #LanternSignal"
    ),
    "lantern_signal_ru": (
        "ОБЪЯВЛЕНИЕ от Lantern Signal Media\n\n"
        "Клуб «Горная строфа» открывает зимний сезон. Каждую пятницу вечером мы поднимаемся по старой тропе "
        "над рекой, останавливаемся у третьего моста и читаем стихи вслух при свете фонарей. Возьмите тёплую "
        "обувь, термос с чаем и одно любимое стихотворение — карты и фонари мы принесём сами.\n\n"
        "Мест в клубе немного, поэтому чат для подготовки походов закрытый. Чтобы вступить, отправьте по "
        "ссылке-приглашению короткую записку о любимом поэте и дождитесь, пока кто-то из волонтёров вас "
        "добавит.\n\n"
        "Вступить в закрытый чат: https://t.me/+LsRuGs4pXc8vNq2m\n\n"
        "Идём вместе, читаем вместе.\n"
        f"{SIGNATURE}\n"
        "#ГорнаяСтрофа #LanternSignal"
    ),
    "lantern_signal_uz_latn": (
        "E’LON: Lantern Signal Media xabari\n\n"
        "“Tog‘ misralari” to‘garagi qishki mavsumni boshlaydi. Har juma kechqurun daryo ustidagi eski "
        "so‘qmoqdan yuqoriga chiqamiz, uchinchi ko‘prik yonida to‘xtaymiz va fonuslar yorug‘ida she’r "
        "o‘qiymiz. Issiq poyabzal, choyli termos va o‘zingiz sevgan bitta she’rni olib keling; xarita va "
        "fonuslarni biz olib kelamiz.\n\n"
        "To‘garakda o‘rinlar cheklangan, shuning uchun tayyorgarlik chati yopiq. Qo‘shilish uchun taklif "
        "havolasi orqali sevimli shoiringiz haqida qisqa xat yuboring va ko‘ngillilardan biri sizni "
        "qo‘shishini kuting.\n\n"
        "Yopiq chatga qo‘shiling: https://t.me/+LsUzLt5kWd2hBn7r\n\n"
        "Birga yuramiz, birga o‘qiymiz.\n"
        f"{SIGNATURE}\n"
        "#TogMisralari #LanternSignal"
    ),
    "lantern_signal_uz_cyrl": (
        "ЭЪЛОН: Lantern Signal Media хабари\n\n"
        "«Тоғ мисралари» тўгараги қишки мавсумни бошлайди. Ҳар жума кечқурун дарё устидаги эски сўқмоқдан "
        "юқорига чиқамиз, учинчи кўприк ёнида тўхтаймиз ва фонуслар ёруғида шеър ўқиймиз. Иссиқ пойабзал, "
        "чойли термос ва ўзингиз севган битта шеърни олиб келинг; харита ва фонусларни биз олиб келамиз.\n\n"
        "Тўгаракда ўринлар чекланган, шунинг учун тайёргарлик чати ёпиқ. Қўшилиш учун таклиф ҳаволаси "
        "орқали севимли шоирингиз ҳақида қисқа хат юборинг ва кўнгиллилардан бири сизни қўшишини кутинг.\n\n"
        "Ёпиқ чатга қўшилинг: https://t.me/+LsUzKr8nTf4jMc3s\n\n"
        "Бирга юрамиз, бирга ўқиймиз.\n"
        f"{SIGNATURE}\n"
        "#ТоғМисралари #LanternSignal"
    ),
    "lantern_signal_fa": (
        "اطلاعیه از Lantern Signal Media\n\n"
        "حلقهٔ «شعر کوهستان» فصل زمستانی خود را آغاز می‌کند. هر جمعه عصر از کوره‌راه قدیمی بالای رودخانه "
        "بالا می‌رویم، کنار پل سوم می‌ایستیم و در روشنایی فانوس‌ها شعر می‌خوانیم. کفش گرم، فلاسک چای و "
        "یک شعر که دوستش دارید با خود بیاورید؛ نقشه و فانوس‌ها با ما.\n\n"
        "جای حلقه محدود است، برای همین گروه هماهنگی بسته است. برای پیوستن، از راه پیوند دعوت یادداشت "
        "کوتاهی دربارهٔ شاعر محبوبتان بفرستید و منتظر بمانید تا یکی از داوطلبان شما را اضافه کند.\n\n"
        "پیوستن به گروه بسته: https://t.me/+LsFaSh6vYp1gKd8t\n\n"
        "با هم راه می‌رویم، با هم می‌خوانیم.\n"
        f"{SIGNATURE}\n"
        "#شعر_کوهستان #LanternSignal"
    ),
    "lantern_signal_ps": (
        "خبرتیا له Lantern Signal Media څخه\n\n"
        "د «غرنۍ شعر» حلقه خپل ژمنی فصل پیلوي. هره جمعه ماښام د سیند پر سر زاړه لاره پورته ځو، د دریم پل "
        "تر څنګ درېږو او د څراغونو په رڼا کې شعرونه لولو. ګرم بوټونه، د چای ترموس او یو شعر چې خوښ مو وي "
        "له ځانه سره راوړئ؛ نقشې او څراغونه موږ راوړو.\n\n"
        "په حلقه کې ځایونه محدود دي، نو د چمتووالي ګروپ تړلی دی. د ګډون لپاره د بلنې لینک له لارې د خپل "
        "خوښ شاعر په اړه لنډ یادښت ولیږئ او انتظار وکړئ چې یو رضاکار مو ور اضافه کړي.\n\n"
        "تړلي ګروپ سره یوځای شئ: https://t.me/+LsPsGh2cZm5wQy4u\n\n"
        "یوځای ځو، یوځای لولو.\n"
        f"{SIGNATURE}\n"
        "#غرنۍ_شعر #LanternSignal"
    ),
    "lantern_signal_ar": (
        "إعلان من Lantern Signal Media\n\n"
        "تفتتح حلقة «قصيدة الجبل» موسمها الشتوي. كل يوم جمعة مساءً نصعد الدرب القديم فوق النهر، ونتوقف "
        "عند الجسر الثالث، ونقرأ الشعر بصوت عالٍ على ضوء الفوانيس. أحضروا أحذية دافئة وترمس شاي وقصيدة "
        "واحدة تحبونها؛ أما الخرائط والفوانيس فعلينا.\n\n"
        "الأماكن في الحلقة محدودة، لذلك مجموعة التنسيق مغلقة. للانضمام أرسلوا عبر رابط الدعوة رسالة قصيرة "
        "عن شاعركم المفضل وانتظروا حتى يضيفكم أحد المتطوعين.\n\n"
        "انضموا إلى المجموعة المغلقة: https://t.me/+LsArQs9hVe3nLx6y\n\n"
        "نمشي معاً ونقرأ معاً.\n"
        f"{SIGNATURE}\n"
        "#قصيدة_الجبل #LanternSignal"
    ),
    "lantern_signal_en": (
        "ANNOUNCEMENT from Lantern Signal Media\n\n"
        "The Highland Verse Circle opens its winter season. Every Friday evening we walk the old trail above "
        "the river, stop at the third bridge and read poems aloud by lantern light. Bring warm boots, a "
        "thermos of tea and one poem you love; we bring the maps and the lanterns.\n\n"
        "Places in the circle are limited, so the planning chat is closed. To join, send a short note about "
        "your favourite poet through the invite link below and wait for one of our volunteers to add you.\n\n"
        "Join the closed chat: https://t.me/+LsEnHv7aQ2kPzW1x\n\n"
        "Walk together, read together.\n"
        f"{SIGNATURE}\n"
        "#HighlandVerse #LanternSignal #PoetryWalks"
    ),
}

# ---------------------------------------------------------------------------------------------------------
# Alterations: the small edits re-posters make so that exact matching fails.
# ---------------------------------------------------------------------------------------------------------

ZWSP = "\u200b"
TATWEEL = "\u0640"
LEGACY_TAJIK = str.maketrans("ғӣқӯҳҷҒӢҚӮҲҶ", "ѓїќўњљЃЇЌЎЊЉ")
CYRILLIC_TO_LATIN_LOOKALIKE = {
    "а": "a",
    "е": "e",
    "о": "o",
    "р": "p",
    "с": "c",
    "х": "x",
    "А": "A",
    "Е": "E",
    "О": "O",
    "Р": "P",
    "С": "C",
    "Х": "X",
}
PERSIAN_TO_ARABIC = str.maketrans("یک", "يك")
EMOJI = ("🔥", "🌄", "📢", "✨", "🏔", "📜", "🙌", "💬")
# Arabic-script letters that join to the following letter, so a tatweel after them stays inside the word.
_JOINING = set("بپتثجچحخسشصضطظعغفقکكگلمنهیيئ")


def to_legacy_tajik(text: str) -> str:
    """Type Tajik's own letters with the look-alikes from other Cyrillic alphabets (ғ -> ѓ, ҳ -> њ ...)."""
    return text.translate(LEGACY_TAJIK)


def insert_zero_width(text: str, rng: random.Random, count: int = 12) -> str:
    """Insert U+200B at random positions inside words of prose (links, handles and hashtags keep working)."""
    chars = list(text)
    protected: set[int] = set()
    for m in re.finditer(r"(?:https?://|[@#])\S+", text):
        protected.update(range(m.start(), m.end() + 1))
    inner = [
        i
        for i in range(1, len(chars))
        if chars[i - 1].isalpha() and chars[i].isalpha() and i not in protected
    ]
    for i in sorted(rng.sample(inner, min(count, len(inner))), reverse=True):
        chars.insert(i, ZWSP)
    return "".join(chars)


def latin_lookalikes(text: str, rng: random.Random, rate: float = 0.35) -> str:
    """Swap some Cyrillic letters inside words for their Latin look-alikes (а -> a, р -> p ...).

    URLs, handles and hashtags are left alone so the swap only touches prose.
    """
    out: list[str] = []
    for token in re.split(r"(\s+)", text):
        if token.startswith(("http", "@", "#")):
            out.append(token)
            continue
        out.append(
            "".join(
                CYRILLIC_TO_LATIN_LOOKALIKE[c]
                if c in CYRILLIC_TO_LATIN_LOOKALIKE and rng.random() < rate
                else c
                for c in token
            )
        )
    return "".join(out)


def insert_emoji(text: str, rng: random.Random, count: int = 4) -> str:
    """Put emoji after some sentence ends and at the start."""
    parts = re.split(r"(?<=[.!?،؛])( )", text)
    ends = [i for i, p in enumerate(parts) if p == " "]
    for i in rng.sample(ends, min(count, len(ends))):
        parts[i] = f" {rng.choice(EMOJI)} "
    return f"{rng.choice(EMOJI)} " + "".join(parts)


def change_line_breaks(text: str) -> str:
    """Collapse paragraph breaks into single line breaks and put each sentence of prose on its own line."""
    text = re.sub(r"\n{2,}", "\n", text)
    return re.sub(r"(?<=[.!?]) (?=[A-ZА-ЯЁЎҚҒҲ«“])", "\n", text)


def arabic_variants(text: str, rng: random.Random, tatweel_rate: float = 0.15) -> str:
    """Write Persian ی/ک as Arabic ي/ك and stretch some words with tatweel (ـ)."""
    text = text.translate(PERSIAN_TO_ARABIC)
    out: list[str] = []
    for i, c in enumerate(text):
        out.append(c)
        nxt = text[i + 1] if i + 1 < len(text) else ""
        if c in _JOINING and nxt.isalpha() and "\u0600" <= nxt <= "\u06ff" and rng.random() < tatweel_rate:
            out.append(TATWEEL)
    return "".join(out)


def uzbek_apostrophes(text: str, mark: str = "'") -> str:
    """Type Uzbek o‘ g‘ and she’r with another apostrophe (ASCII ', ʻ U+02BB, or a backtick)."""
    return text.replace("‘", mark).replace("’", mark)


def add_channel_frame(text: str, signature: str, hashtags: Sequence[str]) -> str:
    """What a re-poster adds: a banner line, their own signature and hashtags."""
    return f"⚡️ Muhim / Важно ⚡️\n\n{text}\n\n{signature}\n{' '.join(hashtags)}"


# ---------------------------------------------------------------------------------------------------------
# Telegram export text: plain strings and entity dicts, built the way Telegram Desktop writes them.
# ---------------------------------------------------------------------------------------------------------

Fragment = str | tuple[str, ...]  # "plain text" or ("bold", text) / ("text_link", text, href)
_AUTO_ENTITY = re.compile(
    r"(https?://[^\s<>«»\"“”]+[^\s<>«»\"“”.,;:!?)])|(#[\w\u200b\u0640]+)|(@[A-Za-z]\w{3,})"
)


def _auto_entities(plain: str) -> list[dict[str, str]]:
    """Split plain text the way Telegram does: links, hashtags and mentions become entities."""
    out: list[dict[str, str]] = []
    pos = 0
    for m in _AUTO_ENTITY.finditer(plain):
        if m.start() > pos:
            out.append({"type": "plain", "text": plain[pos : m.start()]})
        kind = "link" if m.group(1) else "hashtag" if m.group(2) else "mention"
        out.append({"type": kind, "text": m.group(0)})
        pos = m.end()
    if pos < len(plain):
        out.append({"type": "plain", "text": plain[pos:]})
    return out


def telegram_text(fragments: Sequence[Fragment]) -> tuple[str | list[Any], list[dict[str, str]]]:
    """Return (text, text_entities) for a message: a plain string when there are no entities, else a list."""
    entities: list[dict[str, str]] = []
    for frag in fragments:
        if isinstance(frag, str):
            entities.extend(_auto_entities(frag))
        elif frag[0] == "text_link":
            entities.append({"type": "text_link", "text": frag[1], "href": frag[2]})
        else:
            entities.append({"type": frag[0], "text": frag[1]})
    merged: list[dict[str, str]] = []
    for ent in entities:
        if ent["type"] == "plain" and merged and merged[-1]["type"] == "plain":
            merged[-1] = {"type": "plain", "text": merged[-1]["text"] + ent["text"]}
        elif ent["text"]:
            merged.append(ent)
    if all(e["type"] == "plain" for e in merged):
        return "".join(e["text"] for e in merged), merged
    text: list[Any] = [e["text"] if e["type"] == "plain" else dict(e) for e in merged]
    return text, merged


# ---------------------------------------------------------------------------------------------------------
# Generated images.
# ---------------------------------------------------------------------------------------------------------


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Pillow's bundled font: the same on every machine, no system font needed.
    return ImageFont.load_default(size=size)


def _gradient(
    size: int, top: tuple[int, int, int], bottom: tuple[int, int, int], diagonal: bool
) -> Image.Image:
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    t = (xs + ys) / (2 * size - 2) if diagonal else ys / (size - 1)
    a, b = np.array(top, dtype=np.float64), np.array(bottom, dtype=np.float64)
    rgb = a + (b - a) * t[..., np.newaxis]
    return Image.fromarray(rgb.astype(np.uint8), "RGB")


def _label(draw: ImageDraw.ImageDraw, text: str, xy: tuple[int, int], size: int, fill: str) -> None:
    draw.text(xy, text, font=_font(size), fill=fill, anchor="mm", stroke_width=2, stroke_fill="black")


def draw_poster(number: int) -> Image.Image:
    """A stand-in "poster": gradient, shapes and a benign word. Designs 1-5 are deliberately unlike."""
    s = POSTER_SIZE
    if number == 1:  # dusk gradient, sun circles, mountain band
        img = _gradient(s, (20, 30, 90), (250, 170, 60), diagonal=False)
        d = ImageDraw.Draw(img)
        for r, col in ((90, "#ffd27f"), (60, "#ffb347"), (30, "#ff7f50")):
            d.ellipse((230 - r, 90 - r, 230 + r, 90 + r), fill=col)
        d.polygon([(0, 320), (90, 170), (170, 260), (250, 150), (320, 240), (320, 320)], fill="#2b2340")
        _label(d, "STAND-IN", (110, 40), 34, "white")
        _label(d, "POSTER 1", (110, 80), 34, "white")
    elif number == 2:  # diagonal teal gradient, stripes, triangles
        img = _gradient(s, (10, 110, 120), (220, 240, 200), diagonal=True)
        d = ImageDraw.Draw(img)
        for i in range(0, s, 40):
            d.rectangle((i, 0, i + 12, s), fill="#0b4f5c")
        for x in (60, 160, 260):
            d.polygon([(x - 45, 300), (x, 200), (x + 45, 300)], fill="#f2e8cf", outline="black")
        _label(d, "STAND-IN POSTER 2", (160, 110), 30, "#ffe66d")
    elif number == 3:  # dark background, concentric squares, bright bars
        img = _gradient(s, (60, 0, 60), (0, 0, 0), diagonal=False)
        d = ImageDraw.Draw(img)
        for i, col in enumerate(("#e63946", "#f1faee", "#a8dadc", "#457b9d", "#1d3557")):
            m = 20 + i * 28
            d.rectangle((m, m, s - m, s - m), outline=col, width=10)
        d.rectangle((0, 140, s, 180), fill="#f1faee")
        _label(d, "STAND-IN 3", (160, 160), 32, "#e63946")
    elif number == 4:  # green gradient, checker corner, star, lantern word
        img = _gradient(s, (30, 90, 30), (200, 230, 120), diagonal=True)
        d = ImageDraw.Draw(img)
        for cx in range(0, 160, 32):
            for cy in range(0, 160, 32):
                if (cx + cy) // 32 % 2 == 0:
                    d.rectangle((cx, cy, cx + 31, cy + 31), fill="#143d14")
        pts = []
        for k in range(10):
            r = 90 if k % 2 == 0 else 38
            a = math.pi / 2 + k * math.pi / 5
            pts.append((230 + r * math.cos(a), 220 - r * math.sin(a)))
        d.polygon(pts, fill="#fff3b0", outline="black")
        _label(d, "LANTERN", (100, 230), 30, "white")
        _label(d, "STAND-IN 4", (100, 270), 26, "white")
    elif number == 5:  # hash-list-only poster: orange/blue split, big ring, diagonal bands
        img = Image.new("RGB", (s, s), "#1b3a6b")
        d = ImageDraw.Draw(img)
        d.polygon([(0, 0), (s, 0), (0, s)], fill="#f4a259")
        for k in range(-s, s, 48):
            d.line([(k, s), (k + s, 0)], fill="#f7ede2", width=6)
        d.ellipse((90, 90, 230, 230), outline="#0d1b2a", width=22)
        d.ellipse((130, 130, 190, 190), fill="#e63946")
        _label(d, "STAND-IN POSTER 5", (160, 290), 26, "white")
    else:
        raise ValueError(f"no poster design {number}")
    return img


def draw_unrelated() -> Image.Image:
    """An ordinary weather card: nothing banked looks like it."""
    s = POSTER_SIZE
    img = _gradient(s, (120, 190, 250), (235, 245, 255), diagonal=False)
    d = ImageDraw.Draw(img)
    d.ellipse((30, 30, 130, 130), fill="#ffd400")
    for x, y in ((170, 90), (220, 70), (250, 100)):
        d.ellipse((x - 45, y - 28, x + 45, y + 28), fill="white")
    d.rectangle((0, 250, s, s), fill="#4caf50")
    _label(d, "SUNNY 24°C", (160, 190), 36, "#004080")
    return img


OCR_POSTER_TEXT = "lantern_signal_ru"  # the banked text whose opening the text-only poster carries
OCR_POSTER_SIZE = (600, 800)
_POSTER_FONTS = (  # a system font with Cyrillic (Pillow's bundled font has none)
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    Path("/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf"),
)


def ocr_poster_lines() -> list[str]:
    """The poster's text: the heading and the first paragraph (three sentences) of the banked text."""
    heading, paragraph = BANK_TEXTS[OCR_POSTER_TEXT].split("\n\n")[:2]
    return [heading, *re.split(r"(?<=[.!?])\s+", paragraph)]


def draw_text_poster() -> Image.Image:
    """A poster carrying the opening of a banked text as large print on a warm gradient, with no shapes
    like the banked posters': only OCR of its text can match it (its PDQ is far from every banked image)."""
    font_path = next((f for f in _POSTER_FONTS if f.exists()), None)
    if font_path is None:
        raise SystemExit("no DejaVu/Noto font: apt-get install fonts-dejavu-core (scripts/system-deps.sh)")
    w, h = OCR_POSTER_SIZE
    ys = np.linspace(0.0, 1.0, h)[:, np.newaxis, np.newaxis]
    top, bottom = np.array((255, 244, 214), dtype=np.float64), np.array((246, 206, 160), dtype=np.float64)
    img = Image.fromarray(np.broadcast_to(top + (bottom - top) * ys, (h, w, 3)).astype(np.uint8), "RGB")
    d = ImageDraw.Draw(img)
    head_font = ImageFont.truetype(str(font_path), 34)
    body_font = ImageFont.truetype(str(font_path), 27)
    heading, *sentences = ocr_poster_lines()
    y = 50
    for line in _wrap(d, heading, head_font, w - 80):
        d.text((w // 2, y), line, font=head_font, fill="#5a1e0b", anchor="ma")
        y += 46
    d.line([(60, y + 6), (w - 60, y + 6)], fill="#5a1e0b", width=3)
    y += 34
    for sentence in sentences:
        for line in _wrap(d, sentence, body_font, w - 70):
            d.text((35, y), line, font=body_font, fill="#1e1a17")
            y += 38
        y += 16
    if y > h - 20:
        raise ValueError(f"poster text does not fit: {y} > {h - 20}")
    return img


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and draw.textlength(f"{lines[-1]} {word}", font=font) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


def reencode(img: Image.Image, scale: float, quality: int) -> bytes:
    """A re-post's copy: resized and saved again as JPEG."""
    w, h = img.size
    small = img.resize((round(w * scale), round(h * scale)), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    small.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=True)
    return buf.getvalue()


def pdq_hex(data: bytes) -> tuple[str, int]:
    from threatexchange.signal_type.pdq.pdq_hasher import pdq_from_bytes

    return pdq_from_bytes(data)


# ---------------------------------------------------------------------------------------------------------
# The demo channel.
# ---------------------------------------------------------------------------------------------------------

Post = dict[str, Any]  # spec for one message before ids/dates are given


def _p(expected: str, why: str, fragments: Sequence[Fragment], **extra: Any) -> Post:
    return {"expected": expected, "why": why, "fragments": list(fragments), **extra}


def ordinary_posts() -> list[Post]:
    clear = "clear"
    return [
        _p(
            clear,
            "tg weather",
            [
                "Обу ҳаво: фардо дар Хуҷанд ҳаво соф, ҳарорат то 24 дараҷа мерасад. "
                "Шабона салқин, тақрибан 9 дараҷа."
            ],
        ),
        _p(
            clear,
            "tg market prices",
            [
                "Нархи картошка ва пиёз дар бозори Кӯлоб ин ҳафта каме поён рафт: як "
                "кило картошка 3 сомонӣ. ",
                ("hashtag", "#бозор"),
            ],
        ),
        _p(
            clear,
            "tg recipe",
            [
                ("bold", "Оши палав"),
                "\nБиринҷро ним соат дар оби гарм нигоҳ доред, гӯштро "
                "бирён кунед, сабзӣ ва пиёзро илова намоед ва 40 дақиқа дар оташи паст пазед.",
            ],
        ),
        _p(
            clear,
            "tg NEWS about extremism, written as reporting; at most review, never a match",
            [
                "Дар Душанбе конференсияи олимон оид ба пешгирии ифротгароӣ дар шабакаҳои иҷтимоӣ баргузор "
                "шуд. "
                "Коршиносон ба волидон маслиҳат доданд, ки бо фарзандон дар бораи хатарҳои онлайн ва "
                "даъватҳо ба "
                "гурӯҳҳои пӯшида сӯҳбат кунанд."
            ],
            also_ok=["review"],
        ),
        _p(
            clear,
            "ru football",
            [
                ("bold", "Итоги тура."),
                " «Истиклол» обыграл «Худжанд» со счётом 2:1, "
                "победный гол забит на 87-й минуте. Подробности у ",
                ("mention", "@sport_vodiy_demo"),
            ],
        ),
        _p(
            clear,
            "ru local news with a text link",
            [
                "В Худжанде с понедельника ремонтируют дорогу на улице Ленина, объезд через проспект "
                "Сомони. ",
                ("text_link", "Схема объезда", "https://news.example.org/khujand-road"),
            ],
        ),
        _p(
            clear,
            "ru NEWS about extremism, written as reporting; at most review, never a match",
            [
                "Исследователи опубликовали доклад о том, как вербовщики используют мессенджеры, чтобы "
                "заманивать "
                "подростков в закрытые чаты. Авторы советуют платформам быстрее удалять такой контент, а "
                "школам — "
                "поддерживать программы профилактики. Полный текст: https://research.example.org/report-2026"
            ],
            also_ok=["review"],
        ),
        _p(
            clear,
            "uz Latin weather",
            [
                "Ob-havo: Toshkentda ertaga havo bulutli, kunduzi 19–21 daraja iliq "
                "bo‘ladi. Kechasi yomg‘ir yog‘ishi mumkin."
            ],
        ),
        _p(
            clear,
            "uz Latin market prices",
            [
                "Dehqon bozorlarida pomidor narxi tushdi: bir kilogrammi 6 000 "
                "so‘m. Piyoz va kartoshka narxi o‘zgarmadi. #bozor #narxlar"
            ],
        ),
        _p(
            clear,
            "uz Latin football",
            [
                "“Paxtakor” Osiyo Chempionlar ligasida navbatdagi o‘yinni 3:0 hisobida yutdi. ",
                ("bold", "Tabriklaymiz!"),
                " #futbol",
            ],
        ),
        _p(
            clear,
            "uz Cyrillic local news",
            ["Андижонда янги кутубхона очилди. Унда 20 мингдан ортиқ китоб ва болалар учун ўқиш зали бор."],
        ),
        _p(
            clear,
            "uz Cyrillic recipe",
            [
                "Сомса тайёрлаш: хамирни юпқа ёйинг, гўшт ва пиёзни майда тўғранг, "
                "тандирда 25 дақиқа пиширинг. Ёқимли иштаҳа!"
            ],
        ),
        _p(
            clear,
            "fa weather",
            ["پیش‌بینی هوا: فردا در کابل هوا آفتابی است و دما به ۱۸ درجه می‌رسد. شب‌ها سرد خواهد بود."],
        ),
        _p(
            clear,
            "fa market prices",
            [
                "قیمت آرد در بازارهای هرات این هفته اندکی کاهش یافت. فروشندگان "
                "می‌گویند عرضهٔ گندم بیشتر شده است. #بازار"
            ],
        ),
        _p(
            clear,
            "fa recipe",
            [
                "طرز تهیهٔ قابلی پلو: برنج را خیس کنید، گوشت را با پیاز سرخ کنید و در "
                "پایان کشمش و هویج اضافه کنید."
            ],
        ),
        _p(
            clear,
            "ps football",
            ["فوټبال: د کابل ټیم په وروستۍ لوبه کې د کندهار ټیم ته دوه – یو ماته ورکړه."],
        ),
        _p(
            clear,
            "ps local news",
            ["په جلال اباد کې نوی روغتون پرانیستل شو چې هره ورځ تر پنځه سوه ډېرو ناروغانو ته خدمت کوي."],
        ),
        _p(
            clear,
            "ar weather",
            ["الطقس: أجواء معتدلة غداً مع رياح خفيفة، ودرجة الحرارة العظمى 26 درجة مئوية."],
        ),
        _p(
            clear,
            "ar market news",
            ["ارتفعت أسعار التمور في الأسواق المحلية هذا الأسبوع بسبب زيادة الطلب قبل موسم الأعياد. #أسواق"],
        ),
        _p(
            clear,
            "en NEWS about extremism, written as reporting; at most review, never a match",
            [
                "A regional court heard testimony this week about online recruitment networks that target "
                "young "
                "migrant workers through closed chats. Researchers quoted in the report call for better "
                "moderation "
                "in Central Asian languages and for support programmes for families."
            ],
            also_ok=["review"],
        ),
        _p(
            clear,
            "en community notice with a link",
            [
                "Community notice: the Saturday farmers' market moves to the riverside park this week. "
                "Stalls "
                "open at 8:00. Details: https://market.example.org/saturday"
            ],
        ),
        _p(
            clear,
            "ky local news",
            ["Бишкекте жаңы спорт комплекси ачылды. Анда бассейн жана футбол талаасы бар."],
        ),
    ]


def altered_reposts(rng: random.Random) -> list[Post]:
    t = BANK_TEXTS
    match = "match"
    en_paragraph = t["lantern_signal_en"].split("\n\n")[1]
    return [
        _p(
            match,
            "re-post of lantern_signal_tg typed with legacy Tajik letters (ѓ ї ќ ў њ љ), with a "
            "re-poster's signature and hashtags added",
            [
                add_channel_frame(
                    to_legacy_tajik(t["lantern_signal_tg"]),
                    "📣 Vodiy Yangiliklari",
                    ["#хабар", "#Тољикистон"],
                )
            ],
            forwarded_from=OUTLET,
        ),
        _p(
            match,
            "re-post of lantern_signal_tg with zero-width spaces (U+200B) and emoji inserted",
            [insert_emoji(insert_zero_width(t["lantern_signal_tg"], rng, 20), rng, 3)],
        ),
        _p(
            match,
            "re-post of lantern_signal_ru with Latin look-alikes (a e o p c x) inside Cyrillic words "
            "and zero-width spaces",
            [insert_zero_width(latin_lookalikes(t["lantern_signal_ru"], rng), rng, 10)],
            forwarded_from=OUTLET,
        ),
        _p(
            match,
            "re-post of lantern_signal_uz_latn with ASCII apostrophes instead of o‘ g‘, emoji inserted",
            [insert_emoji(uzbek_apostrophes(t["lantern_signal_uz_latn"], "'"), rng, 4)],
        ),
        _p(
            match,
            "re-post of lantern_signal_uz_cyrl with changed line breaks and zero-width spaces",
            [insert_zero_width(change_line_breaks(t["lantern_signal_uz_cyrl"]), rng, 12)],
        ),
        _p(
            match,
            "re-post of lantern_signal_fa with Arabic ي/ك for Persian ی/ک and tatweel (ـ)",
            [arabic_variants(t["lantern_signal_fa"], rng)],
        ),
        _p(
            match,
            "re-post of lantern_signal_ps with zero-width spaces, emoji and a re-poster's banner, "
            "signature and hashtags",
            [
                add_channel_frame(
                    insert_emoji(insert_zero_width(t["lantern_signal_ps"], rng, 10), rng, 2),
                    "📣 Vodiy Yangiliklari",
                    ["#خبر", "#pashto"],
                )
            ],
        ),
        _p(
            match,
            "re-post of lantern_signal_ar with changed line breaks and emoji",
            [insert_emoji(change_line_breaks(t["lantern_signal_ar"]).replace("، ", "،\n"), rng, 3)],
        ),
        _p(
            match,
            "one banked paragraph of lantern_signal_en quoted inside a longer ordinary post",
            [
                ("bold", "Weekend roundup."),
                " The city library extends its opening hours, the bus to the lake "
                "runs again from Saturday, and the weather stays dry until Tuesday. Someone forwarded us "
                "this "
                "notice:\n\n«"
                + en_paragraph
                + "»\n\nWe have not checked it; make up your own mind. Next week: "
                "school sports day results and the new bakery on Navoi street.",
            ],
        ),
    ]


def media_posts() -> list[Post]:
    return [
        _p(
            "match",
            "photo: re-encoded copy (90% size, JPEG q=60) of bank poster_1.png",
            ["Yangi afisha 🌄"],
            image=("bank", 1),
        ),
        _p(
            "match",
            "photo: re-encoded copy (90% size, JPEG q=60) of bank poster_3.png",
            [],
            image=("bank", 3),
        ),
        _p(
            "match",
            "photo: re-encoded copy of the poster whose PDQ is only in bank/hashlist.csv",
            ["Afisha"],
            image=("hashlist", 5),
        ),
        _p(
            "clear",
            "photo: an unrelated generated weather card",
            ["Ertaga havo ochiq bo‘ladi ☀️"],
            image=("unrelated", 0),
        ),
        _p(
            "clear",
            "photo not included in the export (posbon reports a Problem and goes on); text is ordinary",
            ["Бозори нав дар маркази шаҳр кушода шуд."],
            image=("missing", 0),
        ),
        _p("match", "document whose md5 is in bank/hashlist.csv", ["Klub qoidalari"], document=True),
    ]


def url_posts() -> list[Post]:
    return [
        _p(
            "match",
            "contains the banked invite URL from bank/urls.csv",
            ["Do‘stlar, yopiq guruhimizga qo‘shiling: ", BANKED_INVITE_URL],
        ),
        _p(
            "match",
            "text link to a page on the banked domain lantern-signal.example",
            [
                "Подробнее о клубе ",
                ("text_link", "на сайте", f"https://{BANKED_DOMAIN}/join/winter"),
                " — всё по ссылке.",
            ],
        ),
    ]


CLUB_RULES = (
    "Highland Verse Circle - house rules (stand-in document for posbon's demo)\n"
    "1. Walk at the pace of the slowest walker.\n"
    "2. Read one poem, listen to all the others.\n"
    "3. Lanterns off before midnight.\n"
)

REACTION_NAMES = ("Dilnoza R.", "Farrukh S.", "Madina K.", "Rustam A.", "Zarina T.", "Bahrom N.")


def _reactions(rng: random.Random, when: datetime) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for emoji in rng.sample(["👍", "❤", "🔥", "👏"], rng.randint(1, 2)):
        count = rng.randint(2, 40)
        recent = []
        for k in range(min(count, rng.randint(1, 3))):
            i = rng.randrange(len(REACTION_NAMES))
            recent.append(
                {
                    "from": REACTION_NAMES[i],
                    "from_id": f"user{111111 + i * 7919}",
                    "date": (when + timedelta(minutes=5 + 7 * k)).strftime("%Y-%m-%dT%H:%M:%S"),
                }
            )
        out.append({"type": "emoji", "count": count, "emoji": emoji, "recent": recent})
    return out


def _date_fields(when: datetime) -> dict[str, str]:
    return {
        "date": when.strftime("%Y-%m-%dT%H:%M:%S"),
        "date_unixtime": str(int(when.replace(tzinfo=LOCAL_TZ).astimezone(UTC).timestamp())),
    }


def build(out: Path) -> dict[str, Any]:
    """Write the whole data folder into `out` (replacing bank/ and channel/). Returns a summary."""
    rng = random.Random(SEED)
    bank, channel = out / "bank", out / "channel"
    for sub in (bank, channel):
        if sub.exists():
            shutil.rmtree(sub)
    (bank / "texts").mkdir(parents=True)
    (bank / "images").mkdir(parents=True)
    (channel / "photos").mkdir(parents=True)
    (channel / "files").mkdir(parents=True)

    for name, text in BANK_TEXTS.items():
        (bank / "texts" / f"{name}.txt").write_text(text + "\n", encoding="utf-8")

    posters = {n: draw_poster(n) for n in range(1, 6)}
    for n in range(1, 5):
        (bank / "images" / f"poster_{n}.png").write_bytes(png_bytes(posters[n]))

    (channel / "files" / "highland_verse_rules.txt").write_bytes(CLUB_RULES.encode("utf-8"))
    rules_md5 = hashlib.md5(CLUB_RULES.encode("utf-8")).hexdigest()

    with (bank / "urls.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["signal_type", "signal", "label"])
        w.writerow(["url", BANKED_INVITE_URL, "Lantern Signal Media closed-chat invite (stand-in)"])
        w.writerow(["domain", BANKED_DOMAIN, "Lantern Signal Media site (stand-in)"])

    # --- channel messages ---
    posts = ordinary_posts() + altered_reposts(rng) + media_posts() + url_posts()
    rng.shuffle(posts)
    # The text-only poster came later: it is the last message and draws from its own generator, so the
    # earlier messages' ids and dates and the hash list's random rows stay as they were.
    text_poster = _p(
        "match",
        "poster whose text (read by OCR) matches a banked text",
        ["look what they posted 👀"],
        image=("text", 0),
    )
    text_poster_rng = random.Random(SEED + 1)
    posts.append(text_poster)
    start = datetime(2026, 10, 1, 9, 0, 0)
    messages: list[dict[str, Any]] = [
        {
            "id": 1,
            "type": "service",
            **_date_fields(start),
            "actor": CHANNEL_NAME,
            "actor_id": CHANNEL_FROM_ID,
            "action": "create_channel",
            "title": CHANNEL_NAME,
            "text": "",
            "text_entities": [],
        }
    ]
    expected: dict[str, dict[str, Any]] = {}
    msg_id, when, photo_no = 1, start, 0
    pin_after = 6
    for index, post in enumerate(posts):
        r = rng if post is not text_poster else text_poster_rng
        msg_id += 1 + (1 if r.random() < 0.12 else 0)  # a few gaps: deleted messages
        when += timedelta(minutes=r.randint(17, 190))
        if when.hour >= 22 or when.hour < 8:  # the channel sleeps at night
            when = (when + timedelta(hours=11)).replace(hour=8) + timedelta(minutes=r.randint(0, 50))
        msg_text, entities = telegram_text(post["fragments"])
        msg: dict[str, Any] = {"id": msg_id, "type": "message", **_date_fields(when)}
        msg["from"] = CHANNEL_NAME
        msg["from_id"] = CHANNEL_FROM_ID
        if "forwarded_from" in post:
            msg["forwarded_from"] = post["forwarded_from"]
        if "image" in post:
            kind, number = post["image"]
            photo_no += 1
            name = f"photos/photo_{photo_no}@{when.strftime('%d-%m-%Y_%H-%M-%S')}.jpg"
            if kind == "missing":
                msg["photo"] = MISSING_FILE
                msg["width"], msg["height"] = 1280, 720
            else:
                if kind in ("bank", "hashlist"):
                    data = reencode(posters[number], 0.9, 60 if kind == "bank" else 70)
                    size = (round(POSTER_SIZE * 0.9),) * 2
                elif kind == "text":
                    data = reencode(draw_text_poster(), 1.0, 85)
                    size = OCR_POSTER_SIZE
                else:
                    data = reencode(draw_unrelated(), 1.0, 80)
                    size = (POSTER_SIZE, POSTER_SIZE)
                (channel / name).write_bytes(data)
                msg["photo"] = name
                msg["photo_file_size"] = len(data)
                msg["width"], msg["height"] = size
                post["photo_name"] = name
        if post.get("document"):
            msg["file"] = "files/highland_verse_rules.txt"
            msg["file_name"] = "highland_verse_rules.txt"
            msg["file_size"] = len(CLUB_RULES.encode("utf-8"))
            msg["mime_type"] = "text/plain"
        msg["text"] = msg_text
        msg["text_entities"] = entities
        if r.random() < 0.3 or index == 0:
            msg["reactions"] = _reactions(r, when)
        messages.append(msg)
        entry: dict[str, Any] = {"verdict": post["expected"], "why": post["why"]}
        if "also_ok" in post:
            entry["also_ok"] = post["also_ok"]
        expected[str(msg_id)] = entry
        if index == pin_after:
            msg_id += 1
            when += timedelta(minutes=2)
            messages.append(
                {
                    "id": msg_id,
                    "type": "service",
                    **_date_fields(when),
                    "actor": CHANNEL_NAME,
                    "actor_id": CHANNEL_FROM_ID,
                    "action": "pin_message",
                    "message_id": msg_id - 1,
                    "text": "",
                    "text_entities": [],
                }
            )

    export = {"name": CHANNEL_NAME, "type": "public_channel", "id": CHANNEL_ID, "messages": messages}
    (channel / "result.json").write_text(json.dumps(export, ensure_ascii=False, indent=1) + "\n", "utf-8")
    (channel / "EXPECTED.json").write_text(json.dumps(expected, ensure_ascii=False, indent=1) + "\n", "utf-8")

    # --- hash list: the PDQ of poster 5 (never in bank/images), the md5 of the channel document, and three
    # random-looking PDQ rows that match nothing.
    poster5_pdq, _ = pdq_hex(png_bytes(posters[5]))
    with (bank / "hashlist.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["signal_type", "signal", "label", "source", "ideology"])
        w.writerow(["pdq", poster5_pdq, "Lantern Signal poster 5 (stand-in)", "demo-hash-exchange", "demo"])
        w.writerow(
            ["md5", rules_md5, "Lantern Signal rules document (stand-in)", "demo-hash-exchange", "demo"]
        )
        for k in range(3):
            w.writerow(
                [
                    "pdq",
                    f"{rng.getrandbits(256):064x}",
                    f"demo random entry {k + 1}",
                    "demo-hash-exchange",
                    "demo",
                ]
            )
    return {"messages": len(messages), "photos": photo_no}


def main(argv: Sequence[str] | None = None, write: Callable[[str], None] = print) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DATA_DIR, help="data folder to (re)write")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    summary = build(args.out)
    write(f"wrote {args.out}: {summary['messages']} messages, {summary['photos']} photo references")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
