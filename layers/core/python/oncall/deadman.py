"""The dead-man's switch: every minute sweep that ran to its end tells a second system that Tocsin is alive.

The deployment's ``deadman_url`` (``TOCSIN_DEADMAN_URL``) is any URL that expects a regular request and pages
when it stops: another Tocsin's or a Grafana OnCall heartbeat URL, a healthchecks.io check, Cronitor, ... If this
deployment breaks (the sweep stops, DynamoDB or Lambda fails, the stack is deleted), the pings stop and the other
system pages: Tocsin is never silently down.

A ping is one GET with a short timeout. Its failure is logged (with the host only: such URLs carry a secret) and
counted (``DeadmanPingsFailed``), and never fails the sweep: the sweep's own work matters more than the ping.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

from oncall import telemetry

logger = logging.getLogger(__name__)

URL_ENV: Final = "TOCSIN_DEADMAN_URL"
TIMEOUT_SECONDS: Final = 5.0  # well inside the sweep's minute, and longer than any healthy monitor answers


class HttpSender(Protocol):
    """What a ping needs of an HTTP client (``httpx.Client`` fits; so will the guarded outbound client)."""

    def get(self, url: str, *, timeout: float) -> Any:
        """GET ``url``; the result has the ``status_code`` of the answer."""
        ...


def configured_url() -> str | None:
    return os.environ.get(URL_ENV, "").strip() or None


def ping(url: str, sender: HttpSender, *, timeout: float = TIMEOUT_SECONDS) -> bool:
    """One GET of ``url``; True when it answered 2xx. Never raises."""
    host = urlsplit(url).hostname or "?"
    try:
        status = int(sender.get(url, timeout=timeout).status_code)
    except Exception as error:
        reason = type(error).__name__
    else:
        if 200 <= status < 300:
            return True
        reason = f"HTTP {status}"
    telemetry.count(telemetry.DEADMAN_PINGS_FAILED)
    logger.warning("dead-man's switch ping to %s failed: %s", host, reason)
    return False
