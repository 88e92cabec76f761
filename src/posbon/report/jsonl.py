"""One JSON object per scanned item."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from posbon.store.models import ItemRow


def item_record(row: ItemRow) -> dict[str, Any]:
    return {
        "item_id": row.item_id,
        "source": row.source,
        "external_id": row.external_id,
        "created_at": row.created_at.isoformat() if row.created_at else None,
        "url": row.url,
        "language": row.language,
        "language_confidence": row.language_confidence,
        "verdict": row.verdict,
        "risk": row.risk,
        "evidence": row.evidence,
        "links": row.links,
        "media": [m.get("reference") for m in row.media],
        "text": row.text,
    }


def write_jsonl(rows: Iterable[ItemRow], path: Path) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(item_record(row), ensure_ascii=False) + "\n")
            count += 1
    return count
