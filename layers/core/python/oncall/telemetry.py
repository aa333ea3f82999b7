"""Metrics, structured logs and traces of the Lambda functions: what a pager and a dashboard read.

- **Metrics.** Their names and dimensions are defined here once: the domain and the handlers record them, the CDK
  alarms (``infra/``) watch them. Namespace ``Tocsin`` (``POWERTOOLS_METRICS_NAMESPACE``), dimension ``service``
  (``tocsin-<function>``, Powertools' convention) plus ``channel`` for notifications. The domain records with
  :func:`count` and :func:`gauge`, which import nothing; the handler publishes what an invocation recorded with
  :func:`flush` (Powertools Metrics: Embedded Metric Format in the function's log, so no API call and no latency).
- **Logs.** :func:`handler_logger` is a handler's Powertools Logger; with :func:`setup` the domain package's
  loggers (``oncall.*``) write through its handler, so every record of an invocation is the same JSON with the same
  keys (correlation id, group id, execution name, X-Ray trace id, the writing module's ``name``). Only in Lambda:
  the local stack and the tests keep their logging configuration.
- **Traces.** :func:`tracer` is Powertools Tracer when ``TOCSIN_TRACING`` is set (the ``tracing`` deployment
  setting) and the X-Ray SDK is in the layer; otherwise a stand-in that does nothing, so a cold start never pays
  for importing the SDK and patching boto3 and httpx unless tracing is on.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, NamedTuple, Protocol, TypeVar, cast

from oncall.settings import DEFAULT_METRICS_NAMESPACE, environment

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

logger = logging.getLogger(__name__)

DEFAULT_NAMESPACE: Final = DEFAULT_METRICS_NAMESPACE
SERVICE_ENV: Final = "POWERTOOLS_SERVICE_NAME"

# --- metrics: the one definition of names and dimensions (count unless said otherwise) ------------------------
ESCALATIONS_STARTED: Final = "EscalationsStarted"  # StartExecution of an escalation generation
ESCALATIONS_STOPPED: Final = "EscalationsStopped"  # StopExecution (acknowledge, resolve, silence)
EXECUTION_STARTS_FAILED: Final = "ExecutionStartsFailed"  # StartExecution raised (escalation, person, reminder)
NOTIFICATIONS_SENT: Final = "NotificationsSent"  # dimension CHANNEL
NOTIFICATIONS_FAILED: Final = "NotificationsFailed"  # dimension CHANNEL; retries included, so a person missed it
HEARTBEATS_EXPIRED: Final = "HeartbeatsExpired"
SWEEPS: Final = "SweepsCompleted"  # one per minute sweep that ran to its end
DEFERRED_STARTS_PENDING: Final = "DeferredStartsPending"  # escalations still unstarted after the sweep
OLDEST_DEFERRED_START_AGE: Final = "OldestDeferredStartAge"  # seconds (0 when none): how late the oldest page is
DEADMAN_PINGS_FAILED: Final = "DeadmanPingsFailed"  # the dead-man's switch URL could not be reached
INBOUND_MAIL_FAILED: Final = "InboundMailFailed"  # a received mail became no alert (kept under failed/)
CHANNEL: Final = "channel"
CHANNELS: Final = ("email", "sms", "phone_call", "webhook")

COUNT: Final = "Count"
SECONDS: Final = "Seconds"


def service_name(function: str) -> str:
    """The ``service`` of the function ``functions/<function>`` (``POWERTOOLS_SERVICE_NAME``, set by CDK)."""
    return f"tocsin-{function}"


class Recorded(NamedTuple):
    name: str
    value: float
    unit: str
    dimensions: dict[str, str]


_Key = tuple[str, str, tuple[tuple[str, str], ...]]  # name, unit, sorted dimensions
_MAX_VALUES: Final = 100  # EMF's limit of values per metric in one document
_pending: dict[_Key, list[float]] = {}  # counts are summed into one value; gauges keep each value
_lock = threading.Lock()


def count(name: str, value: float = 1, **dimensions: str) -> None:
    """Record ``value`` occurrences of ``name``; published by the handler's :func:`flush`."""
    key = (name, COUNT, tuple(sorted(dimensions.items())))
    with _lock:
        values = _pending.setdefault(key, [0.0])
        values[0] += value


def gauge(name: str, value: float, unit: str = SECONDS, **dimensions: str) -> None:
    key = (name, unit, tuple(sorted(dimensions.items())))
    with _lock:
        values = _pending.setdefault(key, [])
        if len(values) < _MAX_VALUES:
            values.append(float(value))


def drain() -> list[Recorded]:
    """What was recorded since the last drain or flush (counts summed), and forget it."""
    with _lock:
        taken = list(_pending.items())
        _pending.clear()
    return [
        Recorded(name, value, unit, dict(dimensions)) for (name, unit, dimensions), values in taken for value in values
    ]


def flush() -> None:
    """Publish the recorded metrics (one EMF document per dimension set); nothing recorded, nothing imported."""
    recorded = drain()
    if not recorded:
        return
    from aws_lambda_powertools.metrics import EphemeralMetrics

    groups: dict[tuple[tuple[str, str], ...], list[Recorded]] = {}
    for item in recorded:
        groups.setdefault(tuple(sorted(item.dimensions.items())), []).append(item)
    namespace = environment().metrics_namespace
    for dimensions, items in groups.items():
        metrics = EphemeralMetrics(namespace=namespace)
        for name, value in dimensions:
            metrics.add_dimension(name=name, value=value)
        for item in items:
            metrics.add_metric(name=item.name, unit=item.unit, value=item.value)
        metrics.flush_metrics()


F = TypeVar("F", bound=Callable[..., Any])


def publishing(handler: F) -> F:
    """Decorator of a Lambda handler: :func:`flush` after every invocation, whether it returned or raised."""

    @functools.wraps(handler)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        finally:
            try:
                flush()
            except Exception:  # metrics never fail an invocation
                logger.exception("publishing metrics failed")

    return wrapper  # type: ignore[return-value]


# --- logs -----------------------------------------------------------------------------------------------------


def handler_logger() -> Logger:
    """The Powertools Logger of a handler module, with :func:`setup` done. Each record names its logger (``name``),
    so the domain's records say which module wrote them."""
    from aws_lambda_powertools import Logger

    source = Logger(name="%(name)s")  # a key given here survives inject_lambda_context(clear_state=True)
    setup(source)
    return source


def setup(source: Logger) -> None:
    """In Lambda, the ``oncall`` package logs through ``source``'s handler: the same JSON, keys and level."""
    if not environment().in_lambda:
        return
    from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

    logging.getLogger("oncall")  # registered, so that the package's modules imported later inherit it
    copy_config_to_registered_loggers(source_logger=source, include={"oncall"})


# --- traces ---------------------------------------------------------------------------------------------------


class HandlerTracer(Protocol):
    """What the handlers use of Powertools' ``Tracer``."""

    def capture_lambda_handler(self, lambda_handler: F) -> F: ...
    def put_annotation(self, key: str, value: str) -> None: ...


class NoTracer:
    """Powertools Tracer's decorator and annotations, doing nothing (tracing off, or no X-Ray SDK)."""

    def capture_lambda_handler(self, lambda_handler: F) -> F:
        return lambda_handler

    def put_annotation(self, key: str, value: str) -> None:
        return None


def tracer(enabled: bool) -> HandlerTracer:
    """Powertools ``Tracer`` when tracing is on (the ``tracing`` setting) and the X-Ray SDK is importable, else a
    :class:`NoTracer`."""
    if not enabled:
        return NoTracer()
    try:
        import aws_xray_sdk  # type: ignore[import-untyped]  # noqa: F401  (Powertools imports it lazily; fail here, not in the first invocation)
        from aws_lambda_powertools import Tracer
    except ImportError:
        logger.warning("tracing is on but the X-Ray SDK is not in the layer: no traces")
        return NoTracer()
    # Powertools types its handler decorator as returning Callable[..., Any]; it keeps the handler's signature.
    return cast(HandlerTracer, Tracer())
