"""Ingest Lambda: ``POST /integrations/v1/{type}/{token}`` -> alerts stored in alert groups."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from oncall import ingest_http, telemetry
from oncall.executor import executor_from_env
from oncall.ingest import IngestService
from oncall.store.dynamodb import DynamoStore

logger = telemetry.handler_logger()
tracer = telemetry.tracer()
_service: IngestService | None = None


def service() -> IngestService:
    """Created on first use and kept: its caches and connections make the warm path fast."""
    global _service
    if _service is None:
        _service = IngestService(DynamoStore(), executor=executor_from_env())
    return _service


@telemetry.publishing
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True, correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = ingest_http.handle(service(), event)
    telemetry.count(f"Ingest{response['statusCode'] // 100}xx")
    return response
