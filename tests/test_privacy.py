"""posbon keeps no list of who liked, viewed, commented on or shared a post: inputs that carry such lists are
scanned end to end and the database holds none of those ids. No service looks items up by author."""

from __future__ import annotations

import inspect
import json
import sqlite3
from pathlib import Path

from posbon import review
from posbon.scan import run_scan
from posbon.settings import Settings
from posbon.store import Store

PEOPLE = [
    "viewer_user_90817",
    "liker_user_55120",
    "commenter_user_31337",
    "forwarder_user_77001",
    "7712345901",
]


def test_interaction_lists_never_reach_the_store(tmp_path: Path) -> None:
    jsonl = tmp_path / "posts.jsonl"
    posts = [
        {
            "id": "p1",
            "text": "A benign stand-in announcement of a reading circle.",
            "author": "author_account_1",
            "viewers": [PEOPLE[0]],
            "likers": [PEOPLE[1]],
            "commenters": [{"id": PEOPLE[2], "name": "Commenter Name"}],
            "forwarders": [PEOPLE[3]],
        }
    ]
    jsonl.write_text("\n".join(json.dumps(p) for p in posts) + "\n", encoding="utf-8")
    export = tmp_path / "ChatExport"
    export.mkdir()
    (export / "result.json").write_text(
        json.dumps(
            {
                "name": "Demo channel",
                "type": "public_channel",
                "id": 1001,
                "messages": [
                    {
                        "id": 5,
                        "type": "message",
                        "date": "2026-10-02T10:00:00",
                        "from": "Demo channel",
                        "from_id": "channel1001",
                        "text": "Another benign stand-in post about the weekly meeting.",
                        "reactions": [
                            {
                                "type": "emoji",
                                "count": 2,
                                "emoji": "👍",
                                "recent": [
                                    {"from": "Liker", "from_id": f"user{PEOPLE[4]}", "date": "2026-10-02"}
                                ],
                            }
                        ],
                        "forwarded_from": "Someone",
                        "viewers": [PEOPLE[0]],
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    settings = Settings.load(tmp_path / "data")
    store = Store.open(settings.database_url)
    summary = run_scan(store, settings, [jsonl, export], ocr=False)
    assert summary.items_seen == 2
    store.close()
    dump = "\n".join(sqlite3.connect(tmp_path / "data" / "posbon.db").iterdump())
    assert "reading circle" in dump  # the posts themselves are there
    for person in PEOPLE:
        assert person not in dump
    assert "Commenter Name" not in dump and "author_account_1" not in dump


def test_no_review_service_takes_an_author() -> None:
    for name in review.__all__:
        obj = getattr(review, name)
        if callable(obj) and inspect.isfunction(obj):
            params = inspect.signature(obj).parameters
            assert not {"author", "authors", "author_id", "pseudonym"} & set(params), (
                f"{name} takes an author"
            )
