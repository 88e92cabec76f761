"""News-vs-promotion evaluation of the indicator packs and context cues.

    .venv/bin/python bench/context_eval.py [--data bench/data/context_eval.jsonl] [--show-errors]

For each labelled text (reporting / neutral / promotion): indicator hits from the shipped packs, context from
the shipped cues, evidence from `indicator_evidence`, plus the lead's invite-link evidence (weight 0.3 per
t.me/+ or joinchat link, found with a simple regex), then the assessor's rule: review or more when the
noisy-OR of the weights reaches 0.5. Prints, per language, the false-positive rate on reporting and neutral
texts and the recall on promotion texts.

The eval texts were written by the same people who wrote the cues: the numbers are optimistic.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

from posbon.assess.assessor import assess
from posbon.assess.context import assess_context, indicator_evidence
from posbon.assess.indicator_packs import default_matcher
from posbon.assess.indicators import link_indicators
from posbon.domain import Links, Verdict

INVITE_RE = re.compile(r"(?:https?://)?(?:t|telegram)\.me/(?:\+|joinchat/)[\w-]+", re.IGNORECASE)
DEFAULT_DATA = Path(__file__).parent / "data" / "context_eval.jsonl"


def flagged(text: str) -> tuple[bool, float, str]:
    invites = tuple(INVITE_RE.findall(text))
    hits = default_matcher().find(text)
    context = assess_context(text, hits, invite_links=len(invites))
    evidence = indicator_evidence(hits, context) + link_indicators(Links(invite_links=invites), text)
    assessment = assess(evidence)
    return assessment.verdict is not Verdict.CLEAR, assessment.risk, context.kind


def pct(num: int, den: int) -> str:
    return f"{100 * num / den:.0f}% ({num}/{den})" if den else "-"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--show-errors", action="store_true", help="print every misjudged text")
    args = parser.parse_args(argv)

    rows = []
    for n, line in enumerate(args.data.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            rows.append((row["lang"], row["label"], row["id"], row["text"]))
        except (json.JSONDecodeError, KeyError) as exc:
            print(f"{args.data}:{n}: skipped, not a labelled row: {exc}", file=sys.stderr)

    stats: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    errors = []
    for lang, label, rid, text in rows:
        is_flagged, risk, kind = flagged(text)
        for key in (lang, "all"):
            stats[key][label][0] += int(is_flagged)
            stats[key][label][1] += 1
        if is_flagged != (label == "promotion"):
            errors.append(f"{rid} [{label}, context={kind}, risk={risk:.2f}] {text}")

    langs = sorted(k for k in stats if k != "all") + ["all"]
    print("| lang | reporting FPR | neutral FPR | promotion recall |")
    print("| --- | --- | --- | --- |")
    for lang in langs:
        s = stats[lang]
        print(f"| {lang} | {pct(*s['reporting'])} | {pct(*s['neutral'])} | {pct(*s['promotion'])} |")
    if args.show_errors:
        print()
        for e in errors:
            print(e)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
