"""HTTP face of ingest: an API Gateway event for ``/integrations/v1/{type}/{token}`` -> response."""

from __future__ import annotations

import logging

from oncall import http
from oncall.ingest import IngestError, IngestService
from oncall.ports import StoreError

logger = logging.getLogger(__name__)


def handle(service: IngestService, event: http.Event) -> http.Response:
    params = event.get("pathParameters") or {}
    type_slug, token = params.get("type", ""), params.get("token", "")
    is_heartbeat = str(event.get("routeKey", "")).endswith("/heartbeat")
    try:
        if is_heartbeat:
            service.heartbeat(type_slug, token)
            # OnCall answers a GET with a smiley; monitors that check the body expect it.
            return http.text_response(200, ":)" if http.method(event) == "GET" else "")
        stored = service.receive(type_slug, token, http.body_bytes(event), http.header(event, "content-type"))
    except IngestError as error:
        headers = {"Retry-After": str(error.retry_after)} if error.retry_after else None
        return http.json_response(error.status, {"detail": str(error)}, headers)
    except StoreError:
        # Never acknowledge what was not written: the sender retries a 5xx.
        logger.exception("storing the alert or heartbeat failed")
        return http.json_response(503, {"detail": "The alert could not be stored; retry."}, {"Retry-After": "5"})
    return http.json_response(
        200,
        {"detail": "Ok.", "alert_group_ids": [s.group_id for s in stored], "alert_ids": [s.alert_id for s in stored]},
    )
