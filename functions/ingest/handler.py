"""Ingest Lambda: ``POST /integrations/v1/{type}/{token}`` -> alerts stored in alert groups."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from oncall import ingest_http
from oncall.container import Container
from oncall.ingest import IngestService

logger = Logger()
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Tocsin"))
container = Container()  # this environment's settings, store and executor


def service() -> IngestService:
    """Created on first use and kept: its caches and connections make the warm path fast."""
    return container.ingest


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = ingest_http.handle(service(), event)
    metrics.add_metric(name=f"Ingest{response['statusCode'] // 100}xx", unit=MetricUnit.Count, value=1)
    return response
