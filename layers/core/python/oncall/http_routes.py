"""The HTTP routes of the deployment: one list used by the CDK HTTP API and by the local gateway.

Paths use API Gateway HTTP API syntax. API Gateway routes ``/x`` and ``/x/`` to the same route (route keys
cannot end in ``/``), and the local gateway does the same, so senders may add a trailing slash.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class HttpRoute:
    method: str  # GET, POST, ... or ANY
    path: str  # e.g. /integrations/v1/{type}/{token}
    function: str  # the folder under functions/ whose handler.py serves it


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
