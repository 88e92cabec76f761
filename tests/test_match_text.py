from posbon.domain import BankEntry, SignalType
from posbon.match.matcher import Matcher
from posbon.match.text_index import TextIndex
from posbon.signals.text import text_signal
from posbon.text.normalize import normalize

# Benign stand-ins for "known content", written for these tests.
BANKED = (
    "Бародарони азиз, дар бораи боғи нави шаҳр бояд донед: ҳар рӯзи шанбе мо дарахтон шинонда, "
    "роҳчаҳоро тоза мекунем ва ба ҳамсояҳо чой медиҳем. Биёед ва бо худ бел ва дастпӯшак биёред."
)
SAME_TOPIC = (
    "Дар боғи шаҳр имрӯз ҳаво хуб буд. Кӯдакон дар назди ҳавз бозӣ мекарданд ва пиронсолон дар "
    "сояи дарахтон нишаста, дар бораи ҳосили имсола ва нархи меваю сабзавот сӯҳбат мекарданд."
)
NEWS = (
    "Дар шаҳраки мо корхонаи нави нонпазӣ кушода шуд. Соҳиби он ваъда дод, ки ҳар субҳ нони гарм "
    "ва кулчаҳои ширин мепазад. Аввалин харидорон аз маззаи самбӯсаҳо хушҳол шуданд. "
    "Ҳамчунин дар кӯчаи Сомонӣ чароғҳои нав насб карданд, ки шабона роҳро равшан мекунанд. "
)
FILLER = (
    "Рӯзи душанбе дар мактаби рақами панҷ озмуни китобхонӣ баргузор шуд. Хонандагон шеърҳои "
    "Рӯдакӣ ва Фирдавсиро қироат карданд, муаллимон ғолибонро бо китобҳои нав қадрдонӣ намуданд. "
    "Баъд аз озмун ҳама ба ошхона рафта, оши палав хӯрданд ва то бегоҳ дар ҳавлӣ суруд хонданд. "
)


def _matcher() -> Matcher:
    entries = [
        BankEntry(1, "demo", SignalType.TEXT, normalize(BANKED), "garden call", original_text=BANKED),
        BankEntry(2, "demo", SignalType.TEXT, normalize(FILLER * 2), "school contest"),
    ]
    return Matcher(entries)


def _match(matcher: Matcher, text: str) -> list[tuple[int | None, float | None]]:
    signal = text_signal(normalize(text))
    assert signal is not None
    return [(e.entry_id, e.similarity) for e in matcher.match([signal])]


def test_exact_copy_matches_with_full_similarity() -> None:
    evidence = _matcher().match([text_signal(normalize(BANKED))])  # type: ignore[list-item]
    assert [e.entry_id for e in evidence] == [1]
    assert evidence[0].similarity == 1.0
    assert evidence[0].matched_text == BANKED
    assert evidence[0].kind == "bank_match" and evidence[0].signal_type == "text"
    assert "containment 1.00" in evidence[0].detail and "garden call" in evidence[0].detail


def test_copy_with_emoji_and_punctuation_matches() -> None:
    noisy = "🔥🔥 " + BANKED.replace(", ", " ‼️ ").replace(".", " ✅ ...") + " 👉👉"
    found = _match(_matcher(), noisy)
    assert found[0][0] == 1 and (found[0][1] or 0) > 0.95


def test_banked_paragraph_quoted_in_five_times_longer_post_matches_by_containment() -> None:
    post = FILLER + NEWS + BANKED + " " + SAME_TOPIC + " " + NEWS.upper() + FILLER.replace("Рӯзи", "Шоми")
    assert len(post) > 5 * len(BANKED)
    matcher = _matcher()
    evidence = matcher.match([text_signal(normalize(post))])  # type: ignore[list-item]
    by_id = {e.entry_id: e for e in evidence}
    assert 1 in by_id and (by_id[1].similarity or 0) > 0.95
    # resemblance alone would not have found it
    hits = TextIndex()
    hits.add(1, normalize(BANKED))
    (hit,) = hits.query(normalize(post))
    assert hit.resemblance < 0.25 and hit.containment > 0.95


def test_unrelated_text_on_the_same_topic_does_not_match() -> None:
    assert _match(_matcher(), SAME_TOPIC) == []


def test_partly_edited_copy_is_scored_and_thresholded() -> None:
    words = BANKED.split()
    edited = " ".join(w if i % 8 else "тағйир" for i, w in enumerate(words))  # every 8th word replaced
    strict = Matcher([BankEntry(1, "demo", SignalType.TEXT, normalize(BANKED))], text_threshold=0.9)
    default = Matcher([BankEntry(1, "demo", SignalType.TEXT, normalize(BANKED))])
    assert _match(strict, edited) == []
    ((entry_id, similarity),) = _match(default, edited)
    assert entry_id == 1 and 0.6 <= (similarity or 0) < 0.9
