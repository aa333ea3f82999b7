"""The local Step Functions emulation (``local/aws.py``) through boto3's real ``stepfunctions`` client."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from oncall import telemetry
from oncall.executor import ObservedExecutor, StepFunctionsExecutor, executor_for
from oncall.settings import Settings

from local.aws import STATE_MACHINE_ARN, LocalStepFunctions, time_scale_from_env

SCALE = 0.01  # 1 s of the state machine = 10 ms here


class FakeStep:
    """A RunStep handler: counts calls, walks ``steps`` steps of ``wait_seconds``, can fail its first calls."""

    def __init__(self, steps: int = 3, wait_seconds: int = 5, fail_first: int = 0) -> None:
        self.steps = steps
        self.wait_seconds = wait_seconds
        self.fail_first = fail_first
        self.calls: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def __call__(self, state: dict[str, Any], context: Any) -> dict[str, Any]:
        with self.lock:
            self.calls.append(state)
            if len(self.calls) <= self.fail_first:
                raise RuntimeError(f"boom {len(self.calls)}")
        assert context.function_name == "escalation_step"
        assert context.get_remaining_time_in_millis() > 0
        position = state.get("position", 0) + 1
        done = position >= self.steps
        return {**state, "position": position, "wait_seconds": 0 if done else self.wait_seconds, "done": done}


def sfn_client(endpoint: str) -> Any:
    return boto3.client(
        "stepfunctions",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"max_attempts": 1}),
    )


def state(**extra: Any) -> dict[str, Any]:
    return {"kind": "escalation", "group_id": "G1", "generation": 1, "wait_seconds": 0, "done": False, **extra}


Emulator = Callable[..., LocalStepFunctions]


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    started: list[LocalStepFunctions] = []

    def start(handler: Any = None, time_scale: float = SCALE, **kwargs: Any) -> LocalStepFunctions:
        sfn = LocalStepFunctions("127.0.0.1", 0, handler=handler, time_scale=time_scale, **kwargs).start()
        started.append(sfn)
        return sfn

    yield start
    for sfn in started:
        sfn.stop()


def wait_finished(client: Any, arn: str, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described = client.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING" or time.monotonic() > deadline:
            return dict(described)
        time.sleep(0.01)


def wait_calls(step: FakeStep, count: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while len(step.calls) < count:
        assert time.monotonic() < deadline, f"RunStep was called {len(step.calls)} times, expected {count}"
        time.sleep(0.005)


# --- the loop -----------------------------------------------------------------------------------------------


def test_runs_the_loop_until_done_and_passes_the_state_through(emulator: Emulator) -> None:
    step = FakeStep(steps=3, wait_seconds=5)
    sfn = emulator(step)
    client = sfn_client(sfn.endpoint)
    started = time.monotonic()
    response = client.start_execution(
        stateMachineArn=STATE_MACHINE_ARN, name="G1-g1", input=json.dumps(state(chain=[{"x": 1}]))
    )
    assert response["executionArn"] == STATE_MACHINE_ARN.replace(":stateMachine:", ":execution:") + ":G1-g1"
    described = wait_finished(client, response["executionArn"])
    elapsed = time.monotonic() - started
    assert described["status"] == "SUCCEEDED"
    output = json.loads(described["output"])
    assert output["position"] == 3 and output["done"] is True
    assert output["chain"] == [{"x": 1}] and output["kind"] == "escalation"  # untouched fields survive
    assert [c.get("position", 0) for c in step.calls] == [0, 1, 2]
    assert described["stopDate"] >= described["startDate"]
    assert json.loads(described["input"])["group_id"] == "G1"
    assert elapsed >= 2 * 5 * SCALE  # two waits of 5 s, scaled
    assert sfn.execution("G1-g1").invocations == 3


def test_time_scale_applies_to_waits(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOCSIN_TIME_SCALE", "0.02")
    scale = time_scale_from_env()
    assert scale == 0.02
    step = FakeStep(steps=2, wait_seconds=25)  # one wait of 25 s -> 0.5 s
    sfn = emulator(step, time_scale=scale)
    client = sfn_client(sfn.endpoint)
    started = time.monotonic()
    arn = client.start_execution(stateMachineArn=STATE_MACHINE_ARN, name="scaled", input=json.dumps(state()))[
        "executionArn"
    ]
    wait_calls(step, 1)
    assert client.describe_execution(executionArn=arn)["status"] == "RUNNING"
    assert wait_finished(client, arn)["status"] == "SUCCEEDED"
    assert 0.5 <= time.monotonic() - started < 10.0  # unscaled, the wait alone would take 25 s (a loaded run: 2.2 s)


def test_a_failing_step_is_retried_like_the_state_machine(emulator: Emulator) -> None:
    step = FakeStep(steps=1, fail_first=2)
    sfn = emulator(step)
    client = sfn_client(sfn.endpoint)
    started = time.monotonic()
    arn = client.start_execution(stateMachineArn=STATE_MACHINE_ARN, name="flaky", input=json.dumps(state()))[
        "executionArn"
    ]
    assert wait_finished(client, arn)["status"] == "SUCCEEDED"
    assert len(step.calls) == 3  # two failures, then success
    assert time.monotonic() - started >= (2 + 4) * SCALE  # backoff 2 s, 4 s, scaled


def test_a_step_failing_four_times_fails_the_execution(emulator: Emulator, caplog: pytest.LogCaptureFixture) -> None:
    step = FakeStep(steps=1, fail_first=99)
    sfn = emulator(step)
    client = sfn_client(sfn.endpoint)
    with caplog.at_level("WARNING", logger="local.aws"):
        arn = client.start_execution(stateMachineArn=STATE_MACHINE_ARN, name="broken", input=json.dumps(state()))[
            "executionArn"
        ]
        described = wait_finished(client, arn)
    assert described["status"] == "FAILED"
    assert len(step.calls) == 4  # the first call and 3 retries
    assert described["error"] == "RuntimeError"
    assert json.loads(described["cause"])["errorMessage"] == "boom 4"
    assert "no retries left" in caplog.text and "boom 4" in caplog.text


@pytest.mark.parametrize(
    ("result", "where"),
    [({"wait_seconds": 1}, "IsDone"), ({"done": False}, "Wait"), ({"done": False, "wait_seconds": -1}, "Wait")],
)
def test_a_state_without_done_or_wait_seconds_fails_like_the_state_machine(
    emulator: Emulator, result: dict[str, Any], where: str
) -> None:
    sfn = emulator(lambda event, context: result)
    client = sfn_client(sfn.endpoint)
    arn = client.start_execution(stateMachineArn=STATE_MACHINE_ARN, name="bad", input="{}")["executionArn"]
    described = wait_finished(client, arn)
    assert (described["status"], described["error"]) == ("FAILED", "States.Runtime")
    assert f"'{where}'" in described["cause"]


def test_an_execution_running_longer_than_the_timeout_times_out(emulator: Emulator) -> None:
    scale = 1e-6  # the 7-day execution timeout becomes 0.6 s; a wait of 10**7 s becomes 10 s
    sfn = emulator(FakeStep(steps=5, wait_seconds=10**7), time_scale=scale)
    client = sfn_client(sfn.endpoint)
    arn = client.start_execution(stateMachineArn=STATE_MACHINE_ARN, name="endless", input=json.dumps(state()))[
        "executionArn"
    ]
    described = wait_finished(client, arn, timeout=5.0)
    assert (described["status"], described["error"]) == ("TIMED_OUT", "States.Timeout")


# --- StartExecution / StopExecution / DescribeExecution -----------------------------------------------------


def test_start_is_idempotent_by_name_and_input(emulator: Emulator) -> None:
    step = FakeStep(steps=2, wait_seconds=3600)
    sfn = emulator(step, time_scale=1.0)
    client = sfn_client(sfn.endpoint)
    first = client.start_execution(stateMachineArn=STATE_MACHINE_ARN, name="G1-g1", input=json.dumps(state()))
    again = client.start_execution(stateMachineArn=STATE_MACHINE_ARN, name="G1-g1", input=json.dumps(state()))
    assert (again["executionArn"], again["startDate"]) == (first["executionArn"], first["startDate"])
    with pytest.raises(client.exceptions.ExecutionAlreadyExists):
        client.start_execution(stateMachineArn=STATE_MACHINE_ARN, name="G1-g1", input=json.dumps(state(x=1)))
    wait_calls(step, 1)
    time.sleep(0.05)
    assert len(step.calls) == 1  # one execution, waiting its hour
    client.stop_execution(executionArn=first["executionArn"])
    # A finished execution keeps its name (AWS: for 90 days): even the same input is refused.
    with pytest.raises(client.exceptions.ExecutionAlreadyExists):
        client.start_execution(stateMachineArn=STATE_MACHINE_ARN, name="G1-g1", input=json.dumps(state()))


def test_stop_during_a_long_wait_aborts_at_once(emulator: Emulator) -> None:
    step = FakeStep(steps=5, wait_seconds=3600)
    sfn = emulator(step, time_scale=1.0)
    client = sfn_client(sfn.endpoint)
    arn = client.start_execution(stateMachineArn=STATE_MACHINE_ARN, name="G2-g1", input=json.dumps(state()))[
        "executionArn"
    ]
    wait_calls(step, 1)
    started = time.monotonic()
    response = client.stop_execution(executionArn=arn, error="Acked", cause="acknowledged by alice")
    assert "stopDate" in response
    described = client.describe_execution(executionArn=arn)
    assert time.monotonic() - started < 5.0  # not the hour's wait, whatever the machine's load
    assert described["status"] == "ABORTED"
    assert (described["error"], described["cause"]) == ("Acked", "acknowledged by alice")
    assert sfn.executions[arn].wait(1.0)
    time.sleep(0.05)
    assert len(step.calls) == 1  # no step after the stop
    client.stop_execution(executionArn=arn)  # stopping a finished execution is fine
    assert client.describe_execution(executionArn=arn)["status"] == "ABORTED"


def test_errors_are_the_aws_error_types(emulator: Emulator) -> None:
    sfn = emulator(FakeStep())
    client = sfn_client(sfn.endpoint)
    unknown = STATE_MACHINE_ARN.replace(":stateMachine:", ":execution:") + ":nope"
    with pytest.raises(client.exceptions.ExecutionDoesNotExist):
        client.stop_execution(executionArn=unknown)
    with pytest.raises(client.exceptions.ExecutionDoesNotExist):
        client.describe_execution(executionArn=unknown)
    with pytest.raises(client.exceptions.InvalidArn):
        client.describe_execution(executionArn="not-an-arn")
    with pytest.raises(client.exceptions.StateMachineDoesNotExist):
        client.start_execution(stateMachineArn=STATE_MACHINE_ARN + "-other", name="x", input="{}")
    with pytest.raises(client.exceptions.InvalidName):
        client.start_execution(stateMachineArn=STATE_MACHINE_ARN, name="has space", input="{}")
    with pytest.raises(client.exceptions.InvalidName):
        client.start_execution(stateMachineArn=STATE_MACHINE_ARN, name="a:b", input="{}")
    with pytest.raises(client.exceptions.InvalidExecutionInput):
        client.start_execution(stateMachineArn=STATE_MACHINE_ARN, name="x", input="{not json")
    response = httpx.post(
        sfn.endpoint,
        headers={"X-Amz-Target": "AWSStepFunctions.ListExecutions", "Content-Type": "application/x-amz-json-1.0"},
        content=b"{}",
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/x-amz-json-1.0"
    assert response.json()["__type"] == "UnknownOperationException"


# --- the executor adapter of oncall, unchanged ---------------------------------------------------------------


def test_step_functions_executor_works_against_the_emulator(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    step = FakeStep(steps=2, wait_seconds=3600)
    sfn = emulator(step, time_scale=1.0)
    # What python -m local exports to its workers: the adapter builds its own client from the environment.
    for key, value in {
        "AWS_ENDPOINT_URL_SFN": sfn.endpoint,
        "TOCSIN_STATE_MACHINE_ARN": STATE_MACHINE_ARN,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    executor = executor_for(Settings.from_env())
    assert isinstance(executor, ObservedExecutor) and isinstance(executor.inner, StepFunctionsExecutor)
    assert executor.inner.client.meta.endpoint_url == sfn.endpoint
    telemetry.drain()

    executor.start("G3-g1", state(group_id="G3"))
    executor.start("G3-g1", state(group_id="G3"))  # a retried start: nothing new
    executor.start("G3-g1", state(group_id="G3", generation=9))  # ExecutionAlreadyExists is swallowed
    wait_calls(step, 1)
    execution = sfn.execution("G3-g1")
    assert execution.status == "RUNNING"
    assert json.loads(execution.input)["generation"] == 1
    executor.stop("G3-g1")
    assert execution.wait(1.0) and execution.status == "ABORTED"
    assert execution.cause == "stopped by Tocsin"
    executor.stop("G3-g1")  # already stopped
    executor.stop("never-started")  # ExecutionDoesNotExist is swallowed
    assert len(step.calls) == 1
    counted = {(r.name, r.value) for r in telemetry.drain()}  # StartExecution and StopExecution requests
    assert counted == {(telemetry.ESCALATIONS_STARTED, 3), (telemetry.ESCALATIONS_STOPPED, 3)}


# --- default handler and persistence ------------------------------------------------------------------------


def test_the_default_handler_is_loaded_from_the_functions_folder_at_the_first_step(
    emulator: Emulator, tmp_path: Path
) -> None:
    sfn = emulator(None, functions_dir=tmp_path)  # no escalation_step yet: the steps fail, retried
    client = sfn_client(sfn.endpoint)
    arn = client.start_execution(stateMachineArn=STATE_MACHINE_ARN, name="missing", input=json.dumps(state()))[
        "executionArn"
    ]
    described = wait_finished(client, arn)
    assert (described["status"], described["error"]) == ("FAILED", "FileNotFoundError")

    (tmp_path / "escalation_step").mkdir()
    (tmp_path / "escalation_step" / "handler.py").write_text(
        "def handler(event, context):\n    return {**event, 'done': True, 'by': context.function_name}\n"
    )
    arn = client.start_execution(stateMachineArn=STATE_MACHINE_ARN, name="loaded", input=json.dumps(state()))[
        "executionArn"
    ]
    described = wait_finished(client, arn)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["by"] == "escalation_step"


def test_running_executions_survive_a_restart_with_a_state_file(emulator: Emulator, tmp_path: Path) -> None:
    state_file = tmp_path / "stepfunctions.json"
    first_step = FakeStep(steps=2, wait_seconds=40)  # waits 0.4 s after its first step
    first = emulator(first_step, state_file=state_file)
    client = sfn_client(first.endpoint)
    client.start_execution(stateMachineArn=STATE_MACHINE_ARN, name="G4-g1", input=json.dumps(state()))
    client.start_execution(stateMachineArn=STATE_MACHINE_ARN, name="G5-g1", input=json.dumps(state()))
    wait_calls(first_step, 2)
    time.sleep(0.05)  # both are in their Wait now
    first.stop()
    saved = {e["name"]: e for e in json.loads(state_file.read_text())["executions"]}
    assert {n: (e["status"], e["state"]["position"]) for n, e in saved.items()} == {
        "G4-g1": ("RUNNING", 1),
        "G5-g1": ("RUNNING", 1),
    }

    second_step = FakeStep(steps=2)
    second = emulator(second_step, state_file=state_file)
    client = sfn_client(second.endpoint)
    for name in ("G4-g1", "G5-g1"):
        described = wait_finished(client, second.execution_arn(name))
        assert described["status"] == "SUCCEEDED"
        assert json.loads(described["output"])["position"] == 2
    assert len(second_step.calls) == 2  # only the second step ran after the restart
    assert len(first_step.calls) == 2
    # The restarted stack still knows the names: a retried start is idempotent only while running.
    with pytest.raises(client.exceptions.ExecutionAlreadyExists):
        client.start_execution(stateMachineArn=STATE_MACHINE_ARN, name="G4-g1", input=json.dumps(state()))


def test_a_stack_killed_without_stopping_resumes_from_the_journal(emulator: Emulator, tmp_path: Path) -> None:
    """Each transition is journaled as it happens (one line, not the whole state file): a stack that dies without
    a clean stop still resumes its waiting executions and still knows the finished ones' names."""
    state_file = tmp_path / "stepfunctions.json"
    first_step = FakeStep(steps=2, wait_seconds=100)  # waits 1 s (scaled) after its first step
    first = emulator(first_step, state_file=state_file)
    client = sfn_client(first.endpoint)
    client.start_execution(stateMachineArn=STATE_MACHINE_ARN, name="G6-g1", input=json.dumps(state()))
    client.start_execution(stateMachineArn=STATE_MACHINE_ARN, name="G7-g1", input=json.dumps(state(position=1)))
    wait_calls(first_step, 2)
    assert wait_finished(client, first.execution_arn("G7-g1"))["status"] == "SUCCEEDED"
    assert not state_file.exists()  # nothing rewritten whole: the journal has every transition

    second_step = FakeStep(steps=2)
    second = LocalStepFunctions("127.0.0.1", 0, handler=second_step, time_scale=SCALE, state_file=state_file)
    assert second.resume() == 1  # as if the first had been killed: only the waiting one runs on
    try:
        assert second.execution("G6-g1").wait(5)
        assert second.execution("G6-g1").status == "SUCCEEDED"
        assert second.execution("G7-g1").status == "SUCCEEDED"
        assert [c["position"] for c in second_step.calls] == [1]  # only the step after the wait ran again
    finally:
        second.stop()
