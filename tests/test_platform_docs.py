"""docs/platform.md's examples are proven: every curl command in a ```bash block marked `# tested` is run
(translated to the same request through the app's test client) and must succeed (curl -f); the webhook
receivers in its ```python blocks marked `# tested` are run against real posbon deliveries and must accept
them, once, and refuse tampered, wrongly keyed and stale ones."""

from __future__ import annotations

import json
import re
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from posbon.platform import verify
from posbon.platform.partners import add_partner
from posbon.platform.webhooks import WebhookEvent, add_endpoint, deliver_pending, enqueue_event
from posbon.review import decide
from posbon.review.policies import active_policy
from posbon.review.session import write_session
from test_web_support import build, client

DOC = Path(__file__).resolve().parents[1] / "docs" / "platform.md"
BLOCK = re.compile(r"```bash\n(# tested\n.*?)```", re.S)
PYTHON_BLOCK = re.compile(r"```python\n(# tested\n.*?)```", re.S)
SECRET = "stand-in-secret-for-tests-0123456789"


def curl_commands(text: str, env: dict[str, str]) -> list[list[str]]:
    """The curl commands of the tested blocks, variables filled in, as argument lists."""
    commands: list[list[str]] = []
    for block in BLOCK.findall(text):
        filled = re.sub(r"\$\{?(\w+)\}?", lambda m: env[m.group(1)], block.replace("\\\n", " "))
        current: list[str] | None = None
        for token in shlex.split(filled, comments=True):
            if token == "curl":
                current = []
                commands.append(current)
            elif current is not None:
                current.append(token)
    return commands


def run_curl(c: Any, args: list[str]) -> Any:
    method, headers, data, url = "GET", {}, None, None
    it = iter(args)
    for arg in it:
        if arg == "-X":
            method = next(it)
        elif arg == "-H":
            name, _, value = next(it).partition(":")
            headers[name.strip()] = value.strip()
        elif arg in ("-d", "--data"):
            data = next(it)
            method = "POST" if method == "GET" else method
        elif arg.startswith("-"):
            assert arg in ("-fsS", "-s", "-S", "-f"), f"unsupported curl option {arg} in docs/platform.md"
        else:
            url = arg
    assert url is not None
    if data is not None:
        json.loads(data)  # the documented body is valid JSON
    return c.request(method, url, content=data, headers=headers)


def test_documented_curl_commands_work(tmp_path: Path) -> None:
    fx = build(tmp_path)
    c = client(fx)
    env = {
        "BASE": "http://127.0.0.1",
        "PLATFORM_KEY": fx.keys["viewer"],
        "ADMIN_KEY": fx.keys["admin"],
        "AUTHORITY_KEY": add_partner(fx.store, "Example Competent Authority", "competent_authority"),
    }
    commands = curl_commands(DOC.read_text(encoding="utf-8"), env)
    assert len(commands) == 4
    answers = []
    for args in commands:
        r = run_curl(c, args)
        assert r.status_code < 400, f"curl {' '.join(args[:3])} -> {r.status_code} {r.text}"
        answers.append(r.json())
    assert answers[0]["status"] == "queued" and answers[1]["id"] == answers[0]["id"]
    assert answers[2]["authority"] == "Example Competent Authority" and answers[2]["deadline"]
    assert answers[3] == []


def test_documented_webhook_receivers_verify_real_deliveries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocks = PYTHON_BLOCK.findall(DOC.read_text(encoding="utf-8"))
    assert len(blocks) == 2
    monkeypatch.setitem(sys.modules, "verify", verify)  # the doc's receiver copies verify.py next to it
    monkeypatch.setenv("POSBON_HOOK_KEY", SECRET)
    acted: list[dict[str, Any]] = []
    namespace: dict[str, Any] = {"act_on": acted.append}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)
    handle, from_posbon = namespace["handle"], namespace["from_posbon"]

    sent: list[tuple[httpx.Headers, bytes, int]] = []

    def platform(request: httpx.Request) -> httpx.Response:
        code = handle(request.headers, request.content)
        sent.append((request.headers, request.content, code))
        return httpx.Response(code)

    fx = build(tmp_path)
    add_endpoint(fx.store, "https://platform.example/posbon-hook", "POSBON_HOOK_KEY")
    decide(fx.store, "item0003", "label", reviewer="rita", reason="stand-in", policy=active_policy(fx.store))
    with httpx.Client(transport=httpx.MockTransport(platform)) as http:
        assert deliver_pending(fx.store, client=http).delivered == 2
    assert [code for *_, code in sent] == [200, 200]
    assert sorted(e["type"] for e in acted) == ["decision", "statement_of_reasons"]
    headers, body, _ = sent[0]
    assert from_posbon(SECRET.encode(), headers, body)

    # the same request again (at least once): accepted, not acted on twice
    assert handle(headers, body) == 200 and len(acted) == 2
    # a changed body, a wrong secret, a timestamp header that disagrees with the body: refused
    tampered = body.replace(b'"type":"', b'"type":"x', 1)
    assert tampered != body
    assert handle(headers, tampered) == 401 and not from_posbon(SECRET.encode(), headers, tampered)
    assert not from_posbon(b"another-secret", headers, body)
    moved = httpx.Headers(headers)
    moved["X-Posbon-Timestamp"] = str(int(headers["X-Posbon-Timestamp"]) + 1)
    assert handle(moved, body) == 401
    monkeypatch.setenv("POSBON_HOOK_KEY", "another-secret")
    assert handle(headers, body) == 401
    monkeypatch.setenv("POSBON_HOOK_KEY", SECRET)

    # a delivery signed ten minutes ago (a captured request replayed now) is refused by both receivers
    with write_session(fx.store) as s:
        enqueue_event(s, WebhookEvent("decision", {"decision_id": 99, "note": "stand-in"}))
    sent.clear()
    with httpx.Client(transport=httpx.MockTransport(platform)) as http:
        assert deliver_pending(fx.store, client=http, clock=lambda: time.time() - 600).retrying == 1
    assert [code for *_, code in sent] == [401] and len(acted) == 2
    assert not from_posbon(SECRET.encode(), sent[0][0], sent[0][1])
