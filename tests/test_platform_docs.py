"""docs/platform.md's examples are proven: every curl command in a ```bash block marked `# tested` is run
(translated to the same request through the app's test client) and must succeed (curl -f)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

from posbon.platform.partners import add_partner
from test_web_support import build, client

DOC = Path(__file__).resolve().parents[1] / "docs" / "platform.md"
BLOCK = re.compile(r"```bash\n(# tested\n.*?)```", re.S)


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
