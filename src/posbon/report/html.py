"""The scan report: one self-contained HTML page (no scripts, no external files).

Everything that came from a post is escaped by Jinja2's autoescaping; links from posts are shown as text,
never as clickable links, and media as file references, never inline (reviewer wellbeing and safety).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from posbon import __version__
from posbon.domain import Evidence
from posbon.store.models import ItemRow

NEEDS_A_LOOK = ("match", "review")


def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("posbon.report", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def highlighted(text: str, evidence: Sequence[dict[str, Any]]) -> list[tuple[str, bool]]:
    """The text cut into (piece, is_marked) by the spans the evidence points at."""
    spans = sorted(
        (int(e["span"][0]), int(e["span"][1]))
        for e in evidence
        if e.get("span")
        and e.get("origin") in (None, "text")  # spans of text read from media point into that text
        and 0 <= int(e["span"][0]) < int(e["span"][1]) <= len(text)
    )
    pieces: list[tuple[str, bool]] = []
    cursor = 0
    for start, end in spans:
        start = max(start, cursor)
        if start >= end:
            continue
        if start > cursor:
            pieces.append((text[cursor:start], False))
        pieces.append((text[start:end], True))
        cursor = end
    if cursor < len(text):
        pieces.append((text[cursor:], False))
    return pieces


def render_report(rows: Sequence[ItemRow], *, title: str = "posbon scan report", problems: int = 0) -> str:
    by_verdict = Counter(r.verdict for r in rows)
    by_language = Counter(r.language for r in rows)
    by_source = Counter(r.source for r in rows)
    flagged = sorted(
        (r for r in rows if r.verdict in NEEDS_A_LOOK),
        key=lambda r: (r.verdict != "match", -r.risk, r.source, r.external_id),
    )
    template = _environment().get_template("scan_report.html")
    return template.render(
        title=title,
        version=__version__,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        total=len(rows),
        problems=problems,
        by_verdict=[(v, by_verdict.get(v, 0)) for v in ("match", "review", "clear")],
        by_language=by_language.most_common(),
        by_source=by_source.most_common(),
        flagged=[
            {
                "row": r,
                "pieces": highlighted(r.text, r.evidence),
                "evidence": [Evidence.from_dict(e) for e in r.evidence],
                "media": [m.get("reference") for m in r.media],
            }
            for r in flagged
        ],
    )


def write_report(rows: Sequence[ItemRow], path: Path, *, problems: int = 0) -> None:
    path.write_text(render_report(rows, problems=problems), encoding="utf-8")
