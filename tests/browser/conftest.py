"""Browser tests: a real uvicorn server on 127.0.0.1 (random free port, temp data dir) driven by Debian's
Chromium through Playwright. Never `playwright install`: the browser is the system package that
scripts/system-deps.sh installs; without it these tests FAIL (they do not skip)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/: the web test builders

CHROMIUM = os.environ.get("POSBON_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER = """
import sys
import uvicorn
from posbon.settings import Settings
from posbon.web import create_app
uvicorn.run(create_app(Settings.load(__import__("pathlib").Path(sys.argv[1]))), host="127.0.0.1",
            port=int(sys.argv[2]), log_level="warning")
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from test_web_support import build

    root = tmp_path_factory.mktemp("browser")
    fx = build(root)
    fx.store.close()
    port = _free_port()
    log = (root / "server.log").open("wb")
    env = {**os.environ, "POSBON_DATA_DIR": str(fx.settings.data_dir)}
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(fx.settings.data_dir), str(port)], stdout=log, stderr=log, env=env
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start: {(root / 'server.log').read_text()}") from None
                time.sleep(0.1)
        yield {"base": base, "fx": fx}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: run scripts/system-deps.sh", pytrace=False)
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield context
        finally:
            context.close()
