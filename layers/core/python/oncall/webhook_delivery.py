"""Outgoing webhooks on their way out: which fire when an alert group changes, and sending one, as OnCall does.

A webhook fires on its ``trigger_type`` (``status change``: on any of acknowledge, resolve, silence, unsilence,
unresolve, unacknowledge), for groups of the integrations of its ``integration_filter`` (none: all), or when an
escalation step triggers it. Each firing is its own execution of the escalation state machine (``kind: webhook``),
started by the escalation starter from the table's stream (:func:`oncall.escalation.follow`), like every
escalation: the request that changed the group (an ingest, an acknowledge) only stores it, so a slow or dead
webhook never slows an answer, and a change is never lost between its write and its webhooks. The execution sends the
request through the notifier's guarded client, and when the webhook answers 5xx or 429, times out or cannot be
reached, tries again after a wait of the state machine (``RETRY_WAITS``), at most ``ATTEMPTS`` times in all. Each
attempt is claimed first, so a retried RunStep never sends twice.

The request is OnCall's: ``url``, ``headers`` (a JSON object) and ``data`` are Jinja2 templates over the event
(:func:`event_data`: the group, its last alert's payload as ``alert_payload``, the integration, the user who
acted, and ``responses``: what the group's other webhooks last answered), rendered by the sandboxed templating
within its time and size budgets; ``headers`` and ``data`` see strings JSON-escaped, so a quote in a payload
cannot break the JSON around it. ``forward_all`` sends the whole event when no ``data`` is set;
``authorization_header`` becomes the Authorization header; ``trigger_template``, if set, must render to true/1
for the webhook to fire. The outcome goes to the group's timeline and is kept as the webhook's last response
(status, the start of the body, when).
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from oncall.directory import STATUS_CHANGES, OutgoingWebhook, WebhookResponse
from oncall.models import AlertGroup, TimelineEntry

if TYPE_CHECKING:
    from oncall.escalation import Services
    from oncall.executor import Executor
    from oncall.notify.channels import WebhookCall
    from oncall.ports import Store

logger = logging.getLogger(__name__)

ATTEMPTS: Final = 3
RETRY_WAITS: Final = (10, 60)  # seconds before the second and the third attempt
WITH_BODY: Final = frozenset({"POST", "PUT", "PATCH"})
_CODES: Final = {
    "escalation": "esc",
    "alert group created": "new",
    "acknowledge": "ack",
    "resolve": "res",
    "silence": "sil",
    "unsilence": "unsil",
    "unresolve": "unres",
    "unacknowledge": "unack",
}


class RequestProblem(Exception):
    """The request could not be built (a template failed); ``str()`` says which part, as OnCall: "Data - ..."."""


# --- which fire ---------------------------------------------------------------------------------------------------


def triggers(before: AlertGroup | None, after: AlertGroup) -> list[str]:
    """The triggers of a stored change of a group (``before`` None: it was created)."""
    if before is None:
        return ["alert group created"]
    found = []
    for flag, on, off in (
        ("acknowledged", "acknowledge", "unacknowledge"),
        ("resolved", "resolve", "unresolve"),
        ("silenced", "silence", "unsilence"),
    ):
        was, now = getattr(before, flag), getattr(after, flag)
        if was != now:
            found.append(on if now else off)
    return found


def fires_on(hook: OutgoingWebhook, trigger: str, group: AlertGroup) -> bool:
    if not hook.is_webhook_enabled:
        return False
    if hook.integration_filter and group.integration_id not in hook.integration_filter:
        return False
    return hook.trigger_type == trigger or (hook.trigger_type == "status change" and trigger in STATUS_CHANGES)


class Listing:
    """The outgoing webhooks, listed at most once for a batch of changes (the escalation starter's): a burst of new
    groups costs one read of the webhooks per batch, not one per group. A webhook saved while the batch is followed
    fires from the next batch on, as it would for a change the stream delivered a moment later."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._hooks: list[OutgoingWebhook] | None = None

    def __call__(self) -> list[OutgoingWebhook]:
        if self._hooks is None:
            self._hooks = self._store.webhooks.list()
        return self._hooks


def after_change(
    store: Store,
    executor: Executor,
    before: AlertGroup | None,
    after: AlertGroup,
    now: datetime,
    webhooks: Callable[[], list[OutgoingWebhook]] | None = None,
) -> None:
    """Start the webhooks that fire on this stored change (a listing of webhooks, only if something changed;
    ``webhooks`` lists them, e.g. a batch's :class:`Listing`)."""
    found = triggers(before, after)
    if not found:
        return
    hooks = webhooks() if webhooks is not None else store.webhooks.list()
    for trigger in found:
        for hook in hooks:
            if fires_on(hook, trigger, after):
                # Named by the stored version: the stream delivering this change again starts nothing twice.
                key = f"{_CODES.get(trigger, 'x')}v{after.version}"
                start(executor, hook.id, after, trigger, now, user_id=_actor(after, trigger), key=key)


def start(
    executor: Executor,
    webhook_id: str,
    group: AlertGroup,
    trigger: str,
    now: datetime,
    *,
    user_id: str | None = None,
    key: str | None = None,
) -> None:
    """Start the execution that sends ``webhook_id`` for ``group``; ``key`` names it (an escalation step's key),
    else the moment does."""
    key = key or f"{_CODES.get(trigger, 'x')}{int(now.timestamp() * 1000)}"
    state = {
        "kind": "webhook",
        "group_id": group.id,
        "webhook_id": webhook_id,
        "trigger": trigger,
        "user_id": user_id,
        "key": f"wh-{webhook_id}-{key}",
        "attempt": 0,
        "wait_seconds": 0,
        "done": False,
    }
    executor.start(execution_name(state), state)


def execution_name(state: dict[str, Any]) -> str:
    return f"{state['group_id']}-{state['key']}"[:80]  # Step Functions' limit


def _actor(group: AlertGroup, trigger: str) -> str | None:
    by = {"acknowledge": group.acknowledged_by, "resolve": group.resolved_by}.get(trigger)
    return by if by and by[:1] == "U" else None  # a person, not "source" or "escalation"


# --- sending one --------------------------------------------------------------------------------------------------


def run(state: dict[str, Any], services: Services, now: datetime) -> dict[str, Any]:
    """One attempt of one webhook (a RunStep of its execution); the next state waits before a retry."""
    done = {**state, "done": True, "wait_seconds": 0}
    store = services.store
    group = store.groups.get(state["group_id"])
    if group is None:
        return done
    trigger, escalation_step = state["trigger"], state["trigger"] == "escalation"
    hook = store.webhooks.get(state["webhook_id"])
    if hook is None or not hook.is_webhook_enabled:
        if escalation_step:  # a trigger of a state change was checked when it fired
            reason = "is disabled" if hook else "does not exist"
            _log(services, group, now, f"Webhook {state['webhook_id']} {reason}")
        return done
    event = event_data(services, group, hook, trigger, state.get("user_id"), now)
    if not _triggered(hook, event):
        return done
    attempt = int(state["attempt"]) + 1
    if not store.groups.claim(group.id, f"{state['key']}-a{attempt}"):
        return done  # this attempt ran already (a retried RunStep)
    name = f'Webhook "{hook.name}"' + ("" if escalation_step else f" ({trigger})")
    from oncall.notify.channels import WebhookFailed

    try:
        call = build_call(hook, event, lambda: _slack(services, group, now))
    except RequestProblem as problem:
        _record(store, hook, group, trigger, now, None, None, str(problem), attempt)
        _log(services, group, now, f"{name} failed: {problem}", "webhook_failed")
        return done
    try:
        answer = services.notifier.call_webhook(call)
    except WebhookFailed as failed:
        _record(store, hook, group, trigger, now, call.url, failed.status, failed.content or str(failed), attempt)
        if failed.retry and attempt < ATTEMPTS:
            wait = RETRY_WAITS[attempt - 1]
            _log(services, group, now, f"{name} failed: {failed}; trying again in {wait} s", "webhook_failed")
            return {**state, "attempt": attempt, "done": False, "wait_seconds": wait}
        tries = f" ({attempt} attempts)" if attempt > 1 else ""
        _log(services, group, now, f"{name} failed: {failed}{tries}", "webhook_failed")
        return done
    _record(store, hook, group, trigger, now, call.url, answer.status, answer.content, attempt)
    _log(services, group, now, f"{name} sent (HTTP {answer.status})", "webhook_sent")
    return done


def _triggered(hook: OutgoingWebhook, event: dict[str, Any]) -> bool:
    if not hook.trigger_template:
        return True
    from oncall import templating

    try:
        return templating.render(hook.trigger_template, **event).strip().lower() in ("true", "1")  # OnCall's
    except templating.TemplateProblem:
        return False


def build_call(hook: OutgoingWebhook, event: dict[str, Any], slack: Callable[[], dict[str, Any]]) -> WebhookCall:
    """The request of ``hook`` for ``event``, as OnCall's ``build_url`` and ``build_request_kwargs`` make it;
    ``slack``: the Slack message of the group (Tocsin's ``format: slack``)."""
    from oncall.notify.channels import WebhookCall

    url = _render(hook.url, event, "URL").strip() if "{" in hook.url else hook.url
    headers: dict[str, str] = {}
    if hook.headers:
        rendered = _render(hook.headers, _escaped(event), "Headers")
        try:
            fields = json.loads(rendered)
        except ValueError:
            fields = None
        if not isinstance(fields, dict):
            raise RequestProblem("Headers - Template did not result in json/dict")
        headers = {str(name): str(value) for name, value in fields.items()}
    if hook.username and hook.password:
        basic = base64.b64encode(f"{hook.username}:{hook.password}".encode()).decode()
        headers["Authorization"] = f"Basic {basic}"
    if hook.authorization_header:
        headers["Authorization"] = hook.authorization_header
    if hook.http_method not in WITH_BODY:
        return WebhookCall(hook.http_method, url, headers)
    if hook.data and not hook.forward_all:
        data = _render(hook.data, _escaped(event), "Data")
        try:
            return WebhookCall(hook.http_method, url, headers, json=json.loads(data))
        except ValueError:  # not JSON: sent as it is, as OnCall does
            return WebhookCall(hook.http_method, url, headers, content=data.encode())
    if hook.format == "slack":
        return WebhookCall(hook.http_method, url, headers, json=slack())
    if hook.forward_all:
        return WebhookCall(hook.http_method, url, headers, json=event)
    return WebhookCall(hook.http_method, url, headers)


def _render(template: str, context: dict[str, Any], part: str) -> str:
    from oncall import templating

    try:
        return templating.render(template, **context)
    except templating.TemplateProblem as problem:
        raise RequestProblem(f"{part} - {problem}") from None


class _JsonSafeDict(dict[str, Any]):
    """OnCall's ``EscapeDoubleQuotesDict``: printed whole into a JSON string, its quotes stay escaped."""

    def __str__(self) -> str:
        text = super().__str__()
        return text.replace('\\"', '"').replace('"', '\\"') if '"' in text else text


def _escaped(value: Any) -> Any:
    """Strings JSON-escaped (without their quotes), so a template may put them inside a JSON string."""
    if isinstance(value, dict):
        return _JsonSafeDict({key: _escaped(item) for key, item in value.items()})
    if isinstance(value, list):
        return [_escaped(item) for item in value]
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)[1:-1]
    return value


def event_data(
    services: Services, group: AlertGroup, hook: OutgoingWebhook, trigger: str, user_id: str | None, now: datetime
) -> dict[str, Any]:
    """OnCall's webhook event (``serialize_event``): what templates see and what ``forward_all`` sends."""
    store = services.store
    config = store.integrations.config(group.integration_id)
    integration = config.integration if config else None
    team = store.teams.get(integration.team_id) if integration and integration.team_id else None
    alert = None
    if group.last_alert_id:
        alert = store.groups.alerts_by_id([(group.id, group.last_alert_id)]).get(group.last_alert_id)
    event: dict[str, Any] = {"type": trigger, "time": _event_time(group, trigger, now)}
    if trigger == "silence":
        event["until"] = group.silenced_until.isoformat() if group.silenced_until else None
    return {
        "event": event,
        "user": _user(services, user_id),
        "alert_group": {
            "id": group.id,
            "integration_id": group.integration_id,
            "route_id": group.route_id,
            "team_id": group.team_id,
            "alerts_count": group.alerts_count,
            "state": group.state_at(now).value,
            "created_at": group.created_at.isoformat(),
            "resolved_at": _iso(group.resolved_at),
            "acknowledged_at": _iso(group.acknowledged_at),
            "silenced_at": _iso(group.silenced_at),
            "title": group.title,
            "labels": group.labels,
            "permalinks": {"web": f"{services.public_url}/ui/groups/{group.id}"},
        },
        "alert_group_id": group.id,
        "alert_payload": alert.payload if alert else {},
        "integration": {
            "id": group.integration_id,
            "type": integration.type if integration else None,
            "name": integration.name if integration else None,
            "team": team.name if team else None,
        },
        "notified_users": [],
        "users_to_be_notified": [],
        "alert_group_acknowledged_by": _user(services, group.acknowledged_by),
        "alert_group_resolved_by": _user(services, group.resolved_by),
        "webhook": {"id": hook.id, "name": hook.name},
        "responses": _responses(store, group.id, exclude=hook.id),
    }


def _responses(store: Store, group_id: str, *, exclude: str) -> dict[str, Any]:
    """The last answer of each other webhook for the group (JSON when it is), as OnCall's ``responses``."""
    found: dict[str, Any] = {}
    for webhook_id, content in store.webhooks.responses(group_id).items():
        if webhook_id != exclude:
            try:
                found[webhook_id] = json.loads(content)
            except ValueError:
                found[webhook_id] = content
    return found


def _event_time(group: AlertGroup, trigger: str, now: datetime) -> str | None:
    moment = {
        "alert group created": group.created_at,
        "acknowledge": group.acknowledged_at,
        "resolve": group.resolved_at,
        "silence": group.silenced_at,
    }.get(trigger, now)
    return _iso(moment)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _user(services: Services, user_id: str | None) -> dict[str, Any] | None:
    user = services.store.users.get(user_id) if user_id and user_id[:1] == "U" else None
    return {"id": user.id, "username": user.username, "email": user.email} if user else None


def _slack(services: Services, group: AlertGroup, now: datetime) -> dict[str, Any]:
    from oncall.escalation import compose_for

    notification = compose_for(services, group, important=False, user_id=None, now=now)
    return notification.slack_json  # type: ignore[no-any-return]


def _record(
    store: Store,
    hook: OutgoingWebhook,
    group: AlertGroup,
    trigger: str,
    now: datetime,
    url: str | None,
    status: int | None,
    content: str | None,
    attempts: int,
) -> None:
    response = WebhookResponse(
        at=now, trigger=trigger, group_id=group.id, url=url, status_code=status, content=content, attempts=attempts
    )
    store.webhooks.record_response(hook.id, response)


def _log(services: Services, group: AlertGroup, now: datetime, text: str, kind: str = "webhook_failed") -> None:
    services.store.groups.append_timeline([TimelineEntry(group_id=group.id, at=now, type=kind, text=text)])
