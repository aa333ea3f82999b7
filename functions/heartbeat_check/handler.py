"""Heartbeat sweep Lambda, invoked every minute by an EventBridge rule: due heartbeats raise their alert."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from oncall import heartbeat
from oncall.executor import executor_from_env
from oncall.store.dynamodb import DynamoStore

logger = Logger()
_store: DynamoStore | None = None


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    global _store
    if _store is None:
        _store = DynamoStore()
    return {"result": heartbeat.check(_store, executor_from_env(), heartbeat.now())}
