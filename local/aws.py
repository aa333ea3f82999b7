"""A local twin of the Step Functions calls Tocsin makes, and the runner of the escalation loop.

AWS runs every escalation as an execution of one state machine (``infra/escalation.py``)::

    RunStep (escalation_step; its output replaces the state) -> done? -> Wait(wait_seconds) -> RunStep

Locally, :class:`LocalStepFunctions` serves ``StartExecution``, ``StopExecution`` and ``DescribeExecution`` over
the AWS JSON 1.0 protocol (``POST /`` with ``X-Amz-Target: AWSStepFunctions.<Operation>``), so boto3 and
``oncall.executor.StepFunctionsExecutor`` work unchanged once ``AWS_ENDPOINT_URL_SFN`` points here (botocore
derives that variable from the service id ``SFN``; ``AWS_ENDPOINT_URL_STEPFUNCTIONS`` is ignored). Each execution
runs the loop natively in a thread: the RunStep handler is called in-process with a copy of the state and a
Lambda-like context, then the execution succeeds if ``done`` is true, else it sleeps ``wait_seconds`` times the
time scale (``TOCSIN_TIME_SCALE``, e.g. 0.01 in tests) and repeats. StopExecution interrupts a wait at once.
A handler exception is retried like RunStep's retry policy (3 retries after 2, 4 and 8 s, scaled by the time
scale); then the execution FAILS and the error is logged.

What matches AWS: execution ARNs, names (1-80 characters, no whitespace or ``<>{}[]?*"#%\\^|~`$&,;:/``),
idempotent StartExecution (same name and input while the execution runs: the same ``executionArn`` and
``startDate``; a different input, or a finished execution: ``ExecutionAlreadyExists``), ``ExecutionDoesNotExist``,
``StateMachineDoesNotExist``, ``InvalidArn``, ``InvalidName``, ``InvalidExecutionInput``, the 256 KiB limit of
input and state (``States.DataLimitExceeded``), ``States.Runtime`` failures when the state has no ``done`` or no
valid ``wait_seconds``, statuses RUNNING / SUCCEEDED / FAILED / ABORTED / TIMED_OUT (after 7 days, scaled).
What does not: no execution history, no Lambda timeout (a handler cannot be interrupted in a thread), handlers
run concurrently in one process (Lambda would use one container per concurrent invocation).

Executions are kept in memory and, with ``state_file`` (``python -m local`` uses ``.local/stepfunctions.json``),
saved at every transition: a restarted local stack resumes running escalations where they were (a step that was
running when the stack stopped runs again: at least once, like Lambda). Finished executions are forgotten after
a day; their names can be used again after that. A transition appends the one execution it changed to a journal
beside the state file (``<state_file>.journal``), so a burst of escalations costs each transition one line, not a
rewrite of every execution of the day; the state file is rewritten whole (and the journal emptied) when the journal
outgrows it, at a resume and at a clean stop, and a resume replays the journal over it (after a crash too).
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any, Final, Self, TextIO

from local import FUNCTIONS_DIR
from local.awsapi import ApiError, ApiServer, load_records, save_records
from local.functions import HandlerRegistry, LambdaContext
from local.lifecycle import Service

log = logging.getLogger(__name__)

Handler = Callable[[Any, Any], Any]

STATE_MACHINE_ARN: Final = "arn:aws:states:us-east-1:000000000000:stateMachine:tocsin-escalation"
FUNCTION_NAME: Final = "escalation_step"
TIME_SCALE_ENV: Final = "TOCSIN_TIME_SCALE"
# As deployed (infra/escalation.py): function settings, RunStep's retry policy, the execution timeout.
FUNCTION_TIMEOUT_SECONDS: Final = 60.0
FUNCTION_MEMORY_MB: Final = 512
RETRY_INTERVAL_SECONDS: Final = 2.0
RETRY_MAX_ATTEMPTS: Final = 3
RETRY_BACKOFF_RATE: Final = 2.0
EXECUTION_TIMEOUT_SECONDS: Final = 7 * 24 * 3600.0
MAX_PAYLOAD_BYTES: Final = 256 * 1024  # Step Functions' limit on input, output and state
CLOSED_RETENTION_SECONDS: Final = 24 * 3600.0
PRUNE_EVERY_SECONDS: Final = 60.0  # how often a start looks for finished executions past their retention
JOURNAL_SUFFIX: Final = ".journal"
JOURNAL_MIN_LINES: Final = 1000  # the state file is rewritten once the journal has this many lines (and 2x its)

CONTENT_TYPE: Final = "application/x-amz-json-1.0"
TARGET_PREFIX: Final = "AWSStepFunctions."
_NAME = re.compile(r"^[^\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]{1,80}$")
_STATE_MACHINE_ARN = re.compile(r"^arn:[a-z-]+:states:[a-z0-9-]*:[0-9]*:stateMachine:[^:]+$")
_EXECUTION_ARN = re.compile(r"^arn:[a-z-]+:states:[a-z0-9-]*:[0-9]*:execution:[^:]+:[^:]+$")

RUNNING: Final = "RUNNING"
SUCCEEDED: Final = "SUCCEEDED"
FAILED: Final = "FAILED"
ABORTED: Final = "ABORTED"
TIMED_OUT: Final = "TIMED_OUT"


class StepFunctionsError(ApiError):
    """An error answer of the API: ``code`` is sent as ``__type``."""


@dataclass
class Execution:
    """One execution. ``state`` is what the next RunStep gets; ``wake_at`` (epoch seconds) ends the current Wait."""

    arn: str
    name: str
    state_machine_arn: str
    input: str
    start_date: float
    status: str = RUNNING
    stop_date: float | None = None
    output: str | None = None
    error: str | None = None
    cause: str | None = None
    state: Any = None
    wake_at: float | None = None
    deadline: float = float("inf")  # epoch seconds of the execution timeout
    invocations: int = 0  # RunStep handler calls, retries included
    _wake: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)
    _finished: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)

    @property
    def done(self) -> bool:
        return self.status != RUNNING

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the execution has finished (any status but RUNNING); False on timeout."""
        return self._finished.wait(timeout)

    def describe(self) -> dict[str, Any]:
        """The DescribeExecution response."""
        response: dict[str, Any] = {
            "executionArn": self.arn,
            "stateMachineArn": self.state_machine_arn,
            "name": self.name,
            "status": self.status,
            "startDate": self.start_date,
            "input": self.input,
            "inputDetails": {"included": True},
        }
        if self.stop_date is not None:
            response["stopDate"] = self.stop_date
        if self.output is not None:
            response["output"] = self.output
            response["outputDetails"] = {"included": True}
        if self.error is not None:
            response["error"] = self.error
        if self.cause is not None:
            response["cause"] = self.cause
        return response

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Execution:
        execution = cls(**data)
        if execution.done:
            execution._finished.set()
        return execution


class LocalStepFunctions(Service):
    """The Step Functions API on ``http://host:port`` (0 picks a free port) and the runner of its executions.

    ``handler`` is RunStep's Lambda handler ``(event, context) -> state``; by default
    ``functions/escalation_step/handler.py``, loaded at the first step (an import error fails that step, which is
    retried like any error). ``time_scale`` multiplies every wait and retry delay.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        handler: Handler | None = None,
        time_scale: float = 1.0,
        *,
        state_machine_arn: str = STATE_MACHINE_ARN,
        state_file: Path | None = None,
        functions_dir: Path = FUNCTIONS_DIR,
    ) -> None:
        if time_scale < 0:
            raise ValueError(f"time_scale must be >= 0, got {time_scale}")
        if not _STATE_MACHINE_ARN.match(state_machine_arn):
            raise ValueError(f"not a state machine ARN: {state_machine_arn!r}")
        self.host = host
        self.port = port
        self.time_scale = time_scale
        self.state_machine_arn = state_machine_arn
        self.state_file = state_file
        self.functions_dir = functions_dir
        self.executions: dict[str, Execution] = {}  # by execution ARN
        # An import error is not cached: the next step tries again.
        self._handlers = HandlerRegistry({FUNCTION_NAME: handler} if handler is not None else None, functions_dir)
        self._lock = threading.RLock()  # executions and the state file
        self._shutdown = threading.Event()
        self._server: ApiServer | None = None
        self._runners: dict[str, threading.Thread] = {}
        self._journal: TextIO | None = None  # open for appending while this instance owns the state file
        self._journaled = 0  # lines in the journal since the state file was last written whole
        self._pruned = -float("inf")  # time.monotonic() of the last prune

    # --- lifecycle ----------------------------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, *, resume: bool = True) -> Self:
        """Serve the API; with ``resume``, also continue the running executions of ``state_file``.

        ``python -m local`` starts with ``resume=False``, exports the endpoint to the environment (the handlers
        of resumed executions call this API too), then calls :meth:`resume`.
        """
        if self._server is not None:
            raise RuntimeError("already started")
        self._server = ApiServer(
            self._serve, content_type=CONTENT_TYPE, methods=("POST",), name="sfn-http", host=self.host, port=self.port
        )
        self._server.start()
        self.port = self._server.port
        log.info("Step Functions emulation on %s (time scale %g)", self.endpoint, self.time_scale)
        if resume:
            self.resume()
        return self

    def resume(self) -> int:
        """Load ``state_file`` (with its journal) and continue its running executions; returns how many were
        resumed."""
        loaded = load_records(self.state_file, "executions", Execution.from_json, "execution state")
        journaled = self._read_journal()
        if loaded is None and not journaled:
            return 0
        latest = {e.arn: e for e in [*(loaded or []), *journaled]}  # the journal's last line of each wins
        resumed = 0
        with self._lock:
            for execution in latest.values():
                if execution.arn in self.executions:
                    continue
                self.executions[execution.arn] = execution
                if not execution.done:
                    self._spawn(execution)
                    resumed += 1
            self._prune()
            self._write_state()
        if resumed:
            log.info("resumed %d running execution(s) from %s", resumed, self.state_file)
        return resumed

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving and the runners. Running executions stay RUNNING in ``state_file``: a restart resumes them."""
        with self._lock:
            self._write_state()
            if self._journal is not None:
                self._journal.close()
                self._journal = None
            self._shutdown.set()
            for execution in self.executions.values():
                execution._wake.set()
            runners = list(self._runners.values())
        if self._server is not None:
            self._server.stop(timeout)
        deadline = time.monotonic() + timeout
        for runner in runners:  # a handler in the middle of a step may take a moment
            runner.join(max(0.0, deadline - time.monotonic()))

    # --- the API (also callable directly) -----------------------------------------------------------------------

    def execution_arn(self, name: str) -> str:
        return self.state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"

    def execution(self, name: str) -> Execution:
        """The execution called ``name`` (KeyError if none)."""
        return self.executions[self.execution_arn(name)]

    def start_execution(self, state_machine_arn: str, name: str | None = None, input: str | None = None) -> Execution:
        if not isinstance(state_machine_arn, str) or not _STATE_MACHINE_ARN.match(state_machine_arn):
            raise StepFunctionsError("InvalidArn", f"Invalid Arn: '{state_machine_arn}'")
        if state_machine_arn != self.state_machine_arn:
            raise StepFunctionsError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{state_machine_arn}'")
        name = str(uuid.uuid4()) if name is None else name
        if not isinstance(name, str) or not _NAME.match(name):
            raise StepFunctionsError("InvalidName", f"Invalid Name: '{name}'")
        text = "{}" if input is None else input
        if not isinstance(text, str):
            raise StepFunctionsError("InvalidExecutionInput", "Invalid State Machine Execution Input: not a string")
        if len(text.encode()) > MAX_PAYLOAD_BYTES:
            raise StepFunctionsError(
                "ValidationException",
                "1 validation error detected: Value at 'input' failed to satisfy constraint: "
                f"Member must have length less than or equal to {MAX_PAYLOAD_BYTES}",
            )
        try:
            state = json.loads(text)
        except ValueError as exc:
            raise StepFunctionsError(
                "InvalidExecutionInput", f"Invalid State Machine Execution Input: '{exc}'"
            ) from None
        arn = self.execution_arn(name)
        with self._lock:
            existing = self.executions.get(arn)
            if existing is not None:
                if existing.status == RUNNING and existing.input == text:
                    return existing  # idempotent: same name, same input, still running
                raise StepFunctionsError("ExecutionAlreadyExists", f"Execution Already Exists: '{arn}'")
            now = time.time()
            timeout = EXECUTION_TIMEOUT_SECONDS * self.time_scale if self.time_scale > 0 else float("inf")
            execution = Execution(
                arn=arn,
                name=name,
                state_machine_arn=state_machine_arn,
                input=text,
                start_date=now,
                state=state,
                deadline=now + timeout,
            )
            self.executions[arn] = execution
            if time.monotonic() - self._pruned > PRUNE_EVERY_SECONDS:
                self._prune()
            self._save(execution)
            self._spawn(execution)
        log.debug("execution %s started", name)  # the terminal tells groups and notifications instead
        return execution

    def stop_execution(self, execution_arn: str, error: str | None = None, cause: str | None = None) -> Execution:
        with self._lock:
            execution = self._get(execution_arn)
            if execution.status == RUNNING:
                self._finish(execution, ABORTED, error=error, cause=cause)
                log.info("execution %s stopped", execution.name)
            return execution

    def describe_execution(self, execution_arn: str) -> Execution:
        with self._lock:
            return self._get(execution_arn)

    def _get(self, execution_arn: str) -> Execution:
        if not isinstance(execution_arn, str) or not _EXECUTION_ARN.match(execution_arn):
            raise StepFunctionsError("InvalidArn", f"Invalid Arn: '{execution_arn}'")
        try:
            return self.executions[execution_arn]
        except KeyError:
            raise StepFunctionsError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{execution_arn}'") from None

    def _serve(self, method: str, path: str, headers: Message, body: bytes) -> tuple[int, Mapping[str, str], Any]:
        """AWS JSON 1.0 addresses the operation by header: every request is ``POST /``."""
        status, document = self.dispatch(headers.get("X-Amz-Target", ""), body)
        return status, {}, document

    def dispatch(self, target: str, body: bytes) -> tuple[int, dict[str, Any]]:
        """One AWS JSON 1.0 request -> (HTTP status, response document)."""
        operation = target.removeprefix(TARGET_PREFIX) if target.startswith(TARGET_PREFIX) else None
        try:
            params = json.loads(body or b"{}")
            if not isinstance(params, dict):
                raise ValueError("the request body is not a JSON object")
        except ValueError as exc:
            return 400, {"__type": "SerializationException", "message": str(exc)}
        try:
            if operation == "StartExecution":
                execution = self.start_execution(
                    _required(params, "stateMachineArn"), params.get("name"), params.get("input")
                )
                return 200, {"executionArn": execution.arn, "startDate": execution.start_date}
            if operation == "StopExecution":
                execution = self.stop_execution(
                    _required(params, "executionArn"), params.get("error"), params.get("cause")
                )
                return 200, {"stopDate": execution.stop_date}
            if operation == "DescribeExecution":
                return 200, self.describe_execution(_required(params, "executionArn")).describe()
        except StepFunctionsError as exc:
            return 400, {"__type": exc.code, "message": exc.message}
        except Exception:
            log.exception("Step Functions emulation: %s failed", target)
            return 500, {"__type": "InternalFailure", "message": "the local Step Functions emulation failed"}
        return 400, {"__type": "UnknownOperationException", "message": f"unsupported operation {target!r}"}

    # --- the runner ---------------------------------------------------------------------------------------------

    def _spawn(self, execution: Execution) -> None:
        runner = threading.Thread(target=self._run, args=(execution,), name=f"sfn-{execution.name}", daemon=True)
        self._runners[execution.arn] = runner
        runner.start()

    def _active(self, execution: Execution) -> bool:
        return execution.status == RUNNING and not self._shutdown.is_set()

    def _sleep(self, execution: Execution, until: float) -> bool:
        """Sleep until ``until`` (epoch seconds) or the execution timeout; False if stopped, shut down or timed out."""
        while self._active(execution):
            now = time.time()
            if now >= execution.deadline:
                with self._lock:
                    if self._active(execution):
                        self._finish(execution, TIMED_OUT, error="States.Timeout", cause="The execution timed out")
                        log.error("execution %s timed out", execution.name)
                return False
            if now >= until:
                return True
            execution._wake.wait(min(until, execution.deadline) - now)
        return False

    def _run(self, execution: Execution) -> None:
        try:
            self._loop(execution)
        except Exception:  # a bug of ours must not leave an execution RUNNING forever
            log.exception("execution %s: the local runner failed", execution.name)
            with self._lock:
                if self._active(execution):
                    self._finish(execution, FAILED, error="States.Runtime", cause=traceback.format_exc())
        finally:
            with self._lock:
                if self._runners.get(execution.arn) is threading.current_thread():
                    del self._runners[execution.arn]

    def _loop(self, execution: Execution) -> None:
        while True:
            if execution.wake_at is not None and not self._sleep(execution, execution.wake_at):
                return
            outcome = self._run_step(execution)
            with self._lock:
                if not self._active(execution):
                    return  # stopped (ABORTED) or shut down while the step ran
                if isinstance(outcome, _Failure):
                    self._finish(execution, FAILED, error=outcome.error, cause=outcome.cause)
                    log.error(
                        "execution %s FAILED after %d invocation(s): %s %s",
                        execution.name,
                        execution.invocations,
                        outcome.error,
                        outcome.cause,
                    )
                    return
                state = outcome
                wait = _choice_and_wait(state)
                if isinstance(wait, _Failure):
                    self._finish(execution, FAILED, error=wait.error, cause=wait.cause)
                    log.error("execution %s FAILED: %s %s", execution.name, wait.error, wait.cause)
                    return
                if wait is None:  # done
                    self._finish(execution, SUCCEEDED, output=json.dumps(state))
                    log.debug("execution %s succeeded after %d invocation(s)", execution.name, execution.invocations)
                    return
                execution.state = state
                execution.wake_at = time.time() + wait * self.time_scale
                self._save(execution)

    def _run_step(self, execution: Execution) -> Any:
        """RunStep with its retry policy: the new state, a :class:`_Failure`, or None if no longer active."""
        delay = RETRY_INTERVAL_SECONDS
        for attempt in range(RETRY_MAX_ATTEMPTS + 1):
            if attempt and not self._sleep(execution, time.time() + delay * self.time_scale):
                return None
            if attempt:
                delay *= RETRY_BACKOFF_RATE
            if not self._active(execution):
                return None
            try:
                return self._invoke(execution)
            except _DataLimitExceeded as exc:
                return _Failure("States.DataLimitExceeded", str(exc))  # not retried, as on AWS
            except Exception as exc:
                failure = _Failure.of(exc)
                if attempt == RETRY_MAX_ATTEMPTS:
                    log.error("execution %s: RunStep failed, no retries left", execution.name, exc_info=exc)
                    return failure
                log.warning(
                    "execution %s: RunStep failed (%s: %s); retry %d of %d in %g s",
                    execution.name,
                    failure.error,
                    exc,
                    attempt + 1,
                    RETRY_MAX_ATTEMPTS,
                    delay * self.time_scale,
                )
        raise AssertionError("unreachable")

    def _invoke(self, execution: Execution) -> Any:
        event = json.loads(json.dumps(execution.state))  # the function gets its own copy, as on Lambda
        with self._lock:
            execution.invocations += 1
        context = LambdaContext(
            FUNCTION_NAME, timeout_seconds=FUNCTION_TIMEOUT_SECONDS, memory_limit_in_mb=FUNCTION_MEMORY_MB
        )
        result = self._handlers.invoke(FUNCTION_NAME, event, context)
        text = json.dumps(result)  # what Lambda returns: a result that is no JSON fails the invocation
        if len(text.encode()) > MAX_PAYLOAD_BYTES:
            raise _DataLimitExceeded(
                f"The state/task '{FUNCTION_NAME}' returned a result with a size exceeding the maximum number of "
                f"bytes service limit ({MAX_PAYLOAD_BYTES})."
            )
        return json.loads(text)

    # --- bookkeeping (under self._lock) ---------------------------------------------------------------------

    def _finish(
        self,
        execution: Execution,
        status: str,
        *,
        output: str | None = None,
        error: str | None = None,
        cause: str | None = None,
    ) -> None:
        execution.status = status
        execution.stop_date = time.time()
        execution.output = output
        execution.error = error
        execution.cause = cause
        execution.wake_at = None
        execution._finished.set()
        execution._wake.set()
        self._save(execution)

    def _prune(self) -> None:
        self._pruned = time.monotonic()
        horizon = time.time() - CLOSED_RETENTION_SECONDS
        for arn in [a for a, e in self.executions.items() if e.done and (e.stop_date or 0) < horizon]:
            del self.executions[arn]

    @property
    def _journal_path(self) -> Path | None:
        return None if self.state_file is None else self.state_file.with_name(self.state_file.name + JOURNAL_SUFFIX)

    def _save(self, execution: Execution) -> None:
        """Journal ``execution``'s transition (one line); write the state file whole once the journal outgrows it."""
        path = self._journal_path
        if path is None or self._shutdown.is_set():
            return  # after stop(), a new instance may own the file
        if self._journal is None:
            self._journal = path.open("a", encoding="utf-8")
        self._journal.write(json.dumps(execution.to_json()) + "\n")
        self._journal.flush()  # in the file before the API answers: a killed stack resumes it
        self._journaled += 1
        if self._journaled >= max(JOURNAL_MIN_LINES, 2 * len(self.executions)):
            self._write_state()

    def _write_state(self) -> None:
        """Every execution into the state file, then the journal emptied (it holds nothing the file does not)."""
        path = self._journal_path
        if self.state_file is None or path is None or self._shutdown.is_set():
            return
        save_records(self.state_file, "executions", (e.to_json() for e in self.executions.values()))
        if self._journal is not None:
            self._journal.close()
        self._journal = path.open("w", encoding="utf-8")
        self._journaled = 0

    def _read_journal(self) -> list[Execution]:
        """The journal's executions in the order written; a line cut short by a crash ends it."""
        path = self._journal_path
        if path is None or not path.exists():
            return []
        found = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                found.append(Execution.from_json(json.loads(line)))
            except (ValueError, TypeError):
                log.warning("execution journal %s: ignoring a damaged line and what follows", path)
                break
        return found


@dataclass(frozen=True)
class _Failure:
    error: str
    cause: str

    @classmethod
    def of(cls, exc: BaseException) -> _Failure:
        """Lambda's unhandled-error payload: the exception type is the error name."""
        cause = {
            "errorMessage": str(exc),
            "errorType": type(exc).__name__,
            "stackTrace": traceback.format_tb(exc.__traceback__),
        }
        return cls(type(exc).__name__, json.dumps(cause))


class _DataLimitExceeded(Exception):
    pass


def _choice_and_wait(state: Any) -> int | _Failure | None:
    """IsDone and Wait of the state machine: None if done, else the seconds to wait, or why the execution fails."""
    if not isinstance(state, dict) or "done" not in state:
        return _Failure(
            "States.Runtime",
            "An error occurred while executing the state 'IsDone'. Invalid path '$.done': "
            "The choice state's condition path references an invalid value.",
        )
    if state["done"] is True:
        return None
    seconds = state.get("wait_seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
        return _Failure(
            "States.Runtime",
            "An error occurred while executing the state 'Wait'. The SecondsPath parameter does not reference "
            f"a valid non-negative integer value: {seconds!r}",
        )
    return seconds


def _required(params: dict[str, Any], key: str) -> Any:
    if key not in params:
        raise StepFunctionsError(
            "ValidationException",
            f"1 validation error detected: Value null at '{key}' failed to satisfy constraint: Member must not be null",
        )
    return params[key]


def time_scale_from_env(default: float = 1.0) -> float:
    """``TOCSIN_TIME_SCALE`` as a float (``default`` if unset or empty)."""
    raw = os.environ.get(TIME_SCALE_ENV, "")
    return float(raw) if raw.strip() else default
