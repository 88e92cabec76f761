"""News versus promotion: does a text REPORT on a group or PROMOTE it?

EU Regulation 2021/784 Art. 1(3) exempts material shared for journalism, research, education and
counter-terrorism. An article that names a group twenty times while condemning it must stay clear; a post with
an official outlet's branding and an invite link must reach review.

The judgement is a transparent sum of weighted cues from `packs/context_cues.yaml` (each cue counted once,
each one a reason shown to the reviewer):

    R = sum of reporting cue weights        (attribution, condemnation, official vocabulary, bylines ...)
    P = sum of promotion cue weights        (imperatives, 'our brothers', exhortation, secrecy ...)
        + invite_link_cue                   (the text carries an invite link)
        + branding_with_invite_cue          (... together with an outlet / publication name)
    score = (P - R) / max(1, P + R)         -1 clearly reporting .. +1 clearly promotion

`indicator_evidence` turns hits into Evidence: each indicator counted once (repeats do not add up), weights
multiplied by `reporting_damping` when the text reads as reporting, a combined `branding_with_invite`
indicator when an outlet name comes with an invite link, and one `context` Evidence explaining the judgement
(weight > 0 only for promotion with an anchor hit: a name of the group or its outlets, or a call to travel,
pledge or join; generic 'write me in private' with 'join us' is everyday selling talk, not promotion of a
group).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from posbon.assess.indicator_packs import (
    CONTEXT_CUES_FILE,
    PACKS_DIR,
    IndicatorHit,
    IndicatorMatcher,
    IndicatorPack,
    PackError,
    load_pack,
)
from posbon.domain import Evidence

REPORTING = "reporting"
PROMOTION = "promotion"
UNKNOWN = "unknown"
BRANDING_CATEGORIES = frozenset({"outlet_name", "publication_name"})


@dataclass(frozen=True)
class ContextAssessment:
    kind: str  # "reporting" | "promotion" | "unknown"
    score: float  # -1 (clearly reporting) .. +1 (clearly promotion)
    reasons: tuple[str, ...]
    invite_links: int = 0  # how many invite links the text carried (for the branding + invite indicator)


@dataclass(frozen=True)
class ContextSettings:
    promotion_threshold: float = 0.25
    reporting_threshold: float = -0.25
    reporting_damping: float = 0.3
    invite_link_cue: float = 0.35
    branding_with_invite_cue: float = 0.35
    branding_with_invite_weight: float = 0.25
    promotion_context_weight: float = 0.3
    anchor_categories: frozenset[str] = frozenset(
        {
            "outlet_name",
            "publication_name",
            "group_name",
            "call_to_travel",
            "pledge_allegiance",
            "call_to_join",
        }
    )

    @classmethod
    def from_pack(cls, pack: IndicatorPack) -> ContextSettings:
        raw = dict(pack.settings)
        kwargs: dict[str, object] = {}
        for name in cls.__dataclass_fields__:
            if name not in raw:
                continue
            value = raw.pop(name)
            if name == "anchor_categories":
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise PackError(f"{pack.path}: settings.anchor_categories must be a list of categories")
                kwargs[name] = frozenset(value)
            else:
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise PackError(f"{pack.path}: settings.{name} must be a number, got {value!r}")
                kwargs[name] = float(value)
        if raw:
            raise PackError(f"{pack.path}: unknown setting(s): {', '.join(sorted(map(str, raw)))}")
        return cls(**kwargs)  # type: ignore[arg-type]


class ContextModel:
    """Context cues loaded from a cue pack (same schema as indicator packs; category reporting|promotion)."""

    def __init__(self, cues: IndicatorPack) -> None:
        for ind in cues.indicators:
            if ind.category not in (REPORTING, PROMOTION):
                raise PackError(
                    f"{cues.path}: indicator '{ind.id}': category must be reporting or promotion, "
                    f"got {ind.category!r}"
                )
        self.pack = cues
        self.settings = ContextSettings.from_pack(cues)
        self._matcher = IndicatorMatcher([cues])
        self._labels = {ind.id: ind.description or ind.id for ind in cues.indicators}

    @classmethod
    def from_file(cls, path: Path) -> ContextModel:
        return cls(load_pack(path))

    def assess(
        self, original_text: str, hits: Sequence[IndicatorHit], *, invite_links: int = 0
    ) -> ContextAssessment:
        s = self.settings
        seen: set[str] = set()
        reasons: list[str] = []
        reporting = promotion = 0.0
        for cue in self._matcher.find(original_text):
            if cue.indicator_id in seen:
                continue
            seen.add(cue.indicator_id)
            label = self._labels[cue.indicator_id]
            if cue.category == REPORTING:
                reporting += cue.weight
                reasons.append(f"reporting: {label} «{cue.matched}» (-{cue.weight:g})")
            else:
                promotion += cue.weight
                reasons.append(f"promotion: {label} «{cue.matched}» (+{cue.weight:g})")
        if invite_links > 0:
            promotion += s.invite_link_cue
            reasons.append(f"promotion: invite link into a private chat (+{s.invite_link_cue:g})")
            branded = next((h for h in hits if h.category in BRANDING_CATEGORIES), None)
            if branded is not None:
                promotion += s.branding_with_invite_cue
                reasons.append(
                    f"promotion: outlet name «{branded.matched}» together with an invite link "
                    f"(+{s.branding_with_invite_cue:g})"
                )
        total = reporting + promotion
        score = 0.0 if total == 0 else (promotion - reporting) / max(1.0, total)
        score = round(max(-1.0, min(1.0, score)), 4)
        if score >= s.promotion_threshold:
            kind = PROMOTION
        elif score <= s.reporting_threshold:
            kind = REPORTING
        else:
            kind = UNKNOWN
        return ContextAssessment(kind=kind, score=score, reasons=tuple(reasons), invite_links=invite_links)

    def evidence(self, hits: Sequence[IndicatorHit], context: ContextAssessment) -> list[Evidence]:
        s = self.settings
        if not hits and context.invite_links <= 0:
            return []
        damp = s.reporting_damping if context.kind == REPORTING else 1.0
        first: dict[str, IndicatorHit] = {}
        counts: dict[str, int] = {}
        for h in hits:
            first.setdefault(h.indicator_id, h)
            counts[h.indicator_id] = counts.get(h.indicator_id, 0) + 1
        evidence: list[Evidence] = []
        damped_note = f"; weight x{damp:g}: reads as reporting" if damp != 1.0 else ""
        for iid, h in first.items():
            times = f", {counts[iid]} occurrences counted once" if counts[iid] > 1 else ""
            evidence.append(
                Evidence(
                    kind="indicator",
                    detail=f"{h.category}: «{h.matched}» [{h.pack} {h.pack_version} / {iid}]"
                    f"{times}{damped_note}",
                    span=h.span,
                    matched_text=h.matched,
                    origin="text",
                    entry_label=iid,
                    weight=round(h.weight * damp, 4),
                    category=h.category,
                )
            )
        branded = next((h for h in hits if h.category in BRANDING_CATEGORIES), None)
        if branded is not None and context.invite_links > 0:
            evidence.append(
                Evidence(
                    kind="indicator",
                    detail=f"branding_with_invite: outlet/publication «{branded.matched}» together with an "
                    f"invite link into a private chat{damped_note}",
                    span=branded.span,
                    matched_text=branded.matched,
                    origin="text",
                    entry_label="branding_with_invite",
                    weight=round(s.branding_with_invite_weight * damp, 4),
                    category="branding_with_invite",
                )
            )
        cues = "; ".join(context.reasons) or "no cues"
        if context.kind == REPORTING:
            detail = f"reads as news / reporting (score {context.score:+.2f}): {cues}"
            weight = 0.0
        elif context.kind == PROMOTION:
            anchored = any(h.category in s.anchor_categories for h in hits)
            weight = round(s.promotion_context_weight * context.score, 4) if anchored else 0.0
            extra = (
                ""
                if anchored
                else " (no name of the group, its outlets or a call to travel/pledge/join: adds no weight)"
            )
            detail = f"promotion cues (score {context.score:+.2f}): {cues}{extra}"
        else:
            detail = f"context unclear (score {context.score:+.2f}): {cues}"
            weight = 0.0
        evidence.append(
            Evidence(kind="context", detail=detail, origin="text", weight=weight, context=context.kind)
        )
        return evidence


@lru_cache(maxsize=1)
def default_context_model() -> ContextModel:
    """The shipped cues (packs/context_cues.yaml), loaded once."""
    return ContextModel.from_file(PACKS_DIR / CONTEXT_CUES_FILE)


def assess_context(
    original_text: str, hits: Sequence[IndicatorHit], *, invite_links: int = 0
) -> ContextAssessment:
    """Judge whether `original_text` reports on or promotes the group its indicator `hits` name."""
    return default_context_model().assess(original_text, hits, invite_links=invite_links)


def indicator_evidence(hits: Sequence[IndicatorHit], context: ContextAssessment) -> list[Evidence]:
    """Evidence for the assessor: one per indicator (damped under reporting), branding+invite, context."""
    return default_context_model().evidence(hits, context)


__all__ = [
    "PROMOTION",
    "REPORTING",
    "UNKNOWN",
    "ContextAssessment",
    "ContextModel",
    "ContextSettings",
    "assess_context",
    "default_context_model",
    "indicator_evidence",
]
