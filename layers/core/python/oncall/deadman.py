"""The dead-man's switch: every minute sweep that ran to its end tells a second system that Tocsin is alive.

The deployment's ``deadman_url`` setting is any URL that expects a regular request and pages
when it stops: another Tocsin's or a Grafana OnCall heartbeat URL, a healthchecks.io check, Cronitor, ... If this
deployment breaks (the sweep stops, DynamoDB or Lambda fails, the stack is deleted), the pings stop and the other
system pages: Tocsin is never silently down.

A ping is one GET through the guarded outbound client (its timeouts; a private address is refused as for any
URL a user gives). Its failure is logged (with the host only: such URLs carry a secret) and
counted (``DeadmanPingsFailed``), and never fails the sweep: the sweep's own work matters more than the ping.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol
from urllib.parse import urlsplit

from oncall import telemetry

logger = logging.getLogger(__name__)


class HttpSender(Protocol):
    """What a ping needs of an HTTP client: the guarded outbound client (:class:`oncall.outbound.client.Client`)."""

    def request(self, method: str, url: str, *, read_body: bool = True) -> Any:
        """Send ``method`` to ``url``; the result has the ``status_code`` of the answer."""
        ...


def ping(url: str, sender: HttpSender) -> bool:
    """One GET of ``url``; True when it answered 2xx. Never raises."""
    host = urlsplit(url).hostname or "?"
    try:
        status = int(sender.request("GET", url, read_body=False).status_code)
    except Exception as error:
        reason = type(error).__name__
    else:
        if 200 <= status < 300:
            return True
        reason = f"HTTP {status}"
    telemetry.count(telemetry.DEADMAN_PINGS_FAILED)
    logger.warning("dead-man's switch ping to %s failed: %s", host, reason)
    return False
