"""A real browser for the console's end-to-end tests: headless Debian Chromium driven by playwright-core
(``browser_driver.mjs``), one JSON command a line. The ``browser`` fixture (``conftest.py``) opens one per module."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from local import REPO_ROOT
from local.stack import LocalStack

DRIVER = Path(__file__).with_name("browser_driver.mjs")
ARTIFACTS = REPO_ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


class Browser:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            ["node", str(DRIVER)],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={"PATH": "/usr/bin:/bin:/usr/local/bin", "CHROMIUM": CHROMIUM, "HOME": "/tmp"},
        )

    def __call__(self, op: str, **args: Any) -> dict[str, Any]:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, "the browser driver stopped"
        answer: dict[str, Any] = json.loads(line)
        assert answer.pop("ok"), f"{op} {args}: {answer.get('error')}"
        return answer

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self("screenshot", path=str(ARTIFACTS / f"web-{name}.png"))

    def close(self) -> None:
        try:
            self("close")
            assert self.process.stdin
            self.process.stdin.close()
            self.process.wait(timeout=20)
        finally:
            if self.process.poll() is None:
                self.process.kill()


def open_browser() -> Browser:
    """A browser, or the test fails with what is missing."""
    if not Path(CHROMIUM).exists() or not (REPO_ROOT / "node_modules" / "playwright-core").exists():
        pytest.fail("needs Debian's chromium (make system) and playwright-core (npm ci)")
    return Browser()


def sign_in(browser: Browser, stack: LocalStack) -> None:
    """Signs in with the stack's admin key (the form is shown even to a signed-in browser)."""
    browser("goto", url=f"{stack.base_url}/ui/signin")
    browser("fill", selector="#api_key", value=stack.api_key)
    browser("click", selector="button[type=submit]")
    browser("wait", selector="h1", text="Alert groups")


def rows(browser: Browser, selector: str) -> list[str]:
    """The text of each row of a table body, in order."""
    count = browser("count", selector=f"{selector} tbody tr")["count"]
    return [browser("text", selector=f"{selector} tbody tr >> nth={n}")["text"] for n in range(count)]
