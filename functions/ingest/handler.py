"""Ingest Lambda: ``POST /integrations/v1/{type}/{token}`` -> alerts stored in alert groups."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from oncall import ingest_http, telemetry
from oncall.container import Container
from oncall.ingest import IngestService

logger = telemetry.handler_logger()
container = Container()  # this environment's settings, store and executor
tracer = telemetry.tracer(container.settings.tracing)


def service() -> IngestService:
    """Created on first use and kept: its caches and connections make the warm path fast."""
    return container.ingest


@telemetry.publishing
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True, correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = ingest_http.handle(service(), event)
    telemetry.count(f"Ingest{response['statusCode'] // 100}xx")
    return response
