from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from posbon.domain import Item, MediaKind, Problem
from posbon.ingest import detect_format, read_source
from posbon.ingest.telegram import message_text
from posbon.privacy import Pseudonymizer

PSEUDO = Pseudonymizer(b"test-key")
NOT_INCLUDED = "(File not included. Change data exporting settings to download.)"
REACTORS = ("user900001", "user900002", "Reactor Person")


def read(path: Path, fmt: str | None = None) -> tuple[list[Item], list[Problem]]:
    out = list(read_source(path, fmt, PSEUDO))
    return [o for o in out if isinstance(o, Item)], [o for o in out if isinstance(o, Problem)]


def export(folder: Path, messages: list[dict[str, Any]], name: str = "Weather Channel") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    doc = {"name": name, "type": "public_channel", "id": 1234567, "messages": messages}
    (folder / "result.json").write_text(json.dumps(doc, ensure_ascii=False, indent=1))
    return folder


def sample(folder: Path) -> Path:
    (folder / "photos").mkdir(parents=True)
    (folder / "video_files").mkdir()
    (folder / "photos" / "photo_1@01-03-2024_12-34-56.jpg").write_bytes(b"jpg")
    (folder / "video_files" / "clip.mp4").write_bytes(b"mp4")
    (folder / "video_files" / "other_thumb.jpg").write_bytes(b"jpg")
    reactions = [
        {
            "type": "emoji",
            "count": 2,
            "emoji": "👍",
            "recent": [
                {"from": "Reactor Person", "from_id": "user900001", "date": "2024-03-01T13:00:00"},
                {"from": "Other", "from_id": "user900002", "date": "2024-03-01T13:01:00"},
            ],
        }
    ]
    return export(
        folder,
        [
            {
                "id": 1,
                "type": "service",
                "date": "2024-03-01T12:00:00",
                "date_unixtime": "1709294400",
                "actor": "Admin",
                "actor_id": "user1",
                "action": "invite_members",
                "members": ["user900001"],
                "text": "",
            },
            {
                "id": 2,
                "type": "message",
                "date": "2024-03-01T12:34:56",
                "date_unixtime": "1709296496",
                "from": "Weather Channel",
                "from_id": "channel1234567",
                "text": [
                    "Forecast for Dushanbe ",
                    {"type": "hashtag", "text": "#weather"},
                    " by ",
                    {"type": "mention", "text": "@forecaster"},
                    ": ",
                    {"type": "text_link", "text": "details", "href": "https://example.org/forecast"},
                    " and ",
                    {"type": "link", "text": "https://t.me/example"},
                    {"type": "bold", "text": "!"},
                ],
                "text_entities": [],
                "photo": "photos/photo_1@01-03-2024_12-34-56.jpg",
                "reactions": reactions,
                "edited": "2024-03-01T12:40:00",
            },
            {
                "id": 3,
                "type": "message",
                "date": "2024-03-01T12:35:00",
                "date_unixtime": "1709296500",
                "from_id": "user456",
                "forwarded_from": "Some Forwarder",
                "text": "plain text",
                "file": "video_files/clip.mp4",
                "thumbnail": "video_files/clip.mp4_thumb.jpg",
                "media_type": "video_file",
                "mime_type": "video/mp4",
                "reply_to_message_id": 2,
                "reactions": reactions,
            },
            {
                "id": 4,
                "type": "message",
                "date_unixtime": "1709296600",
                "from_id": "user456",
                "text": "",
                "file": NOT_INCLUDED,
                "thumbnail": NOT_INCLUDED,
                "media_type": "video_file",
            },
            {
                "id": 5,
                "type": "message",
                "date_unixtime": "1709296700",
                "text": "escape",
                "photo": "../outside.jpg",
                "file": "/etc/hostname",
            },
            {
                "id": 6,
                "type": "message",
                "date_unixtime": "1709296800",
                "text": "thumb only",
                "file": NOT_INCLUDED,
                "thumbnail": "video_files/other_thumb.jpg",
            },
        ],
    )


def test_messages_text_media_and_privacy(tmp_path: Path) -> None:
    folder = sample(tmp_path / "ChatExport_2024-03-01")
    items, problems = read(folder)
    assert [i.external_id for i in items] == ["2", "3", "4", "5", "6"]  # service message 1 skipped
    post = items[0]
    assert post.text == (
        "Forecast for Dushanbe #weather by @forecaster: details and https://t.me/example!\n"
        "https://example.org/forecast"
    )
    assert post.source == "Weather Channel" and post.url is None
    assert post.created_at == datetime(2024, 3, 1, 12, 34, 56, tzinfo=UTC)
    assert post.author == PSEUDO("channel1234567")
    assert post.origin == f"{folder / 'result.json'}:message 2"
    assert post.media[0].path == (folder / "photos" / "photo_1@01-03-2024_12-34-56.jpg").resolve()
    assert post.media[0].kind is MediaKind.IMAGE
    video = items[1]
    assert [(m.reference, m.kind) for m in video.media] == [("video_files/clip.mp4", MediaKind.VIDEO)]
    assert items[2].media == [] and items[2].text == ""  # "File not included": no media, no problem
    assert items[3].media == [] and items[3].text == "escape"
    assert [m.reference for m in items[4].media] == ["video_files/other_thumb.jpg"]
    outside = "points outside the input folder; ignored"
    assert [str(p) for p in problems] == [
        f"{folder / 'result.json'}: message 5: media reference '../outside.jpg' {outside}",
        f"{folder / 'result.json'}: message 5: media reference '/etc/hostname' {outside}",
    ]
    dump = repr(items)
    for who in (*REACTORS, "user456", "channel1234567", "Some Forwarder", "user1"):
        assert who not in dump


def test_stable_ids_detect_and_file_path(tmp_path: Path) -> None:
    folder = sample(tmp_path / "export")
    result = folder / "result.json"
    assert detect_format(folder) == "telegram" and detect_format(result) == "telegram"
    first = [i.item_id for i in read(folder)[0]]
    assert first == [i.item_id for i in read(result)[0]] == [i.item_id for i in read(result, "telegram")[0]]
    minified = tmp_path / "min.json"
    minified.write_text(json.dumps({"name": "x", "messages": []}))
    assert detect_format(minified) == "telegram"


def test_symlink_out_refused(tmp_path: Path) -> None:
    (tmp_path / "private.jpg").write_bytes(b"x")
    folder = export(tmp_path / "exp", [{"id": 9, "type": "message", "text": "s", "photo": "photos/p.jpg"}])
    (folder / "photos").mkdir()
    os.symlink(tmp_path / "private.jpg", folder / "photos" / "p.jpg")
    items, problems = read(folder)
    assert items[0].media == [] and "points outside the input folder" in problems[0].message


def test_name_fallback_and_local_date(tmp_path: Path) -> None:
    folder = tmp_path / "MyExport"
    folder.mkdir()
    (folder / "result.json").write_text(
        json.dumps(
            {
                "type": "private_supergroup",
                "messages": [{"id": 1, "type": "message", "date": "2024-03-01T12:34:56", "text": "hi"}],
            }
        )
    )
    items, problems = read(folder)
    assert problems == [] and items[0].source == "MyExport"
    assert items[0].created_at == datetime(2024, 3, 1, 12, 34, 56, tzinfo=UTC)


def test_broken_json_keeps_earlier_messages(tmp_path: Path) -> None:
    folder = export(tmp_path / "exp", [{"id": n, "type": "message", "text": f"m{n}"} for n in range(1, 4)])
    result = folder / "result.json"
    whole = result.read_text()
    result.write_text(whole[: whole.index('"m3"') - 8] + ",,}\n]}\n")
    items, problems = read(folder)
    assert [i.external_id for i in items] == ["1", "2"]
    assert len(problems) == 1 and problems[0].file == str(result)
    bad_line = next(n for n, text in enumerate(result.read_text().splitlines(), 1) if ",," in text)
    assert problems[0].line == bad_line
    assert problems[0].message.startswith(f"invalid JSON in line {bad_line}: parse error")
    assert problems[0].message.endswith("after 2 messages")
    truncated = tmp_path / "t" / "result.json"
    truncated.parent.mkdir()
    truncated.write_text(whole[: whole.index('"m2"') + 6])
    items, problems = read(truncated)
    assert items and "premature EOF" in problems[-1].message


def test_not_an_export(tmp_path: Path) -> None:
    account = tmp_path / "result.json"
    account.write_text(
        json.dumps({"about": "x", "personal_information": {"phone_number": "+1"}, "chats": {}})
    )
    items, problems = read(account, "telegram")
    assert items == [] and "whole-account" in problems[0].message
    array = tmp_path / "arr.json"
    array.write_text("[1, 2]")
    assert read(array, "telegram") == (
        [],
        [Problem(str(array), None, "not a Telegram chat export (the file is not a JSON object)")],
    )
    empty = tmp_path / "e" / "result.json"
    empty.parent.mkdir()
    empty.write_bytes(b"")
    assert read(empty.parent)[1] == [Problem(str(empty), None, "file is empty")]


def test_message_text_buttons_and_poll() -> None:
    text = message_text(
        {
            "text": "Join",
            "inline_bot_buttons": [[{"type": "url", "text": "Open", "data": "https://t.me/+AbCdEf"}]],
            "poll": {"question": "Rain?", "answers": [{"text": "yes", "voters": 3}, {"text": "no"}]},
        }
    )
    assert text == "Join\nRain?\nyes\nno\nhttps://t.me/+AbCdEf"
    assert message_text(
        {"text": [{"type": "text_link", "text": "https://a.example", "href": "https://a.example"}]}
    ) == ("https://a.example")
