from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from posbon.assess.assessor import assess
from posbon.assess.context import (
    PROMOTION,
    REPORTING,
    ContextModel,
    assess_context,
    default_context_model,
    indicator_evidence,
)
from posbon.assess.indicator_packs import PackError, default_matcher, load_pack
from posbon.assess.indicators import link_indicators
from posbon.domain import Assessment, Links, Verdict

INVITE_RE = re.compile(r"t\.me/(?:\+|joinchat/)[\w-]+")
EVAL_DATA = Path(__file__).resolve().parents[1] / "bench" / "data" / "context_eval.jsonl"


def run(text: str) -> tuple[Assessment, str]:
    """The lead's pipeline in miniature: pack hits + context + invite-link evidence -> assessor."""
    invites = tuple(INVITE_RE.findall(text))
    hits = default_matcher().find(text)
    context = assess_context(text, hits, invite_links=len(invites))
    evidence = indicator_evidence(hits, context) + link_indicators(Links(invite_links=invites), text)
    return assess(evidence), context.kind


def test_article_naming_the_group_twenty_times_while_condemning_it_is_clear() -> None:
    sentence = "ISKP claimed the attack, according to officials, and the ministry condemned ISKP. "
    text = (
        "KABUL (Reuters) - " + sentence * 10 + "Analysts said Amaq and Al-Naba still publish ISKP material."
    )
    assert text.count("ISKP") >= 20
    assessment, kind = run(text)
    assert kind == REPORTING
    assert assessment.verdict is Verdict.CLEAR and assessment.risk < 0.5
    indicator = [e for e in assessment.evidence if e.kind == "indicator"]
    assert len({e.entry_label for e in indicator}) == len(indicator)  # each indicator counted once
    assert any("occurrences counted once" in e.detail for e in indicator)


@pytest.mark.parametrize(
    "text",
    [
        "Al-Azaim: new release. Brothers, join our closed group t.me/+FakeEn01",
        "Аль-Азаим, новый выпуск. Вступайте: t.me/+FakeRu01",
        "Садои Хуросон, шумораи нав. Ҳамроҳ шавед t.me/joinchat/FakeTg01",
        "Xuroson ovozi yangi soni, qo'shiling t.me/+FakeUz01",
        "صدای خراسان، به ما بپیوندید t.me/+FakeFa01",
        "خراسان غږ: یوځای شئ t.me/+FakePs01",
        "وكالة أعماق: انضموا t.me/+FakeAr01",
    ],
)
def test_outlet_branding_with_invite_link_is_at_least_review(text: str) -> None:
    assessment, kind = run(text)
    assert kind == PROMOTION
    assert assessment.verdict is Verdict.REVIEW and assessment.risk >= 0.5
    assert any(e.entry_label == "branding_with_invite" for e in assessment.evidence)


def test_outlet_name_and_bare_invite_link_reach_review_without_other_cues() -> None:
    assessment, _ = run("Amaq t.me/+Abc123")
    assert assessment.verdict is Verdict.REVIEW


@pytest.mark.parametrize(
    "text",
    [
        "МОСКВА, 5 апреля — ФСБ задержала вербовщика группировки ИГИЛ-Хорасан, сообщает ТАСС. "
        "По данным следствия, он распространял материалы агентства «Амак».",
        "به گزارش ایرنا، دادگاه دو نفر را به اتهام انتشار نشریه النبأ محکوم کرد.",
        "Додгоҳи шаҳри Хуҷанд се нафарро барои паҳн кардани маводи агентии Амак маҳкум кард, "
        "хабар медиҳад Ховар.",
        "قضت محكمة بسجن شخصين بتهمة نشر صحيفة النبأ، حسبما ذكرت وكالة الأنباء.",
    ],
)
def test_news_in_several_languages_reads_as_reporting_and_is_damped(text: str) -> None:
    hits = default_matcher().find(text)
    assert hits, "the example must name an outlet"
    context = assess_context(text, hits)
    assert context.kind == REPORTING and context.score < 0
    evidence = indicator_evidence(hits, context)
    damping = default_context_model().settings.reporting_damping
    for e in evidence:
        if e.kind == "indicator":
            base = next(h.weight for h in hits if h.indicator_id == e.entry_label)
            assert e.weight == pytest.approx(base * damping)
    ctx = [e for e in evidence if e.kind == "context"]
    assert len(ctx) == 1 and ctx[0].detail.startswith("reads as news / reporting") and ctx[0].weight == 0
    assert run(text)[0].verdict is Verdict.CLEAR


@pytest.mark.parametrize(
    "text",
    [
        "Ey birodarlar, hijrat qiling va mujohidlar safiga qo'shiling t.me/+FakeUz02",
        "ای وروڼو، هجرت وکړئ او خراسان ته راشئ t.me/+FakePs02",
        "О братья, совершите хиджру! Пишите нам в личку t.me/+FakeRu02",
    ],
)
def test_calls_to_travel_with_invite_are_promotion_and_review(text: str) -> None:
    assessment, kind = run(text)
    assert kind == PROMOTION
    assert assessment.verdict is Verdict.REVIEW
    ctx = [e for e in assessment.evidence if e.kind == "context"]
    assert ctx[0].detail.startswith("promotion cues") and ctx[0].weight > 0


def test_everyday_selling_with_invite_link_stays_clear() -> None:
    text = "Продаю велосипед. Пишите в личку или присоединяйтесь к чату t.me/+VeloSale22"
    assessment, kind = run(text)
    assert kind == PROMOTION  # it is promotional in tone ...
    assert assessment.verdict is Verdict.CLEAR  # ... but of no group: the context adds no weight
    ctx = [e for e in assessment.evidence if e.kind == "context"]
    assert ctx[0].weight == 0 and "adds no weight" in ctx[0].detail


def test_every_cue_is_a_reason() -> None:
    text = "According to the ministry, recruiters of ISKP were arrested. Join us t.me/+x1"
    hits = default_matcher().find(text)
    context = assess_context(text, hits, invite_links=1)
    reasons = " | ".join(context.reasons)
    assert "«According to»" in reasons and "«ministry»" in reasons and "«Join us»" in reasons
    assert "invite link" in reasons


def test_nothing_found_gives_no_evidence() -> None:
    context = assess_context("Good morning, the weather is fine.", [])
    assert indicator_evidence([], context) == []


def test_context_model_rejects_bad_cue_category(tmp_path: Path) -> None:
    path = tmp_path / "cues.yaml"
    path.write_text(
        "id: c\nversion: 1\nindicators:\n  - id: x\n    category: outlet_name\n    weight: 0.2\n"
        "    languages: [en]\n    scripts: [Latn]\n    terms: [hello]\n",
        encoding="utf-8",
    )
    with pytest.raises(PackError, match=r"indicator 'x': category must be reporting or promotion"):
        ContextModel(load_pack(path))
    path.write_text(
        "id: c\nversion: 1\nsettings: {reporting_damping: lots}\nindicators:\n"
        "  - id: x\n    category: reporting\n"
        "    weight: 0.2\n    languages: [en]\n    scripts: [Latn]\n    terms: [hello]\n",
        encoding="utf-8",
    )
    with pytest.raises(PackError, match=r"settings.reporting_damping must be a number"):
        ContextModel(load_pack(path))


def test_eval_set_is_balanced_across_languages() -> None:
    rows = [json.loads(line) for line in EVAL_DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(rows) >= 140
    per_lang = Counter(r["lang"] for r in rows)
    assert set(per_lang) == {"tg", "ru", "uz", "fa", "ps", "ar", "en"}
    assert all(n >= 18 for n in per_lang.values())
    assert {r["label"] for r in rows} == {"reporting", "promotion", "neutral"}
    assert len({r["id"] for r in rows}) == len(rows)
