"""Web console Lambda: the server-rendered pages of :mod:`oncall.web.app` behind ``/`` and ``/ui``."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from oncall.container import Container
from oncall.web.app import handle

logger = Logger()
container = Container()  # this environment's store, authenticator, executor and scheduler


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, container)
