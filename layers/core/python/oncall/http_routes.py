"""The HTTP routes of the deployment and their throttles: one definition used by the CDK HTTP API and by the
local gateway.

Paths use API Gateway HTTP API syntax. API Gateway routes ``/x`` and ``/x/`` to the same route (route keys
cannot end in ``/``), and the local gateway does the same, so senders may add a trailing slash.

Throttles: each route is limited by the throttle of its *class* (the function that serves it: ``ingest`` for
monitors, ``api`` for the management API and action links, ``web`` for the console), with a token bucket per
route as API Gateway's per-route settings work (``rate`` requests per second refill a bucket of ``burst``;
over it: 429 ``{"message": "Too Many Requests"}``). So an alert storm on ingest exhausts ingest's buckets
only, and the console and the API stay reachable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

_THROTTLE = re.compile(r"^\s*(?P<rate>[0-9]+(?:\.[0-9]+)?)\s*/\s*(?P<burst>[0-9]+)\s*$")


@dataclass(frozen=True)
class HttpRoute:
    method: str  # GET, POST, ... or ANY
    path: str  # e.g. /integrations/v1/{type}/{token}
    function: str  # the folder under functions/ whose handler.py serves it; also the route's throttle class

    @property
    def key(self) -> str:
        """API Gateway's route key, e.g. ``POST /integrations/v1/{type}/{token}``."""
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class Throttle:
    """API Gateway's ``ThrottlingRateLimit`` (requests per second) and ``ThrottlingBurstLimit``."""

    rate: float
    burst: int

    def __post_init__(self) -> None:
        if not (self.rate > 0 and self.burst >= 1):
            raise ValueError(f"a throttle needs rate > 0 and burst >= 1, got {self.rate}/{self.burst}")

    @classmethod
    def parse(cls, text: str) -> Throttle:
        """``"<rate>/<burst>"``, e.g. ``"100/200"`` (rate per second, may have decimals; burst whole)."""
        match = _THROTTLE.match(text)
        if match is None:
            raise ValueError(f"a throttle looks like '<rate per second>/<burst>', e.g. '100/200', got {text!r}")
        return cls(float(match["rate"]), int(match["burst"]))

    def __str__(self) -> str:
        return f"{self.rate:g}/{self.burst}"


ROUTES: Final[tuple[HttpRoute, ...]] = (
    HttpRoute("POST", "/integrations/v1/{type}/{token}", "ingest"),
    HttpRoute("GET", "/integrations/v1/{type}/{token}/heartbeat", "ingest"),
    HttpRoute("POST", "/integrations/v1/{type}/{token}/heartbeat", "ingest"),
    # PagerDuty Events API v2 and v1: senders only change the host name (oncall.pagerduty)
    HttpRoute("POST", "/v2/enqueue", "ingest"),
    HttpRoute("POST", "/generic/2010-04-15/create_event.json", "ingest"),
    HttpRoute("ANY", "/api/v1/{proxy+}", "api"),
    HttpRoute("ANY", "/actions/{token}", "api"),
    # the web console (server-rendered pages, session cookie): / redirects to /ui/
    HttpRoute("GET", "/", "web"),
    HttpRoute("GET", "/ui", "web"),
    HttpRoute("ANY", "/ui/{proxy+}", "web"),
)

# The deployed defaults per route class (CDK context ``<class>_throttle`` overrides them). Ingest keeps the
# capacity of the former stage-wide limit; people's routes need far less, and get buckets of their own.
THROTTLES: Final[dict[str, Throttle]] = {
    "ingest": Throttle(100, 200),
    "api": Throttle(25, 50),
    "web": Throttle(25, 50),
}
THROTTLE_CLASSES: Final[tuple[str, ...]] = tuple(THROTTLES)
