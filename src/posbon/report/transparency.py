"""The transparency report: one self-contained HTML page (inline SVG bar charts drawn on the server, no
scripts, no external files), with the counts Art. 7 of Regulation 2021/784 asks for. Everything is counted
from decisions, orders and appeals, whose item snapshots survive a purge."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from posbon import __version__
from posbon.policy import RESTRICTING_ACTIONS
from posbon.report.html import _environment
from posbon.review.session import aware
from posbon.store import Store
from posbon.store.review_models import AppealRow, DecisionRow, RemovalOrderRow

DETECTION_NAMES = {
    "bank_match": "bank match",
    "indicator": "indicators",
    "classifier": "classifier",
    "human": "human",
}


@dataclass
class TransparencyFigures:
    start: date
    end: date
    decisions: int = 0
    restrictions: int = 0
    by_action: list[tuple[str, int]] = field(default_factory=list)
    by_category: list[tuple[str, int]] = field(default_factory=list)
    by_language: list[tuple[str, int]] = field(default_factory=list)
    by_source: list[tuple[str, int]] = field(default_factory=list)
    by_detection: list[tuple[str, int]] = field(default_factory=list)
    automated: int = 0
    human: int = 0
    hours_median: float | None = None
    hours_p90: float | None = None
    orders: int = 0
    orders_actioned: int = 0
    orders_in_time: int = 0
    orders_not_actioned: list[tuple[str, int]] = field(default_factory=list)
    orders_open: int = 0
    removed_after_orders: int = 0
    removed_otherwise: int = 0
    complaints: int = 0
    complaints_upheld: int = 0
    complaints_reversed: int = 0
    complaints_open: int = 0
    restored: int = 0

    @property
    def reversal_rate(self) -> float | None:
        resolved = self.complaints_upheld + self.complaints_reversed
        return self.complaints_reversed / resolved if resolved else None


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    return datetime.combine(start, time(), UTC), datetime.combine(end + timedelta(days=1), time(), UTC)


def figures(store: Store, start: date, end: date) -> TransparencyFigures:
    lo, hi = _bounds(start, end)
    f = TransparencyFigures(start, end)
    with store.session() as s:
        decisions = s.scalars(
            select(DecisionRow).where(
                DecisionRow.decided_at >= lo,
                DecisionRow.decided_at < hi,
                DecisionRow.status.in_(("final", "reversed")),
            )
        ).all()
        orders = s.scalars(
            select(RemovalOrderRow).where(RemovalOrderRow.received_at >= lo, RemovalOrderRow.received_at < hi)
        ).all()
        appeals = s.scalars(
            select(AppealRow).where(AppealRow.received_at >= lo, AppealRow.received_at < hi)
        ).all()
        restored = s.scalars(
            select(AppealRow).where(
                AppealRow.status == "reversed", AppealRow.resolved_at >= lo, AppealRow.resolved_at < hi
            )
        ).all()
    f.decisions = len(decisions)
    restricting = [d for d in decisions if d.action in RESTRICTING_ACTIONS]
    f.restrictions = len(restricting)
    f.by_action = Counter(d.action for d in decisions).most_common()
    f.by_category = Counter(d.category for d in restricting).most_common()
    f.by_language = Counter(d.item_language or "und" for d in restricting).most_common()
    f.by_source = Counter(d.item_source or "-" for d in restricting).most_common()
    f.by_detection = Counter(DETECTION_NAMES.get(d.detection, d.detection) for d in restricting).most_common()
    f.automated = sum(1 for d in decisions if d.automated)
    f.human = f.decisions - f.automated
    hours = sorted(
        (decided - seen).total_seconds() / 3600
        for d in decisions
        if (seen := aware(d.item_seen_at)) is not None and (decided := aware(d.decided_at)) is not None
    )
    if hours:
        f.hours_median = statistics.median(hours)
        f.hours_p90 = statistics.quantiles(hours, n=10, method="inclusive")[8] if len(hours) > 1 else hours[0]
    f.orders = len(orders)
    f.orders_actioned = sum(1 for o in orders if o.status == "actioned")
    f.orders_in_time = sum(1 for o in orders if _in_time(o))
    f.orders_not_actioned = Counter(
        o.not_actioned_reason or "-" for o in orders if o.status == "not_actioned"
    ).most_common()
    f.orders_open = sum(1 for o in orders if o.status == "open")
    removing = [d for d in restricting if d.action in ("remove", "geo_block")]
    f.removed_after_orders = sum(1 for d in removing if d.removal_order_id is not None)
    f.removed_otherwise = len(removing) - f.removed_after_orders
    f.complaints = len(appeals)
    f.complaints_upheld = sum(1 for a in appeals if a.status == "upheld")
    f.complaints_reversed = sum(1 for a in appeals if a.status == "reversed")
    f.complaints_open = sum(1 for a in appeals if a.status == "open")
    f.restored = len(restored)
    return f


def _in_time(order: RemovalOrderRow) -> bool:
    done, due = aware(order.actioned_at), aware(order.deadline_at)
    return order.status == "actioned" and done is not None and due is not None and done <= due


def bars(pairs: list[tuple[str, int]], *, width: int = 360) -> dict[str, Any]:
    """Geometry for one horizontal bar chart; the template draws it as inline SVG (labels autoescaped)."""
    top = max((n for _, n in pairs), default=0) or 1
    rows = [
        {"label": str(label), "count": n, "y": i * 22, "w": max(1, round(n / top * width)) if n else 0}
        for i, (label, n) in enumerate(pairs)
    ]
    return {"rows": rows, "height": max(22, len(rows) * 22), "width": width}


def render_transparency(f: TransparencyFigures, *, title: str = "Transparency report") -> str:
    template = _environment().get_template("transparency.html")
    return template.render(
        title=title,
        version=__version__,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        f=f,
        charts=[
            ("Decisions by action", bars(f.by_action)),
            ("Restrictions by category", bars(f.by_category)),
            ("Restrictions by language", bars(f.by_language)),
            ("Restrictions by source", bars(f.by_source)),
            ("Restrictions by detection method", bars(f.by_detection)),
            ("Automated and human decisions", bars([("automated", f.automated), ("human", f.human)])),
            (
                "Removal orders",
                bars(
                    [
                        ("actioned within the hour", f.orders_in_time),
                        ("actioned late", f.orders_actioned - f.orders_in_time),
                        ("not actioned", sum(n for _, n in f.orders_not_actioned)),
                        ("open", f.orders_open),
                    ]
                ),
            ),
            (
                "Complaints",
                bars(
                    [
                        ("upheld", f.complaints_upheld),
                        ("reversed", f.complaints_reversed),
                        ("open", f.complaints_open),
                    ]
                ),
            ),
        ],
    )


def write_transparency(store: Store, start: date, end: date, path: Path) -> TransparencyFigures:
    f = figures(store, start, end)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_transparency(f), encoding="utf-8")
    return f
