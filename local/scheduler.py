"""A local twin of EventBridge Scheduler (one-time ``at(...)`` schedules) and of the heartbeat sweep rule.

AWS ends a maintenance window with a one-time schedule (``infra/maintenance.py``): ``oncall.scheduler``'s
``EventBridgeScheduler`` calls ``CreateSchedule`` with ``at(<end>)``, a Lambda target (``maintenance_end``) and
``ActionAfterCompletion=DELETE``, and ``DeleteSchedule`` when the window is stopped early. Locally,
:class:`LocalScheduler` serves those calls (plus ``GetSchedule`` and ``ListSchedules``, handy to look) over the
service's REST-JSON protocol, so boto3 and the adapter work unchanged once ``AWS_ENDPOINT_URL_SCHEDULER`` points
here (botocore derives the variable from the service id ``Scheduler``):

    POST   /schedules/{Name}                 body: GroupName, ScheduleExpression, Target, ...  -> {"ScheduleArn"}
    DELETE /schedules/{Name}?groupName=g                                                       -> {}
    GET    /schedules/{Name}?groupName=g                                                       -> the schedule
    GET    /schedules?ScheduleGroup=g&NamePrefix=p&State=s                                     -> {"Schedules"}

Errors are answered as AWS does: HTTP status, header ``x-amzn-ErrorType: <code>`` and ``{"Message": ...}``, so
botocore raises ``client.exceptions.ResourceNotFoundException`` (404: unknown schedule or group),
``ConflictException`` (409: the name exists in the group) and ``ValidationException`` (400).

A runner thread fires each schedule at its time: the delay from now to the ``at(...)`` time (in
``ScheduleExpressionTimezone``) is multiplied by the time scale (``TOCSIN_TIME_SCALE``, as for escalation waits),
so a 100 s window ends after 2 s at 0.02. Firing invokes the target's handler in-process with the ``Input`` JSON
and a Lambda-like context, asynchronously as Scheduler invokes Lambda: the schedule is complete (and with
``DELETE``, gone) as soon as the invocation is handed over; a failing handler is logged and retried like a Lambda
asynchronous invocation (2 retries after 60 and 120 s, scaled), never stopping the runner.

Only ``at(...)`` expressions run here; ``rate``/``cron`` are refused with a ValidationException rather than
silently never firing. A flexible time window fires at its start. Schedule groups exist by configuration
(``default`` and ``tocsin``). With ``state_file`` (``python -m local``: ``.local/schedules.json``) schedules are
saved at every change: a restarted stack fires the pending ones at their time, and past-due ones at once.

:class:`HeartbeatSweep` stands for the EventBridge rule ``rate(1 minute)`` -> ``heartbeat_check``: it calls the
handler with a scheduled-event-shaped event every ``TOCSIN_HEARTBEAT_SWEEP_SECONDS`` (60; not scaled, since the
heartbeat timeouts it checks are real time; 0 turns it off). Errors are logged and the next sweep runs anyway.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from pathlib import Path
from typing import Any, Final, Self
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from local import FUNCTIONS_DIR
from local.awsapi import ApiError, ApiServer, load_records, save_records
from local.functions import HandlerRegistry, LambdaContext, load_handler
from local.lifecycle import LoopThread, Service

log = logging.getLogger(__name__)

Handler = Callable[[Any, Any], Any]

REGION: Final = "us-east-1"
ACCOUNT_ID: Final = "000000000000"
# What the local stack exports to the api handler (oncall.scheduler.scheduler_for).
MAINTENANCE_END_ARN: Final = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:tocsin-maintenance-end"
SCHEDULE_GROUP: Final = "tocsin"
SCHEDULER_ROLE_ARN: Final = f"arn:aws:iam::{ACCOUNT_ID}:role/tocsin-scheduler"
# Target ARN -> the function (folder under functions/) that the local stack runs for it.
DEFAULT_TARGETS: Final[Mapping[str, str]] = {MAINTENANCE_END_ARN: "maintenance_end"}
DEFAULT_GROUPS: Final = ("default", SCHEDULE_GROUP)

SWEEP_SECONDS_ENV: Final = "TOCSIN_HEARTBEAT_SWEEP_SECONDS"
DEFAULT_SWEEP_SECONDS: Final = 60.0
HEARTBEAT_FUNCTION: Final = "heartbeat_check"
HEARTBEAT_RULE_ARN: Final = f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/tocsin-heartbeat-sweep"

# As deployed (infra/heartbeat.py, infra/maintenance.py) and as Lambda retries asynchronous invocations.
FUNCTION_TIMEOUT_SECONDS: Final = 60.0
FUNCTION_MEMORY_MB: Final = 512
ASYNC_RETRY_DELAYS_SECONDS: Final = (60.0, 120.0)
MAX_INPUT_BYTES: Final = 256 * 1024

CONTENT_TYPE: Final = "application/json"
_NAME = re.compile(r"^[0-9a-zA-Z\-_.]{1,64}$")
_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_STATUS = {
    "ValidationException": 400,
    "ResourceNotFoundException": 404,
    "ConflictException": 409,
    "InternalServerException": 500,
    "UnknownOperationException": 404,
}


class SchedulerError(ApiError):
    """An error answer of the API: ``code`` is sent as ``x-amzn-ErrorType``."""

    @property
    def status(self) -> int:
        return _STATUS.get(self.code, 400)


@dataclass
class Schedule:
    """One schedule as created. ``fire_at`` (epoch seconds, already scaled) is None once it ran or when disabled."""

    name: str
    group: str
    expression: str
    timezone: str
    target: dict[str, Any]
    flexible_time_window: dict[str, Any]
    action_after_completion: str = "NONE"
    state: str = "ENABLED"
    description: str | None = None
    arn: str = ""
    creation_date: float = field(default_factory=time.time)
    fire_at: float | None = None

    def describe(self) -> dict[str, Any]:
        """The GetSchedule response."""
        response: dict[str, Any] = {
            "Arn": self.arn,
            "Name": self.name,
            "GroupName": self.group,
            "ScheduleExpression": self.expression,
            "ScheduleExpressionTimezone": self.timezone,
            "State": self.state,
            "CreationDate": self.creation_date,
            "LastModificationDate": self.creation_date,
            "Target": self.target,
            "FlexibleTimeWindow": self.flexible_time_window,
            "ActionAfterCompletion": self.action_after_completion,
        }
        if self.description is not None:
            response["Description"] = self.description
        return response

    def summary(self) -> dict[str, Any]:
        """One item of the ListSchedules response."""
        return {
            "Arn": self.arn,
            "Name": self.name,
            "GroupName": self.group,
            "State": self.state,
            "CreationDate": self.creation_date,
            "LastModificationDate": self.creation_date,
            "Target": {"Arn": self.target["Arn"]},
        }

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Schedule:
        return cls(**data)


class LocalScheduler(Service):
    """The EventBridge Scheduler API on ``http://host:port`` (0 picks a free port) and the runner of its schedules.

    ``targets`` maps a target ARN to its handler ``(event, context)``, or to the name of a function folder under
    ``functions_dir`` loaded at its first invocation (default: :data:`DEFAULT_TARGETS`, ``maintenance_end``).
    ``time_scale`` multiplies the time until each schedule fires and the invocation retry delays.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        targets: Mapping[str, Handler | str] | None = None,
        time_scale: float = 1.0,
        state_file: Path | None = None,
        groups: tuple[str, ...] = DEFAULT_GROUPS,
        functions_dir: Path = FUNCTIONS_DIR,
    ) -> None:
        if time_scale < 0:
            raise ValueError(f"time_scale must be >= 0, got {time_scale}")
        self.host = host
        self.port = port
        self.time_scale = time_scale
        self.state_file = state_file
        self.groups = tuple(groups)
        self.functions_dir = functions_dir
        self.schedules: dict[tuple[str, str], Schedule] = {}  # by (group, name)
        self._targets: dict[str, Handler | str] = dict(DEFAULT_TARGETS if targets is None else targets)
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)  # a schedule was added or removed: re-plan the runner
        self._shutdown = threading.Event()
        self._server: ApiServer | None = None
        self._runner: threading.Thread | None = None
        self._invocations: set[threading.Thread] = set()

    # --- lifecycle ----------------------------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, *, resume: bool = True) -> Self:
        """Serve the API and run the schedules; with ``resume``, also load the pending ones of ``state_file``.

        ``python -m local`` starts with ``resume=False``, exports the endpoint (the handlers that fire may call
        this API too), then calls :meth:`resume`.
        """
        if self._server is not None:
            raise RuntimeError("already started")
        self._server = ApiServer(
            self._serve,
            content_type=CONTENT_TYPE,
            methods=("GET", "POST", "DELETE"),
            name="scheduler-http",
            host=self.host,
            port=self.port,
        )
        self._server.start()
        self.port = self._server.port
        self._runner = threading.Thread(target=self._run, name="scheduler-runner", daemon=True)
        self._runner.start()
        log.info("EventBridge Scheduler emulation on %s (time scale %g)", self.endpoint, self.time_scale)
        if resume:
            self.resume()
        return self

    def resume(self) -> int:
        """Load the schedules of ``state_file`` (past-due ones fire at once); returns how many are pending."""
        loaded = load_records(self.state_file, "schedules", Schedule.from_json, "schedules")
        if loaded is None:
            return 0
        with self._changed:
            for schedule in loaded:
                self.schedules.setdefault((schedule.group, schedule.name), schedule)
            pending = sum(1 for s in self.schedules.values() if s.fire_at is not None)
            self._save()
            self._changed.notify_all()
        if pending:
            log.info("%d pending schedule(s) loaded from %s", pending, self.state_file)
        return pending

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving and firing. Pending schedules stay in ``state_file`` for the next start."""
        with self._changed:
            self._shutdown.set()
            self._changed.notify_all()
        if self._server is not None:
            self._server.stop(timeout)
        deadline = time.monotonic() + timeout
        with self._lock:
            threads = [*self._invocations] if self._runner is None else [self._runner, *self._invocations]
        for thread in threads:  # a handler in the middle of an invocation may take a moment
            thread.join(max(0.0, deadline - time.monotonic()))

    # --- the API (also callable directly) -----------------------------------------------------------------------

    def schedule_arn(self, group: str, name: str) -> str:
        return f"arn:aws:scheduler:{REGION}:{ACCOUNT_ID}:schedule/{group}/{name}"

    def create_schedule(self, name: str, params: Mapping[str, Any]) -> Schedule:
        _check_name(name, "name")
        group = params.get("GroupName") or "default"
        _check_name(group, "groupName")
        expression = _required(params, "ScheduleExpression")
        timezone = params.get("ScheduleExpressionTimezone") or "UTC"
        at = _parse_at(expression, timezone)
        target = _required(params, "Target")
        if not isinstance(target, dict) or not target.get("Arn") or not target.get("RoleArn"):
            raise SchedulerError("ValidationException", "Target must have an Arn and a RoleArn.")
        text = target.get("Input")
        if text is not None and (not isinstance(text, str) or not 1 <= len(text.encode()) <= MAX_INPUT_BYTES):
            raise SchedulerError("ValidationException", f"Target Input must be 1 to {MAX_INPUT_BYTES} bytes.")
        window = _required(params, "FlexibleTimeWindow")
        if not isinstance(window, dict) or window.get("Mode") not in ("OFF", "FLEXIBLE"):
            raise SchedulerError("ValidationException", "FlexibleTimeWindow Mode must be OFF or FLEXIBLE.")
        action = params.get("ActionAfterCompletion") or "NONE"
        if action not in ("NONE", "DELETE"):
            raise SchedulerError("ValidationException", "ActionAfterCompletion must be NONE or DELETE.")
        state = params.get("State") or "ENABLED"
        if state not in ("ENABLED", "DISABLED"):
            raise SchedulerError("ValidationException", "State must be ENABLED or DISABLED.")
        with self._changed:
            self._check_group(group)
            if (group, name) in self.schedules:
                raise SchedulerError("ConflictException", f"Schedule {name} already exists.")
            now = time.time()
            schedule = Schedule(
                name=name,
                group=group,
                expression=expression,
                timezone=timezone,
                target=dict(target),
                flexible_time_window=dict(window),
                action_after_completion=action,
                state=state,
                description=params.get("Description"),
                arn=self.schedule_arn(group, name),
                creation_date=now,
                fire_at=now + max(0.0, at - now) * self.time_scale if state == "ENABLED" else None,
            )
            self.schedules[(group, name)] = schedule
            self._save()
            self._changed.notify_all()
        log.info(
            "schedule %s/%s created: %s (fires in %.3g s)", group, name, expression, (schedule.fire_at or now) - now
        )
        return schedule

    def delete_schedule(self, name: str, group: str | None = None) -> None:
        group = group or "default"
        with self._changed:
            self._check_group(group)
            if self.schedules.pop((group, name), None) is None:
                raise SchedulerError("ResourceNotFoundException", f"Schedule {name} does not exist.")
            self._save()
            self._changed.notify_all()
        log.info("schedule %s/%s deleted", group, name)

    def get_schedule(self, name: str, group: str | None = None) -> Schedule:
        group = group or "default"
        with self._lock:
            self._check_group(group)
            try:
                return self.schedules[(group, name)]
            except KeyError:
                raise SchedulerError("ResourceNotFoundException", f"Schedule {name} does not exist.") from None

    def list_schedules(
        self, group: str | None = None, name_prefix: str | None = None, state: str | None = None
    ) -> list[Schedule]:
        with self._lock:
            if group is not None:
                self._check_group(group)
            return [
                s
                for s in self.schedules.values()
                if (group is None or s.group == group)
                and (not name_prefix or s.name.startswith(name_prefix))
                and (state is None or s.state == state)
            ]

    def _check_group(self, group: str) -> None:
        if group not in self.groups:
            raise SchedulerError("ResourceNotFoundException", f"Schedule group {group} does not exist.")

    def dispatch(self, method: str, raw_path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        """One REST-JSON request -> (HTTP status, response document); errors raise :class:`SchedulerError`."""
        url = urlsplit(raw_path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        parts = [unquote(p) for p in url.path.strip("/").split("/")]
        if parts[0] != "schedules" or len(parts) > 2:
            raise SchedulerError("UnknownOperationException", f"unsupported request {method} {url.path}")
        if len(parts) == 1:
            if method != "GET":
                raise SchedulerError("UnknownOperationException", f"unsupported request {method} {url.path}")
            found = self.list_schedules(query.get("ScheduleGroup"), query.get("NamePrefix"), query.get("State"))
            return _page(found, query)
        name = parts[1]
        if method == "POST":
            try:
                params = json.loads(body or b"{}")
                if not isinstance(params, dict):
                    raise ValueError("the request body is not a JSON object")
            except ValueError as exc:
                raise SchedulerError("ValidationException", str(exc)) from None
            return 200, {"ScheduleArn": self.create_schedule(name, params).arn}
        if method == "DELETE":
            self.delete_schedule(name, query.get("groupName"))
            return 200, {}
        if method == "GET":
            return 200, self.get_schedule(name, query.get("groupName")).describe()
        raise SchedulerError("UnknownOperationException", f"unsupported request {method} {url.path}")

    def _serve(self, method: str, path: str, headers: Message, body: bytes) -> tuple[int, Mapping[str, str], Any]:
        """REST-JSON errors: the status, the AWS error type in ``x-amzn-ErrorType`` and ``{"Message": ...}``."""
        try:
            status, document = self.dispatch(method, path, body)
        except SchedulerError as exc:
            return exc.status, {"x-amzn-ErrorType": exc.code}, {"Message": exc.message}
        except Exception:
            log.exception("EventBridge Scheduler emulation: %s %s failed", method, path)
            return (
                500,
                {"x-amzn-ErrorType": "InternalServerException"},
                {"Message": "the local EventBridge Scheduler emulation failed"},
            )
        return status, {}, document

    # --- the runner ---------------------------------------------------------------------------------------------

    def _run(self) -> None:
        with self._changed:
            while not self._shutdown.is_set():
                now = time.time()
                due = sorted(
                    (s for s in self.schedules.values() if s.fire_at is not None and s.fire_at <= now),
                    key=lambda s: s.fire_at or 0.0,
                )
                for schedule in due:
                    self._complete(schedule)
                    self._spawn_invocation(schedule)
                if due:
                    self._save()
                upcoming = [s.fire_at for s in self.schedules.values() if s.fire_at is not None]
                self._changed.wait(min(upcoming) - now if upcoming else None)

    def _complete(self, schedule: Schedule) -> None:
        """The invocation is handed over: the schedule has run (and deletes itself with DELETE)."""
        schedule.fire_at = None
        if schedule.action_after_completion == "DELETE":
            self.schedules.pop((schedule.group, schedule.name), None)
        log.info("schedule %s/%s fired", schedule.group, schedule.name)

    def _spawn_invocation(self, schedule: Schedule) -> None:
        thread = threading.Thread(target=self._invoke, args=(schedule,), name=f"scheduler-{schedule.name}", daemon=True)
        self._invocations.add(thread)
        thread.start()

    def _invoke(self, schedule: Schedule) -> None:
        """Lambda's asynchronous invocation: the first attempt, then 2 retries after 60 and 120 s (scaled)."""
        try:
            for attempt, delay in enumerate((0.0, *ASYNC_RETRY_DELAYS_SECONDS)):
                if attempt and self._shutdown.wait(delay * self.time_scale):
                    return
                try:
                    handler, function = self._handler(schedule.target["Arn"])
                    text = schedule.target.get("Input")
                    event = json.loads(text) if text is not None else {}
                    context = LambdaContext(
                        function, timeout_seconds=FUNCTION_TIMEOUT_SECONDS, memory_limit_in_mb=FUNCTION_MEMORY_MB
                    )
                    result = handler(event, context)
                    log.info("schedule %s/%s: %s returned %s", schedule.group, schedule.name, function, result)
                    return
                except Exception:
                    retries = len(ASYNC_RETRY_DELAYS_SECONDS) - attempt
                    log.exception(
                        "schedule %s/%s: the target invocation failed (%s)",
                        schedule.group,
                        schedule.name,
                        f"{retries} retries left" if retries else "no retries left: dropped",
                    )
        finally:
            with self._lock:
                self._invocations.discard(threading.current_thread())

    def _handler(self, target_arn: str) -> tuple[Handler, str]:
        """The target's handler and function name; a function folder is loaded now (outside the lock, an import
        takes a while), and an import error is retried at the next invocation."""
        with self._lock:
            entry = self._targets.get(target_arn)
        if entry is None:
            raise LookupError(f"no local function for the target {target_arn} (known: {sorted(self._targets)})")
        if not isinstance(entry, str):
            return entry, target_arn.rsplit(":", 1)[-1]
        handler = load_handler(entry, self.functions_dir)
        with self._lock:
            if isinstance(self._targets.get(target_arn), str):  # else another invocation loaded it first
                self._targets[target_arn] = handler
            loaded = self._targets[target_arn]
        assert not isinstance(loaded, str)
        return loaded, entry

    # --- bookkeeping (under self._lock) -------------------------------------------------------------------------

    def _save(self) -> None:
        if self.state_file is None or self._shutdown.is_set():
            return  # after stop(), a new instance may own the file
        save_records(self.state_file, "schedules", (s.to_json() for s in self.schedules.values()))


def _required(params: Mapping[str, Any], key: str) -> Any:
    if params.get(key) in (None, ""):
        raise SchedulerError("ValidationException", f"1 validation error detected: Value null at '{key}'")
    return params[key]


def _check_name(name: Any, what: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise SchedulerError(
            "ValidationException",
            f"1 validation error detected: Value '{name}' at '{what}' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: [0-9a-zA-Z-_.]+ (1 to 64 characters)",
        )


def _parse_at(expression: Any, timezone: Any) -> float:
    """The epoch seconds of ``at(yyyy-mm-ddThh:mm:ss)`` in ``timezone``."""
    match = _AT.match(expression) if isinstance(expression, str) else None
    if match is None:
        raise SchedulerError(
            "ValidationException",
            f"Invalid Schedule Expression {expression}: the local EventBridge Scheduler emulation runs one-time "
            "schedules only, at(yyyy-mm-ddThh:mm:ss)",
        )
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise SchedulerError("ValidationException", f"Invalid ScheduleExpressionTimezone {timezone}") from None
    try:
        moment = datetime.fromisoformat(match.group(1)).replace(tzinfo=zone)
    except ValueError:
        raise SchedulerError("ValidationException", f"Invalid Schedule Expression {expression}") from None
    return moment.timestamp()


def _page(found: list[Schedule], query: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
    """ListSchedules: up to MaxResults (100) items from NextToken (an offset here)."""
    try:
        start = int(query.get("NextToken") or 0)
        size = int(query.get("MaxResults") or 100)
    except ValueError:
        raise SchedulerError("ValidationException", "invalid NextToken or MaxResults") from None
    items = found[start : start + size]
    response: dict[str, Any] = {"Schedules": [s.summary() for s in items]}
    if start + size < len(found):
        response["NextToken"] = str(start + size)
    return 200, response


def scheduler_env(scheduler: LocalScheduler) -> dict[str, str]:
    """What the api handler needs to create and delete the maintenance windows' schedules here."""
    return {
        "AWS_ENDPOINT_URL_SCHEDULER": scheduler.endpoint,  # botocore: AWS_ENDPOINT_URL_<service id "Scheduler">
        "TOCSIN_MAINTENANCE_END_ARN": MAINTENANCE_END_ARN,
        "TOCSIN_SCHEDULE_GROUP": SCHEDULE_GROUP,
        "TOCSIN_SCHEDULER_ROLE_ARN": SCHEDULER_ROLE_ARN,
    }


def sweep_seconds_from_env(default: float = DEFAULT_SWEEP_SECONDS) -> float:
    """``TOCSIN_HEARTBEAT_SWEEP_SECONDS`` as a float (``default`` if unset or empty; 0 turns the sweep off)."""
    raw = os.environ.get(SWEEP_SECONDS_ENV, "")
    value = float(raw) if raw.strip() else default
    if value < 0:
        raise ValueError(f"{SWEEP_SECONDS_ENV} must be >= 0, got {raw!r}")
    return value


class HeartbeatSweep(LoopThread):
    """The EventBridge rule ``rate(1 minute)`` -> ``heartbeat_check``: calls the handler every ``interval`` seconds.

    The first sweep runs one interval after :meth:`start`, as a new rule's does; a sweep slower than the interval
    delays the next one instead of overlapping it. ``handler`` defaults to ``functions/heartbeat_check``, loaded
    at the first sweep (an import error is logged and retried at the next one). ``interval`` 0: never sweeps.
    """

    thread_name = "heartbeat-sweep"

    def __init__(
        self,
        interval: float = DEFAULT_SWEEP_SECONDS,
        handler: Handler | None = None,
        *,
        function: str = HEARTBEAT_FUNCTION,
        rule_arn: str = HEARTBEAT_RULE_ARN,
        functions_dir: Path = FUNCTIONS_DIR,
    ) -> None:
        if interval < 0:
            raise ValueError(f"interval must be >= 0, got {interval}")
        super().__init__()
        self.interval = interval
        self.function = function
        self.rule_arn = rule_arn
        self.functions_dir = functions_dir
        self.sweeps = 0  # handler calls, failed ones included
        self.last_result: Any = None
        # An import error is not cached: the next sweep tries again.
        self._handlers = HandlerRegistry({function: handler} if handler is not None else None, functions_dir)

    @property
    def enabled(self) -> bool:
        return self.interval > 0

    def _prepare(self) -> None:
        log.info("heartbeat sweep: %s every %g s", self.function, self.interval)

    def sweep(self) -> Any:
        """One invocation, as the rule's target gets it (exceptions propagate)."""
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": ACCOUNT_ID,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": REGION,
            "resources": [self.rule_arn],
            "detail": {},
        }
        context = LambdaContext(
            self.function, timeout_seconds=FUNCTION_TIMEOUT_SECONDS, memory_limit_in_mb=FUNCTION_MEMORY_MB
        )
        return self._handlers.invoke(self.function, event, context)

    def _loop(self) -> None:
        next_at = time.monotonic() + self.interval
        while not self._stop.wait(max(0.0, next_at - time.monotonic())):
            self.sweeps += 1
            try:
                self.last_result = self.sweep()
                log.debug("heartbeat sweep: %s", self.last_result)
            except Exception:
                log.exception("heartbeat sweep: %s failed; the next sweep runs in %g s", self.function, self.interval)
            next_at += self.interval
            if next_at <= time.monotonic():  # the sweep took longer than the interval: no catching up
                next_at = time.monotonic() + self.interval
