"""HTTP face of ingest: an API Gateway event for ``/integrations/v1/{type}/{token}`` -> response."""

from __future__ import annotations

import logging

from oncall import http
from oncall.ingest import IngestError, IngestService
from oncall.ports import StoreError

logger = logging.getLogger(__name__)


PAGERDUTY_ROUTES = {"POST /v2/enqueue": "v2", "POST /generic/2010-04-15/create_event.json": "v1"}


def handle_pagerduty(service: IngestService, event: http.Event, version: str, deadline: float | None) -> http.Response:
    """PagerDuty Events API v2/v1 (see :mod:`oncall.pagerduty`): PagerDuty's response shapes."""
    from oncall import pagerduty

    try:
        parsed = (pagerduty.parse_v2 if version == "v2" else pagerduty.parse_v1)(http.body_bytes(event))
        service.receive_payload("pagerduty", parsed.key, parsed.payload, deadline=deadline)
    except pagerduty.InvalidEvent as error:
        return http.json_response(error.status, error.body())
    except IngestError as error:
        headers = {"Retry-After": str(error.retry_after)} if error.retry_after else None
        body = {"status": "throttle event" if error.status == 429 else "invalid event", "message": str(error),
                "errors": [str(error)]}  # fmt: skip
        return http.json_response(error.status, body, headers)
    except StoreError:
        logger.exception("storing the PagerDuty event failed")
        return http.json_response(503, {"status": "error", "message": "The event could not be stored; retry."},
                                  {"Retry-After": "5"})  # fmt: skip
    if version == "v2":
        return http.json_response(
            202, {"status": "success", "message": "Event processed", "dedup_key": parsed.dedup_key}
        )
    return http.json_response(
        200, {"status": "success", "message": "Event processed", "incident_key": parsed.dedup_key}
    )


def handle(service: IngestService, event: http.Event, deadline: float | None = None) -> http.Response:
    """``deadline`` (``time.monotonic``): when to stop starting new alerts of a body, so the answer beats the
    function's timeout."""
    if (version := PAGERDUTY_ROUTES.get(str(event.get("routeKey", "")))) is not None:
        return handle_pagerduty(service, event, version, deadline)
    params = event.get("pathParameters") or {}
    type_slug, token = params.get("type", ""), params.get("token", "")
    is_heartbeat = str(event.get("routeKey", "")).endswith("/heartbeat")
    try:
        if is_heartbeat:
            service.heartbeat(type_slug, token)
            # OnCall answers a GET with a smiley; monitors that check the body expect it.
            return http.text_response(200, ":)" if http.method(event) == "GET" else "")
        outcome = service.receive(
            type_slug, token, http.body_bytes(event), http.header(event, "content-type"), deadline=deadline
        )
    except IngestError as error:
        headers = {"Retry-After": str(error.retry_after)} if error.retry_after else None
        return http.json_response(error.status, {"detail": str(error)}, headers)
    except StoreError:
        # Never acknowledge what was not written: the sender retries a 5xx.
        logger.exception("storing the alert or heartbeat failed")
        return http.json_response(503, {"detail": "The alert could not be stored; retry."}, {"Retry-After": "5"})
    stored = outcome.stored
    return http.json_response(
        200,
        {
            "detail": outcome.detail,
            "alert_group_ids": [s.group_id for s in stored],
            "alert_ids": [s.alert_id for s in stored],
        },
    )
