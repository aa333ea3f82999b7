"""The escalation state machine exactly as ``cdk synth`` produced it, run by moto's Step Functions interpreter.

The ``DefinitionString`` of the synthesized template (its ``Fn::GetAtt`` filled in with the ARN of a function
created in moto) runs in moto with ``execute_state_machine`` on; the Lambda task calls a Python handler in-process
(moto's docker-less Lambda backend, whose ``invoke`` is patched; a private API of moto 5.2.5, pinned in
requirements-dev.txt). This proves the ASL: RunStep -> Choice on ``$.done`` -> Wait ``SecondsPath`` -> RunStep,
the output replacing the state, and RunStep's retry.

The handler is the ``run_step`` fixture and the first state the ``initial_state`` fixture: a fake here, the real
``functions/escalation_step/handler.py`` in test_state_machine_real_step.py (which overrides ``run_step``).
"""

from __future__ import annotations

import io
import json
import os
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.awslambda_simple.models import LambdaSimpleBackend

from tests.infra.infra_testlib import Synthesized, state_machine_definition

Handler = Callable[[Any, Any], Any]
REGION = "us-east-1"
FUNCTION_NAME = "escalation_step"
TIMEOUT = 15.0  # seconds for one execution; the fake's needs about 2 s


@pytest.fixture(scope="module")
def synthesized(synth: Synthesized) -> tuple[dict[str, Any], str]:
    """(template, logical id of escalation_step): the stack the infra tests synthesized for this run."""
    stack = synth.stack
    return synth.template_json, stack.get_logical_id(stack.escalation.step.function.node.default_child)


class FakeStep:
    """Walks ``steps`` steps of ``wait_seconds`` each, then returns ``done``; keeps every other field."""

    def __init__(self, steps: int = 3, wait_seconds: int = 1) -> None:
        self.steps = steps
        self.wait_seconds = wait_seconds

    def __call__(self, state: dict[str, Any], context: Any) -> dict[str, Any]:
        position = state.get("position", 0) + 1
        done = position >= self.steps
        return {**state, "position": position, "wait_seconds": 0 if done else self.wait_seconds, "done": done}


@pytest.fixture
def run_step() -> Handler:
    """RunStep's Lambda handler ``(state, context) -> state``. Override to run the real escalation_step."""
    return FakeStep(steps=3, wait_seconds=1)


@pytest.fixture
def initial_state() -> dict[str, Any]:
    """The input of an execution (what ingest or the api start it with). Override together with ``run_step``."""
    return {"kind": "escalation", "group_id": "G1", "generation": 1, "wait_seconds": 0, "done": False}


@dataclass
class Invocations:
    """What the patched Lambda backend calls: ``handler``, recording each event and failing on request."""

    handler: Handler
    events: list[Any] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # raised by the next calls, one per entry
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, event: Any) -> Any:
        with self.lock:
            self.events.append(event)
            failure = self.failures.pop(0) if self.failures else None
        if failure is not None:
            raise RuntimeError(failure)
        return self.handler(event, _Context())


class _Context:
    function_name = FUNCTION_NAME
    memory_limit_in_mb = 512
    invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:{FUNCTION_NAME}"
    aws_request_id = "moto"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@dataclass
class Machine:
    client: Any
    arn: str
    invocations: Invocations

    def run(self, state: Any, timeout: float = TIMEOUT) -> dict[str, Any]:
        """Start an execution and wait for its end: the DescribeExecution response plus ``seconds`` and ``events``."""
        started = time.monotonic()
        arn = self.client.start_execution(stateMachineArn=self.arn, name=str(uuid.uuid4()), input=json.dumps(state))[
            "executionArn"
        ]
        while True:
            described = self.client.describe_execution(executionArn=arn)
            if described["status"] != "RUNNING" or time.monotonic() - started > timeout:
                break
            time.sleep(0.05)
        history = self.client.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        return {**described, "seconds": time.monotonic() - started, "events": [e["type"] for e in history]}


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


@pytest.fixture
def machine(
    synthesized: tuple[dict[str, Any], str], run_step: Handler, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Machine]:
    template, step_id = synthesized
    for key in [k for k in os.environ if k.startswith("AWS_ENDPOINT_URL")]:
        monkeypatch.delenv(key)  # the interpreter's own boto3 clients must reach moto
    for key, value in {
        "AWS_ACCESS_KEY_ID": "moto",
        "AWS_SECRET_ACCESS_KEY": "moto",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    invocations = Invocations(run_step)

    def invoke(self: Any, function_name: str, qualifier: Any, body: Any, headers: Any, response_headers: Any) -> bytes:
        assert function_name.split(":")[-1] == FUNCTION_NAME, function_name
        try:
            result = invocations(json.loads(body or "null"))
        except Exception as exc:  # an unhandled error, as the Lambda runtime reports it
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)}).encode()
        return json.dumps(result).encode()

    monkeypatch.setattr(LambdaSimpleBackend, "invoke", invoke)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}):
        iam = boto3.client("iam", region_name=REGION)
        role = iam.create_role(
            RoleName="tocsin-test",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )["Role"]["Arn"]
        function_arn = boto3.client("lambda", region_name=REGION).create_function(
            FunctionName=FUNCTION_NAME,
            Runtime="python3.12",
            Role=role,
            Handler="handler.handler",
            Code={"ZipFile": _zip()},
        )["FunctionArn"]
        definition = state_machine_definition(template, {f"{step_id}.Arn": function_arn})
        client = boto3.client("stepfunctions", region_name=REGION)
        arn = client.create_state_machine(
            name="tocsin-escalation", definition=json.dumps(definition), roleArn=role, type="STANDARD"
        )["stateMachineArn"]
        yield Machine(client, arn, invocations)


def test_the_synthesized_definition_is_the_loop(synthesized: tuple[dict[str, Any], str]) -> None:
    template, step_id = synthesized
    definition = state_machine_definition(template, {f"{step_id}.Arn": "arn:aws:lambda:us-east-1:1:function:f"})
    assert definition["StartAt"] == "RunStep"
    assert definition["States"]["Wait"]["SecondsPath"] == "$.wait_seconds"


def test_the_loop_runs_steps_waits_and_ends_when_done(machine: Machine, initial_state: dict[str, Any]) -> None:
    result = machine.run(initial_state)
    assert result["status"] == "SUCCEEDED", result
    output = json.loads(result["output"])
    assert output["done"] is True
    events = result["events"]
    steps = len(machine.invocations.events)
    assert events.count("LambdaFunctionSucceeded") == steps
    assert events.count("ChoiceStateEntered") == steps
    assert events.count("WaitStateEntered") == steps - 1  # a Wait between two steps, none after the last
    # Each step got the previous step's output (the output replaces the state).
    assert machine.invocations.events[0] == initial_state
    if isinstance(machine.invocations.handler, FakeStep):
        fake = machine.invocations.handler
        assert steps == fake.steps == 3
        assert [e.get("position", 0) for e in machine.invocations.events] == [0, 1, 2]
        assert output == {**initial_state, "position": 3, "wait_seconds": 0, "done": True}
        assert result["seconds"] >= (fake.steps - 1) * fake.wait_seconds  # Wait really waited wait_seconds


def test_a_failing_step_is_retried_and_the_execution_still_succeeds(
    machine: Machine, initial_state: dict[str, Any]
) -> None:
    if isinstance(machine.invocations.handler, FakeStep):
        machine.invocations.handler = FakeStep(steps=1)  # one step: only the retry takes time
    machine.invocations.failures.append("the first invocation fails")
    result = machine.run(initial_state)
    assert result["status"] == "SUCCEEDED", result
    assert result["events"].count("LambdaFunctionFailed") == 1
    assert machine.invocations.events[0] == machine.invocations.events[1] == initial_state  # the same state again
    assert result["seconds"] >= 2  # the retry interval


def test_a_step_failing_every_time_fails_the_execution_after_three_retries(
    machine: Machine, initial_state: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Retries wait 2 + 4 + 8 s in moto (no time warp), so this test shortens them in the definition it runs."""
    definition = json.loads(machine.client.describe_state_machine(stateMachineArn=machine.arn)["definition"])
    (retry,) = definition["States"]["RunStep"]["Retry"]
    assert (retry["MaxAttempts"], retry["IntervalSeconds"], retry["BackoffRate"]) == (3, 2, 2)
    retry["IntervalSeconds"], retry["BackoffRate"] = 1, 1.0
    machine.client.update_state_machine(stateMachineArn=machine.arn, definition=json.dumps(definition))
    machine.invocations.failures.extend(["down"] * 10)
    result = machine.run(initial_state)
    assert result["status"] == "FAILED", result
    assert result["error"] == "RuntimeError"
    assert len(machine.invocations.events) == 4  # the first attempt and 3 retries
    assert result["events"].count("LambdaFunctionFailed") == 4
