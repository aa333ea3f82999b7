"""Ingest Lambda: ``POST /integrations/v1/{type}/{token}`` -> alerts stored in alert groups (their escalations
start from the table's stream, not from here)."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from oncall import ingest, ingest_http, telemetry
from oncall.container import Container
from oncall.ingest import IngestService

logger = telemetry.handler_logger()
container = Container()  # this environment's settings and store
tracer = telemetry.tracer(container.settings.tracing)


def service() -> IngestService:
    """Created on first use and kept: its caches and connections make the warm path fast."""
    return container.ingest


@telemetry.publishing
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True, correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Stop starting new alerts of a long body in time to answer before the function's timeout.
    deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - ingest.DEADLINE_MARGIN_SECONDS
    response = ingest_http.handle(service(), event, deadline)
    telemetry.count(f"Ingest{response['statusCode'] // 100}xx")
    return response
