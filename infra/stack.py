"""The ``Tocsin`` stack: wires the constructs of :mod:`infra`.

To add a concern (escalation state machine, heartbeat rule, maintenance scheduler, email), write its construct
in its own module, create it here with the shared ``data``/``layer``/``config``, and register its alarms with
``self.observability``.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.config import TocsinConfig
from infra.data import DataStore
from infra.ingest_api import IngestApi
from infra.layer import CoreLayer
from infra.observability import Observability


class TocsinStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: TocsinConfig | None = None, **kwargs: Any
    ) -> None:
        kwargs.setdefault("description", "Tocsin: serverless on-call alerting (ingest, escalation, heartbeats)")
        super().__init__(scope, construct_id, **kwargs)
        self.config = config or TocsinConfig.from_scope(self)

        self.data = DataStore(self, "Data")
        self.core_layer = CoreLayer(self, "CoreLayer")
        self.observability = Observability(self, "Observability", alarm_email=self.config.alarm_email)

        self.ingest_api = IngestApi(self, "Http", data=self.data, layer=self.core_layer.layer, config=self.config)
        for name, fn in self.ingest_api.functions.items():
            self.observability.watch_function(name, fn.function)
        self.observability.watch_http_api("HttpApi", self.ingest_api.http_api)

        CfnOutput(self, "ApiUrl", value=self.ingest_api.url, description="Base URL of the HTTP API")
        CfnOutput(self, "TableName", value=self.data.table.table_name, description="The DynamoDB table")
