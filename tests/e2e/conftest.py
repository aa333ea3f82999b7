"""End-to-end tests start the real local stack (``python -m local``) once per session."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from local.stack import LocalStack
from tests.e2e.browser import Browser, open_browser
from tests.support.processes import HTTP_TIMEOUT


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    with LocalStack() as running:
        yield running


def _api_client(stack: LocalStack) -> httpx.Client:
    return httpx.Client(base_url=stack.base_url, headers={"Authorization": stack.api_key}, timeout=HTTP_TIMEOUT)


@pytest.fixture(scope="session")
def client(stack: LocalStack) -> Iterator[httpx.Client]:
    """The API of the session's stack, as its admin."""
    with _api_client(stack) as http:
        yield http


@pytest.fixture(scope="module")
def api(stack: LocalStack) -> Iterator[httpx.Client]:
    """The API of the module's stack (a module that starts a stack of its own overrides ``stack``), as its admin."""
    with _api_client(stack) as http:
        yield http


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium, one per test module (tests/e2e/browser.py)."""
    running = open_browser()
    try:
        yield running
    finally:
        running.close()
