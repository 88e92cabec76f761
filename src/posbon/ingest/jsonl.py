"""JSON Lines reader: one post object per line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from posbon.domain import Item, Problem
from posbon.ingest import common
from posbon.ingest.common import MediaResolver, Pseudonymize, build_post, iter_text_lines, too_deep


def read_jsonl(path: Path, pseudonymize: Pseudonymize) -> Iterator[Item | Problem]:
    """Posts from a JSON Lines file. Fields: id, text, created_at, author, source, url, media.

    `media` is a list of paths or one path, relative to the file's folder. Other fields are ignored.
    A line that is not a JSON object gives a Problem naming file:line; reading goes on.
    """
    file = str(path)
    resolver = MediaResolver(path.parent)
    for entry in iter_text_lines(path):
        if isinstance(entry, Problem):
            yield entry
            continue
        number, line = entry
        if not line.strip():
            continue
        deep = f"nested deeper than {common.MAX_JSON_DEPTH} levels (POSBON_MAX_JSON_DEPTH); line skipped"
        try:
            record = json.loads(line)
        except RecursionError:
            yield Problem(file, number, deep)
            continue
        except ValueError as error:
            reason = error.msg if isinstance(error, json.JSONDecodeError) else str(error)
            yield Problem(file, number, f"not valid JSON ({reason}); line skipped")
            continue
        # counting brackets is cheap and bounds the depth from above: only suspect lines are walked
        if line.count("[") + line.count("{") > common.MAX_JSON_DEPTH and too_deep(
            record, common.MAX_JSON_DEPTH
        ):
            yield Problem(file, number, deep)
            continue
        if not isinstance(record, dict):
            yield Problem(file, number, f"a JSON {type(record).__name__}, not an object; line skipped")
            continue
        media_field = record.get("media")
        refs: list[str] = []
        if isinstance(media_field, str):
            refs = [media_field] if media_field.strip() else []
        elif isinstance(media_field, list):
            for ref in media_field:
                if isinstance(ref, str):
                    refs.append(ref)
                else:
                    yield Problem(file, number, "a 'media' entry is not a string path; ignored")
        elif media_field is not None:
            yield Problem(file, number, "'media' is neither a path nor a list of paths; ignored")
        yield from build_post(
            record,
            refs,
            file=file,
            line=number,
            default_source=path.stem,
            resolver=resolver,
            pseudonymize=pseudonymize,
        )
