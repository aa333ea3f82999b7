"""The minute sweep Lambda, invoked every minute by an EventBridge rule: due heartbeats raise their alert,
escalations whose start failed (Step Functions unavailable when the group was stored) are started, and a sweep
that ran to its end pings the dead-man's switch URL (``TOCSIN_DEADMAN_URL``), if the deployment has one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from oncall import deadman, escalation, heartbeat, telemetry
from oncall.container import Container

if TYPE_CHECKING:
    import httpx

logger = telemetry.handler_logger()
tracer = telemetry.tracer()
container = Container()  # this environment's store and executor
_http: httpx.Client | None = None


def http_sender() -> deadman.HttpSender:
    """A plain httpx client for the deployer's own URL; to become the guarded outbound client (oncall.outbound)."""
    global _http
    if _http is None:
        import httpx

        _http = httpx.Client(follow_redirects=False, headers={"User-Agent": "Tocsin dead-man's switch"})
    return _http


@telemetry.publishing
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    store, executor, moment = container.store(), container.executor(), heartbeat.now()
    started = escalation.retry_deferred_starts(store, executor, moment)
    summary = heartbeat.check(store, executor, moment)
    telemetry.count(telemetry.SWEEPS)
    if url := deadman.configured_url():
        deadman.ping(url, http_sender())
    return {"result": f"{summary}; started {started} deferred escalations"}
