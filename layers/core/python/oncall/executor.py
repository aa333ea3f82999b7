"""Running escalations: the Step Functions adapter of the executor port.

Every escalation (and every person's notification rules) is one execution of the generic loop state machine
(``infra/escalation.py``): RunStep -> Choice(done?) -> Wait(wait_seconds) -> RunStep. Executions are named
after the group and generation, so a retried start cannot run twice. The local stack serves the same two API
calls (``local/aws.py``), so this adapter is used unchanged on a laptop.
"""

from __future__ import annotations

import contextlib
import json
import logging
from typing import TYPE_CHECKING, Any, Protocol

from oncall import telemetry

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

    from oncall.settings import Settings

logger = logging.getLogger(__name__)


class Executor(Protocol):
    def start(self, name: str, state: dict[str, Any]) -> None:
        """Start execution ``name`` with ``state``; starting an existing name again does nothing."""
        ...

    def stop(self, name: str) -> None:
        """Stop execution ``name`` if it runs; unknown or finished executions are fine."""
        ...


class StepFunctionsExecutor:
    def __init__(self, state_machine_arn: str, client: SFNClient | None = None) -> None:
        self.state_machine_arn = state_machine_arn
        self._client = client

    @property
    def client(self) -> SFNClient:
        if self._client is None:
            import boto3
            from botocore.config import Config

            self._client = boto3.client(
                "stepfunctions", config=Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard"})
            )
        return self._client

    def execution_arn(self, name: str) -> str:
        # arn:aws:states:<region>:<account>:stateMachine:<machine> -> ...:execution:<machine>:<name>
        return self.state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"

    def start(self, name: str, state: dict[str, Any]) -> None:
        with contextlib.suppress(
            self.client.exceptions.ExecutionAlreadyExists
        ):  # the same escalation generation was started already: exactly-once by name
            self.client.start_execution(stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(state))

    def stop(self, name: str) -> None:
        with contextlib.suppress(self.client.exceptions.ExecutionDoesNotExist):
            self.client.stop_execution(executionArn=self.execution_arn(name), cause="stopped by Tocsin")


class NoExecutor:
    """No state machine configured (e.g. unit tests of the API): escalations are not run."""

    def start(self, name: str, state: dict[str, Any]) -> None:
        return None

    def stop(self, name: str) -> None:
        return None


class ObservedExecutor:
    """An executor whose starts and stops are logged (with the execution name, which links the request that caused
    them to the escalation's own logs) and counted (``oncall.telemetry``)."""

    def __init__(self, inner: Executor) -> None:
        self.inner = inner

    def start(self, name: str, state: dict[str, Any]) -> None:
        kind = str(state.get("kind", "escalation"))
        try:
            self.inner.start(name, state)
        except Exception:
            telemetry.count(telemetry.EXECUTION_STARTS_FAILED)
            raise
        if kind == "escalation":
            telemetry.count(telemetry.ESCALATIONS_STARTED)
        logger.info("execution started", extra={"execution": name, "kind": kind, "group_id": state.get("group_id")})

    def stop(self, name: str) -> None:
        self.inner.stop(name)
        telemetry.count(telemetry.ESCALATIONS_STOPPED)
        logger.info("execution stopped", extra={"execution": name})


def executor_for(settings: Settings) -> Executor:
    arn = settings.state_machine_arn
    return ObservedExecutor(StepFunctionsExecutor(arn)) if arn else NoExecutor()
