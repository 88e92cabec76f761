"""Write a deterministic set of synthetic posts for benchmarks.

    python bench/gen_posts.py --count 10000 --out DIR [--seed 1]

Writes DIR/posts.jsonl (one JSON object a line: id, text, created_at, author, source, url, media), the media
files that some posts refer to in DIR/media (copies of the demo channel's photos), and DIR/labels.jsonl (id,
kind, bank_entry) saying which posts are altered copies of the demo bank so a benchmark can count recall.

Mix: ordinary posts in the project's languages from template sentences and random words; ~5% altered copies
of the demo bank texts (the same alterations as the demo channel); ~1% carrying the banked invite URL or a
link on the banked domain; ~2% with a media file. Same seed, same output.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import random
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

# make_data.py is a build-time script, loaded by path so that the posbon.demo package (the demo command and
# the whole scan pipeline behind it) is not imported just to generate posts.
MAKE_DATA_PATH = Path(__file__).resolve().parents[1] / "src" / "posbon" / "demo" / "make_data.py"


def _load_make_data() -> ModuleType:
    spec = importlib.util.spec_from_file_location("posbon_demo_make_data", MAKE_DATA_PATH)
    if spec is None or spec.loader is None:
        raise SystemExit(f"{MAKE_DATA_PATH}: cannot load the demo data script")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_md = _load_make_data()
BANK_TEXTS: dict[str, str] = _md.BANK_TEXTS
DATA_DIR: Path = _md.DATA_DIR
arabic_variants = _md.arabic_variants
change_line_breaks = _md.change_line_breaks
insert_emoji = _md.insert_emoji
insert_zero_width = _md.insert_zero_width
latin_lookalikes = _md.latin_lookalikes
to_legacy_tajik = _md.to_legacy_tajik
uzbek_apostrophes = _md.uzbek_apostrophes

ALTERED_SHARE = 0.05
URL_SHARE = 0.01
MEDIA_SHARE = 0.02

# Template sentences with {slots}; each language has its own words for the slots.
TEMPLATES: dict[str, tuple[list[str], dict[str, list[str]]]] = {
    "tg": (
        [
            "Обу ҳаво дар {place}: фардо {weather}, ҳарорат то {n} дараҷа.",
            "Нархи {food} дар бозори {place} ин ҳафта {trend}.",
            "Дар {place} {event} баргузор мешавад, ҳама даъват карда мешаванд.",
            "Дастури {food}: {n} дақиқа дар оташи паст пазед.",
        ],
        {
            "place": ["Душанбе", "Хуҷанд", "Кӯлоб", "Хоруғ", "Бохтар", "Истаравшан"],
            "weather": ["ҳаво соф", "борон меборад", "абрнок", "шамоли сахт"],
            "food": ["картошка", "пиёз", "гӯшт", "биринҷ", "оши палав", "қурутоб"],
            "trend": ["қимат шуд", "арзон шуд", "тағйир наёфт"],
            "event": ["намоиши китоб", "мусобиқаи футбол", "консерти мусиқӣ", "ярмарка"],
        },
    ),
    "ru": (
        [
            "Погода в {place}: завтра {weather}, до {n} градусов.",
            "Цены на {food} на рынке в {place} на этой неделе {trend}.",
            "В {place} пройдёт {event}, вход свободный.",
            "Футбол: {team} выиграл со счётом {n}:{m}.",
        ],
        {
            "place": ["Душанбе", "Худжанде", "Ташкенте", "Бишкеке", "Алматы", "Самарканде"],
            "weather": ["ясно", "дождь", "облачно", "сильный ветер"],
            "food": ["картофель", "лук", "мясо", "рис", "муку"],
            "trend": ["выросли", "снизились", "не изменились"],
            "event": ["книжная ярмарка", "концерт", "городской марафон", "выставка"],
            "team": ["«Истиклол»", "«Пахтакор»", "«Дордой»", "«Кайрат»"],
        },
    ),
    "uz": (
        [
            "Ob-havo: {place}da ertaga {weather}, {n} daraja iliq bo‘ladi.",
            "{place} bozorida {food} narxi {trend}.",
            "{place}da {event} bo‘lib o‘tadi, hammani taklif qilamiz.",
            "Futbol: “{team}” {n}:{m} hisobida g‘alaba qozondi.",
        ],
        {
            "place": ["Toshkent", "Samarqand", "Andijon", "Farg‘ona", "Namangan", "Buxoro"],
            "weather": ["havo ochiq", "yomg‘ir yog‘adi", "havo bulutli", "kuchli shamol"],
            "food": ["pomidor", "piyoz", "kartoshka", "go‘sht", "guruch"],
            "trend": ["tushdi", "oshdi", "o‘zgarmadi"],
            "event": ["kitob yarmarkasi", "konsert", "marafon", "ko‘rgazma"],
            "team": ["Paxtakor", "Nasaf", "Navbahor", "Bunyodkor"],
        },
    ),
    "uz_cyrl": (
        [
            "Об-ҳаво: {place}да эртага {weather}, {n} даража илиқ бўлади.",
            "{place} бозорида {food} нархи {trend}.",
            "{place}да {event} бўлиб ўтади.",
        ],
        {
            "place": ["Тошкент", "Самарқанд", "Андижон", "Наманган", "Бухоро"],
            "weather": ["ҳаво очиқ", "ёмғир ёғади", "ҳаво булутли"],
            "food": ["помидор", "пиёз", "картошка", "гўшт"],
            "trend": ["тушди", "ошди", "ўзгармади"],
            "event": ["китоб ярмаркаси", "концерт", "кўргазма"],
        },
    ),
    "fa": (
        [
            "پیش‌بینی هوا در {place}: فردا {weather} و دما {n} درجه.",
            "قیمت {food} در بازار {place} این هفته {trend}.",
            "در {place} {event} برگزار می‌شود.",
        ],
        {
            "place": ["کابل", "هرات", "مزار شریف", "بلخ", "بدخشان"],
            "weather": ["آفتابی", "بارانی", "ابری", "بادی"],
            "food": ["آرد", "برنج", "گوشت", "پیاز"],
            "trend": ["کاهش یافت", "افزایش یافت", "تغییری نکرد"],
            "event": ["نمایشگاه کتاب", "مسابقهٔ فوتبال", "جشنوارهٔ موسیقی"],
        },
    ),
    "ps": (
        [
            "په {place} کې سبا هوا {weather} ده، تودوخه {n} درجې.",
            "په {place} کې د {food} بیه {trend}.",
            "په {place} کې {event} جوړېږي.",
        ],
        {
            "place": ["کابل", "کندهار", "جلال اباد", "خوست", "ننګرهار"],
            "weather": ["لمر", "باراني", "ورېځ"],
            "food": ["اوړو", "وريجو", "غوښې"],
            "trend": ["ټيټه شوه", "لوړه شوه"],
            "event": ["د کتاب نندارتون", "د فوټبال لوبه", "د شعر مشاعره"],
        },
    ),
    "ar": (
        [
            "الطقس في {place}: غداً {weather} ودرجة الحرارة {n} درجة.",
            "أسعار {food} في أسواق {place} {trend} هذا الأسبوع.",
            "يقام في {place} {event} مساء الجمعة.",
        ],
        {
            "place": ["عمّان", "الدوحة", "بغداد", "القاهرة", "دبي"],
            "weather": ["مشمس", "ماطر", "غائم جزئياً"],
            "food": ["التمور", "الأرز", "الخضار", "الخبز"],
            "trend": ["ارتفعت", "انخفضت", "استقرت"],
            "event": ["معرض للكتاب", "حفل موسيقي", "سباق للدراجات"],
        },
    ),
    "en": (
        [
            "Weather in {place}: {weather} tomorrow, up to {n} degrees.",
            "Prices of {food} at the {place} market {trend} this week.",
            "{place} hosts a {event} this weekend, entry is free.",
            "Football: {team} won {n}-{m} in a late match.",
        ],
        {
            "place": ["Dushanbe", "Tashkent", "Bishkek", "Almaty", "Kabul", "Khujand"],
            "weather": ["sunny", "rain", "cloudy", "strong wind"],
            "food": ["potatoes", "onions", "rice", "flour", "apricots"],
            "trend": ["went up", "went down", "held steady"],
            "event": ["book fair", "concert", "city marathon", "craft market"],
            "team": ["Istiklol", "Pakhtakor", "Dordoi", "Kairat"],
        },
    ),
    "ky": (
        ["{place} шаарында {event} өтөт.", "{place}: эртең аба ырайы {weather}, {n} градус."],
        {
            "place": ["Бишкек", "Ош", "Каракол", "Нарын"],
            "event": ["китеп жарманкеси", "концерт", "футбол оюну"],
            "weather": ["ачык", "жаан", "булуттуу"],
        },
    ),
    "kk": (
        ["{place} қаласында {event} өтеді.", "{place}: ертең ауа райы {weather}, {n} градус."],
        {
            "place": ["Алматы", "Астана", "Шымкент", "Түркістан"],
            "event": ["кітап жәрмеңкесі", "концерт", "футбол матчы"],
            "weather": ["ашық", "жаңбыр", "бұлтты"],
        },
    ),
}
EXTRAS = [
    "🔥",
    "👍",
    "#news",
    "#yangiliklar",
    "#хабар",
    "@city_news_demo",
    "😊",
    "https://news.example.org/a/1",
]


def ordinary_text(rng: random.Random) -> str:
    templates, words = TEMPLATES[rng.choice(list(TEMPLATES))]
    sentences = []
    for _ in range(rng.randint(1, 3)):
        fill = {k: rng.choice(v) for k, v in words.items()}
        sentences.append(rng.choice(templates).format(n=rng.randint(1, 35), m=rng.randint(0, 4), **fill))
    text = " ".join(sentences)
    if rng.random() < 0.3:
        text += " " + rng.choice(EXTRAS)
    return text


def _alterations_for(name: str) -> list[Callable[[str, random.Random], str]]:
    common: list[Callable[[str, random.Random], str]] = [
        lambda t, r: insert_zero_width(t, r, r.randint(3, 20)),
        lambda t, r: insert_emoji(t, r, r.randint(1, 4)),
        lambda t, r: change_line_breaks(t),
    ]
    if name.endswith("_tg"):
        common.append(lambda t, r: to_legacy_tajik(t))
    if name.endswith(("_ru", "_tg", "_uz_cyrl")):
        common.append(lambda t, r: latin_lookalikes(t, r, r.uniform(0.1, 0.5)))
    if name.endswith(("_fa", "_ps")):
        common.append(lambda t, r: arabic_variants(t, r))
    if name.endswith("_uz_latn"):
        common.append(lambda t, r: uzbek_apostrophes(t, r.choice(["'", "ʻ", "`"])))
    return common


def altered_bank_text(rng: random.Random) -> tuple[str, str]:
    name = rng.choice(sorted(BANK_TEXTS))
    text = BANK_TEXTS[name]
    if rng.random() < 0.2:  # quote one paragraph inside an ordinary post
        paragraph = rng.choice(text.split("\n\n")[1:3])
        return name, f"{ordinary_text(rng)}\n\n«{paragraph}»\n\n{ordinary_text(rng)}"
    choices = _alterations_for(name)
    for alter in rng.sample(choices, rng.randint(1, min(3, len(choices)))):
        text = alter(text, rng)
    return name, text


def banked_links(data_dir: Path) -> list[str]:
    links: list[str] = []
    with (data_dir / "bank" / "urls.csv").open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            if row["signal_type"] == "url":
                links.append(row["signal"])
            elif row["signal_type"] == "domain":
                links.append(f"https://{row['signal']}/join/spring")
    return links


def generate(count: int, out: Path, seed: int = 1, data_dir: Path = DATA_DIR) -> dict[str, int]:
    """Write DIR/posts.jsonl, DIR/labels.jsonl and DIR/media/. Returns counts per kind."""
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    media_dir = out / "media"
    media_dir.mkdir(exist_ok=True)
    media: list[str] = []
    for photo in sorted((data_dir / "channel" / "photos").glob("*.jpg")):
        name = f"photo_{len(media) + 1}.jpg"  # plain names: no '@' in paths handed to other tools
        shutil.copyfile(photo, media_dir / name)
        media.append(f"media/{name}")
    links = banked_links(data_dir)
    start = datetime(2026, 10, 1, 6, 0, tzinfo=UTC)
    counts = {"posts": 0, "altered": 0, "url": 0, "media": 0}
    with (
        (out / "posts.jsonl").open("w", encoding="utf-8") as posts,
        (out / "labels.jsonl").open("w", encoding="utf-8") as labels,
    ):
        for i in range(count):
            post_id = f"gen-{i + 1:07d}"
            kind, bank_entry = "ordinary", None
            roll = rng.random()
            if roll < ALTERED_SHARE:
                bank_entry, text = altered_bank_text(rng)
                kind = "altered_bank_text"
                counts["altered"] += 1
            elif roll < ALTERED_SHARE + URL_SHARE:
                text = f"{ordinary_text(rng)} {rng.choice(links)}"
                kind = "banked_url"
                counts["url"] += 1
            else:
                text = ordinary_text(rng)
            post_media: list[str] = []
            if media and rng.random() < MEDIA_SHARE:
                post_media = [rng.choice(media)]
                counts["media"] += 1
            record = {
                "id": post_id,
                "text": text,
                "created_at": (start + timedelta(seconds=37 * i)).isoformat(),
                "author": f"author-{rng.randrange(2000):04d}",
                "source": "gen",
                "url": f"https://forum.example.org/p/{i + 1}",
                "media": post_media,
            }
            posts.write(json.dumps(record, ensure_ascii=False) + "\n")
            labels.write(json.dumps({"id": post_id, "kind": kind, "bank_entry": bank_entry}) + "\n")
            counts["posts"] += 1
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write synthetic posts for posbon benchmarks.")
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.count < 0:
        parser.error("--count must be 0 or more")
    began = time.perf_counter()
    counts = generate(args.count, args.out, args.seed)
    took = time.perf_counter() - began
    print(f"{'posts':>8} {'altered':>8} {'url':>6} {'media':>6} {'seconds':>8}")
    print(f"{counts['posts']:>8} {counts['altered']:>8} {counts['url']:>6} {counts['media']:>6} {took:>8.2f}")
    print(f"wrote {args.out / 'posts.jsonl'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
