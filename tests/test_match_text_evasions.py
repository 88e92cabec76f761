"""Every evasion the near-duplicate matcher must see through, one test each (benign stand-in texts)."""

from __future__ import annotations

import random

import pytest

from posbon.domain import BankEntry, Signal, SignalType
from posbon.match.matcher import Matcher
from posbon.match.text_index import SATURATION, TextHit, TextIndex
from posbon.text.normalize import normalize
from posbon.text.translit import (
    RUSSIAN_LATIN_SCHEMES,
    russian_to_latin,
    uzbek_cyrillic_to_latin,
    uzbek_latin_to_cyrillic,
)

THRESHOLD = 0.6  # Matcher's default
TG = (
    "Дӯстони ҷамъияти «Шамоли Каҳрабо», аз ҳар узв хоҳиш мекунем, ки дар ин моҳ дар ранг кардани хонаи "
    "клуб ёрӣ диҳад. Дар тахтаи назди дар номнавис шавед ва субҳи мувофиқро интихоб кунед."
)
RU = (
    "Друзья из общества «Янтарный змей», просим каждого помочь покрасить клубный дом в этом месяце. "
    "Запишитесь на доске у двери и выберите удобное утро, чай и печенье будут у нас."
)
UZ = (
    "Aziz qo'shnilar, \"Chiroqchilar\" qishki yarmarka uchun issiq paltolar yig'moqda. Har qanday "
    "o'lchamdagi toza paltolarni mamnuniyat bilan qabul qilib, muhtoj oilalarga beramiz."
)
FA = (
    "همسایگان عزیز، «فانوس‌داران» برای بازارچه زمستانی پالتوی گرم جمع می‌کنند. پالتوهای تمیز در هر "
    "اندازه را با شادی می‌پذیریم و به خانواده‌های نیازمند می‌دهیم."
)
EN = (
    "Members of the Lantern Walkers, please return the borrowed lanterns before the festival. We need "
    "every one of them to light the river path on Saturday night."
)
BANKED = {1: TG, 2: RU, 3: UZ, 4: FA, 5: EN}
# Unrelated texts on the same topics (club appeals), different wording.
SAME_TOPIC = [
    "Ҷамъияти дӯстдорони роҳи оҳан ихтиёриёнро барои аз нав ранг кардани бинои истгоҳаш ҷустуҷӯ "
    "мекунад. Ранг ва мӯқалам медиҳем, барои ёрдамчиён шӯрбо мепазем.",
    "Общество любителей железных дорог ищет добровольцев, чтобы перекрасить здание своей станции. "
    "Краску и кисти дадим, а для помощников сварим суп.",
    "Qo'shnilar, o'smirlar futbol klubiga yangi to'rlar va to'plar kerak. Har qanday kichik xayriya "
    "yordam beradi, murabbiylar hisobotni e'lonlar taxtasiga osib qo'yadi.",
    "Our choir collects old sheet music and songbooks for a new library in the village school. Leave "
    "them in the box by the church door before the end of May.",
]


@pytest.fixture(scope="module")
def index() -> TextIndex:
    idx = TextIndex()
    for key, text in BANKED.items():
        assert idx.add(key, normalize(text))
    return idx


def best(index: TextIndex, post: str) -> list[int]:
    return [hit.key for hit in index.query(normalize(post), THRESHOLD)]


@pytest.mark.parametrize("key", sorted(BANKED))
def test_inserted_emoji_and_symbols(index: TextIndex, key: int) -> None:
    rng = random.Random(key)
    post = " ".join(w + rng.choice(["", " 🔥", "✅", " ★★", "‼️"]) for w in BANKED[key].split())
    assert best(index, "👉👉 " + post + " 💥") == [key]


@pytest.mark.parametrize("key", sorted(BANKED))
def test_zero_width_characters(index: TextIndex, key: int) -> None:
    post = "".join(
        ch + ("\u200b" if i % 3 == 0 else "\u2060" if i % 7 == 0 else "") for i, ch in enumerate(BANKED[key])
    )
    assert best(index, post) == [key]


def test_latin_cyrillic_look_alikes(index: TextIndex) -> None:
    tg = TG.translate(str.maketrans("аеорсху", "aeopcxy"))
    ru = RU.translate(str.maketrans("аеорсх", "aeopcx"))
    en = EN.translate(str.maketrans("aeopcx", "аеорсх"))
    assert best(index, tg) == [1] and best(index, ru) == [2] and best(index, en) == [5]


def test_arabic_letter_variants_and_diacritics(index: TextIndex) -> None:
    post = FA.replace("ی", "ي").replace("ک", "ك").replace("ا", "اَ").replace("ه ", "ة ")
    assert best(index, post) == [4]


def test_legacy_tajik_letters(index: TextIndex) -> None:
    post = TG.translate(str.maketrans("ғӣқӯҳҷҲ", "ѓїќўњљЊ"))
    assert best(index, post) == [1]


@pytest.mark.parametrize("key", sorted(BANKED))
def test_changed_spacing_line_breaks_and_punctuation(index: TextIndex, key: int) -> None:
    text = BANKED[key].replace(". ", "...\n\n").replace(", ", " ,").replace("«", "").replace("»", "!!")
    words = text.split(" ")
    post = "  ".join(words[: len(words) // 2]) + "\t" + " ".join(words[len(words) // 2 :])
    assert best(index, post) == [key]


@pytest.mark.parametrize("key", sorted(BANKED))
def test_added_channel_signature_and_hashtags(index: TextIndex, key: int) -> None:
    post = f"@club_news_24\n\n{BANKED[key]}\n\n#club #news #weekend\nSubscribe 👉 t.me/club_news_24"
    (hit,) = index.query(normalize(post), THRESHOLD)
    assert hit.key == key and hit.containment == 1.0 and hit.resemblance < 1.0


def test_banked_text_quoted_inside_a_longer_post(index: TextIndex) -> None:
    post = f"{SAME_TOPIC[1]} Вот что прислали: «{RU}» {SAME_TOPIC[1]} {SAME_TOPIC[3]}"
    (hit,) = index.query(normalize(post), THRESHOLD)
    assert hit.key == 2 and hit.containment > 0.95 and hit.resemblance < 0.5


def test_uzbek_banked_in_latin_matches_a_cyrillic_repost(index: TextIndex) -> None:
    post = uzbek_latin_to_cyrillic(UZ)
    assert "Азиз қўшнилар" in post
    assert best(index, post) == [3]


def test_uzbek_banked_in_cyrillic_matches_a_latin_repost() -> None:
    idx = TextIndex()
    idx.add(7, normalize(uzbek_latin_to_cyrillic(UZ)))
    for apostrophe in "'ʻ‘`":
        (hit,) = idx.query(normalize(uzbek_cyrillic_to_latin(uzbek_latin_to_cyrillic(UZ), apostrophe)))
        assert hit.key == 7 and hit.score > 0.95


@pytest.mark.parametrize("scheme", sorted(RUSSIAN_LATIN_SCHEMES))
def test_russian_written_in_latin_letters(index: TextIndex, scheme: str) -> None:
    post = russian_to_latin(RU, scheme, random.Random(scheme))
    assert best(index, post) == [2]


def test_privet_bratya() -> None:
    idx = TextIndex()
    idx.add(1, normalize("Привет, братья! Завтра в шесть часов встречаемся у фонтана в парке."))
    (hit,) = idx.query(normalize("Privet, brat'ya!! Zavtra v shest' chasov vstrechaemsya u fontana v parke"))
    assert hit.key == 1 and hit.score > 0.9


def test_unrelated_texts_on_the_same_topics_do_not_match(index: TextIndex) -> None:
    for post in SAME_TOPIC:
        assert index.query(normalize(post), THRESHOLD) == []


def test_matcher_finds_a_cross_script_repost() -> None:
    entry = BankEntry(1, "demo", SignalType.TEXT, normalize(UZ), "appeal", UZ)
    evidence = Matcher([entry]).match([Signal(SignalType.TEXT, normalize(uzbek_latin_to_cyrillic(UZ)))])
    assert [e.entry_id for e in evidence] == [1] and (evidence[0].similarity or 0) > 0.95


def test_add_and_query_api() -> None:
    idx = TextIndex()
    assert idx.add(10, normalize(EN)) is True
    assert idx.add(10, normalize(RU)) is False  # key taken
    assert idx.add(11, normalize("🔥 !!! ...")) is False  # no letters
    assert len(idx) == 1
    (hit,) = idx.query(normalize(EN))
    assert isinstance(hit, TextHit) and hit.key == 10 and hit.score == hit.resemblance == 1.0
    assert idx.query("") == [] and TextIndex().query(normalize(EN)) == []
    assert idx.query(normalize(EN[: len(EN) // 2]), 0.9) == []  # half the text: below 0.9
    (half,) = idx.query(normalize(EN[: len(EN) // 2]), 0.3)
    assert 0.3 < half.score < 0.7


def test_adding_after_querying_and_merging_keeps_everything_findable() -> None:
    rng = random.Random(5)
    words = [w.strip(".,«»") for text in (RU, TG, EN) for w in text.split()]
    idx = TextIndex()
    randoms = {k: " ".join(rng.choice(words) for _ in range(40)) for k in range(300)}
    for k, text in randoms.items():
        idx.add(k, normalize(text))
        if k % 50 == 0:  # queries in between force merges and pending look-ups
            assert idx.query(normalize(randoms[0]), THRESHOLD)[0].key == 0
    idx.add(1000, normalize(RU))
    assert [h.key for h in idx.query(normalize(RU), THRESHOLD)] == [1000]
    idx._merge()
    for k in (0, 137, 299):
        assert idx.query(normalize(randoms[k]), THRESHOLD)[0].key == k
    assert [h.key for h in idx.query(normalize(RU), THRESHOLD)] == [1000]


def test_a_text_banked_in_hundreds_of_variants_is_still_found() -> None:
    idx = TextIndex()
    for k in range(3 * SATURATION):
        idx.add(k, normalize(f"{EN} Variant {k}."))
    idx.add(9999, normalize(TG))
    hits = idx.query(normalize(EN + " Variant 5."), THRESHOLD)
    assert hits and hits[0].key == 5 and len(hits) >= SATURATION
    assert [h.key for h in idx.query(normalize(TG), THRESHOLD)] == [9999]
