"""The ingest use case: an HTTP body for an integration becomes stored alerts in alert groups.

``IngestService.receive`` is what the ingest Lambda calls: it checks the token, the body and the rate limit,
then ``ingest`` routes, groups and stores each alert. Nothing is reported as received before it is stored.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from oncall import actions, escalation, grouping, ids, integration_types, routing, templating
from oncall.clock import SYSTEM_CLOCK, Clock
from oncall.errors import NotFound
from oncall.executor import Executor
from oncall.models import Alert, AlertGroup, IntegrationConfig
from oncall.ports import GroupKey, Store, StoreError, TokenRef
from oncall.revocable import RevocableCache
from oncall.settings import RateLimit

logger = logging.getLogger(__name__)
MAX_BODY_BYTES = 256 * 1024
# An alert item holds the payload and its rendered title and message within DynamoDB's 400 KB item limit.
MAX_STORED_PAYLOAD_BYTES = 350_000
MESSAGE_MAX_LENGTH = 10_000  # characters, so at most 40 KB of UTF-8
MAX_NESTING = 240  # levels of JSON nesting: real alerts are shallow; API responses (pydantic) serialize up to ~250
IMAGE_URL_MAX_LENGTH = 299
MAX_GROUPING_ATTEMPTS = 8  # a lost race is retried; this many in a row means something is badly wrong


class IngestError(Exception):
    """A request we refuse; ``status`` is the HTTP status, ``str(error)`` the message for the sender."""

    status = 400

    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UnknownToken(IngestError):
    status = 403


class PayloadTooLarge(IngestError):
    status = 413


class RateLimited(IngestError):
    status = 429


@dataclass(frozen=True)
class Stored:
    group_id: str
    alert_id: str
    created_group: bool
    resolved_group: bool


# --- body -----------------------------------------------------------------------------------------------------


def parse_body(body: bytes, content_type: str | None) -> Any:
    """The sender's payload as JSON data, or an IngestError that tells the sender what is wrong."""
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"Payload is too large ({len(body)} bytes > {MAX_BODY_BYTES} bytes)")
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type == "multipart/form-data":
        raise IngestError("File uploads are not allowed")
    if not body.strip():
        raise IngestError("Payload is required")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise IngestError(f"Payload is not valid UTF-8 (byte {error.start})") from error
    if media_type == "application/x-www-form-urlencoded":
        return dict(parse_qsl(text, keep_blank_values=True))
    try:
        payload = json.loads(text)
    except RecursionError as error:
        raise IngestError("Payload is nested too deeply") from error
    except json.JSONDecodeError as error:
        raise IngestError(
            f"Payload is not valid JSON: {error.msg} (line {error.lineno} column {error.colno})"
        ) from error
    except ValueError as error:  # e.g. an integer longer than Python's int_max_str_digits
        raise IngestError(f"Payload is not valid JSON: {error}") from error
    if _depth(payload) > MAX_NESTING:
        raise IngestError(f"Payload is nested too deeply (more than {MAX_NESTING} levels)")
    return payload


def _depth(value: Any) -> int:
    """Nesting depth of JSON data, without recursion (the data may be as deep as the parser allows)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def check_storable(payload: Any) -> None:
    """A payload whose stored form exceeds what an alert item can hold is refused with a 4xx: a 5xx would make
    the sender retry, for ever, something that can never be stored (JSON such as ``1E5`` grows when stored)."""
    size = len(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass"))
    if size > MAX_STORED_PAYLOAD_BYTES:
        raise PayloadTooLarge(f"Payload is too large once stored ({size} bytes > {MAX_STORED_PAYLOAD_BYTES} bytes)")


# --- the use case ---------------------------------------------------------------------------------------------


def render_appearance(config: IntegrationConfig, payload: Any) -> dict[str, str | None]:
    integration = config.integration
    context: dict[str, Any] = {"payload": payload, "integration_name": integration.name}
    source_link = grouping.render_optional(integration.template("source_link"), **context)
    context["source_link"] = source_link
    rendered: dict[str, str | None] = {"source_link": source_link}
    for name, limit in (("title", templating.TITLE_MAX_LENGTH), ("message", MESSAGE_MAX_LENGTH)):
        template = integration.template(name)  # type: ignore[arg-type]
        value = templating.render_or_fallback(template, max_length=limit, **context) if template else None
        rendered[name] = None if value in (None, "None") or not value.strip() else value
    image = grouping.render_optional(integration.template("image_url"), **context)
    rendered["image_url"] = image[:IMAGE_URL_MAX_LENGTH] if image and image.strip() else None
    return rendered


def with_alert_counts(payload: Any) -> Any:
    """Alertmanager-style notifications without ``numFiring`` (Alertmanager itself sends none) get
    ``numFiring``/``numResolved`` counted from ``alerts[].status``, as Grafana OnCall adds them for templates."""
    if not isinstance(payload, dict) or "numFiring" in payload or not isinstance(payload.get("alerts"), list):
        return payload
    statuses = [a.get("status") for a in payload["alerts"] if isinstance(a, dict)]
    return {**payload, "numFiring": statuses.count("firing"), "numResolved": statuses.count("resolved")}


class PointerCache:
    """Which group a grouping key pointed to lately, in this container (bounded, thread-safe).

    A hint only: appends through it are conditional on the group still being open, and a miss falls back
    to reading the pointer. It saves the pointer read on the hot path.
    """

    def __init__(self, size: int = 10_000) -> None:
        self._groups: OrderedDict[GroupKey, str] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: GroupKey) -> str | None:
        with self._lock:
            return self._groups.get(key)

    def put(self, key: GroupKey, group_id: str) -> None:
        with self._lock:
            self._groups[key] = group_id
            self._groups.move_to_end(key)
            if len(self._groups) > self._size:
                self._groups.popitem(last=False)

    def drop(self, key: GroupKey) -> None:
        with self._lock:
            self._groups.pop(key, None)


def ingest(
    store: Store,
    config: IntegrationConfig,
    payload: Any,
    *,
    now: datetime,
    is_demo: bool = False,
    pointers: PointerCache | None = None,
    executor: Executor | None = None,
) -> list[Stored]:
    """Store the alerts of one request. Per-alert integrations store each element of ``alerts[]``."""
    kind = integration_types.get(config.integration.type)
    check_storable(payload)
    if kind is not None and kind.counts_alerts:
        payload = with_alert_counts(payload)
    common: dict[str, Any] = {"now": now, "is_demo": is_demo, "executor": executor}
    if kind is not None and kind.mode == "per_alert":
        elements = payload.get("alerts") if isinstance(payload, dict) else None
        parts = elements if isinstance(elements, list) and elements else [payload]
        stored = [ingest_one(store, config, part, per_alert=True, **common) for part in parts]
    else:
        stored = [ingest_one(store, config, payload, pointers=pointers, **common)]
    return [s for s in stored if s is not None]


def ingest_one(
    store: Store,
    config: IntegrationConfig,
    payload: Any,
    *,
    now: datetime,
    is_demo: bool = False,
    per_alert: bool = False,
    pointers: PointerCache | None = None,
    executor: Executor | None = None,
) -> Stored | None:
    """Place one alert in its group. Plain alerts take one conditional write when the container has seen the
    key lately (append) or never (create); signals and surprises take the read-then-write path."""
    integration = config.integration
    kind = integration_types.get(integration.type)
    labels = grouping.alert_labels(integration, payload)
    route = routing.select_route(config.routes, payload, labels)
    signals = grouping.signals(integration, payload, labels, is_demo=is_demo)
    resolves = signals.is_resolve and integration.allow_source_based_resolving
    appearance = render_appearance(config, payload)
    key = GroupKey(integration.id, route.id, signals.distinction)
    alert_id = ids.new_sortable_id(ids.ALERT, now)

    def make_alert(group_id: str) -> Alert:
        return Alert(
            id=alert_id,
            group_id=group_id,
            created_at=now,
            payload=payload,
            is_demo=is_demo,
            is_resolve_signal=signals.is_resolve,
            is_acknowledge_signal=signals.is_acknowledge,
            **appearance,
        )

    label_hash = grouping.label_set_hash(payload) if per_alert else None

    def new_group() -> AlertGroup:
        return AlertGroup(
            id=ids.new_id(ids.ALERT_GROUP),
            integration_id=integration.id,
            route_id=route.id,
            route_description="the default route" if route.is_default else f"route #{route.position + 1}",
            team_id=integration.team_id,
            distinction=signals.distinction,
            title=appearance["title"] or "Alert",
            source_link=appearance["source_link"],
            labels=labels,
            created_at=now,
            alerts_count=1,
            last_alert_at=now,
            last_alert_id=alert_id,
            is_demo=is_demo,
            escalation_chain_id=route.escalation_chain_id,
            # In debug and maintenance mode nothing escalates; in maintenance mode groups join the window's group.
            escalation_generation=1 if route.escalation_chain_id and not integration.maintenance_mode else 0,
            root_alert_group_id=integration.maintenance_group_id
            if integration.maintenance_mode == "maintenance"
            else None,
        )

    def escalate(before: AlertGroup | None, after: AlertGroup) -> None:
        if executor is not None:  # the alert is stored: a failed start is retried by the sweep, not by the sender
            escalation.reconcile(store, executor, before, after, now)

    plain = not (resolves or signals.is_acknowledge or per_alert)
    if plain and pointers is not None:
        cached = pointers.get(key)
        if cached is not None:
            if store.groups.append_alert(key, cached, make_alert(cached)):
                return Stored(cached, alert_id, created_group=False, resolved_group=False)
            pointers.drop(key)
        else:
            group = new_group()
            if store.groups.create(group, make_alert(group.id), [], None):
                pointers.put(key, group.id)
                escalate(None, group)
                return Stored(group.id, alert_id, created_group=True, resolved_group=False)
    for _ in range(MAX_GROUPING_ATTEMPTS):
        pointer = store.groups.pointer(key)
        if pointer is not None and pointer.open:
            if plain:
                # One conditional transaction, no read of the group.
                if store.groups.append_alert(key, pointer.group_id, make_alert(pointer.group_id)):
                    if pointers is not None:
                        pointers.put(key, pointer.group_id)
                    return Stored(pointer.group_id, alert_id, created_group=False, resolved_group=False)
                continue
            group = store.groups.get(pointer.group_id)
            if group is None or not group.is_open:
                continue
            transition = _apply_signals(group, now, resolves, signals.is_acknowledge, label_hash)
            if store.groups.save(
                transition.group,
                group.version,
                alert=make_alert(group.id),
                timeline=transition.timeline,
                pointer=transition.pointer,
            ):
                escalate(group, transition.group)
                return Stored(group.id, alert_id, False, transition.group.resolved and not group.resolved)
            continue
        if kind is not None and kind.signals_join_only and (signals.is_resolve or signals.is_acknowledge):
            logger.info("%s for a key with no open group of %s: ignored", "resolve" if signals.is_resolve else
                        "acknowledge", integration.id)  # fmt: skip
            return None
        if pointer is not None and resolves and not per_alert:
            # A resolve signal after the group was resolved joins that group instead of opening a new one.
            group = store.groups.get(pointer.group_id)
            if group is not None and store.groups.save(group, group.version, alert=make_alert(group.id)):
                return Stored(group.id, alert_id, created_group=False, resolved_group=False)
            continue
        group = new_group()
        transition = _apply_signals(group, now, resolves, signals.is_acknowledge, label_hash)
        if store.groups.create(transition.group, make_alert(group.id), transition.timeline, pointer):
            if pointers is not None and transition.group.is_open:
                pointers.put(key, group.id)
            escalate(None, transition.group)
            return Stored(group.id, alert_id, created_group=True, resolved_group=transition.group.resolved)
    raise StoreError(f"could not place the alert after {MAX_GROUPING_ATTEMPTS} attempts (contention)")


def _apply_signals(
    group: AlertGroup, now: datetime, resolves: bool, acknowledges: bool, label_hash: str | None
) -> actions.Transition:
    transition = actions.Transition(group)
    if label_hash is not None:
        # Per-alert mode: the group resolves once the latest alert of every label set is resolved.
        states = {**group.label_states, label_hash: "resolved" if resolves else "firing"}
        transition.group = group.model_copy(update={"label_states": states})
        resolves = all(state == "resolved" for state in states.values())
    attached = transition.group.root_alert_group_id is not None
    if acknowledges and not attached and not transition.group.acknowledged and not transition.group.resolved:
        acked = actions.acknowledge(transition.group, actions.SOURCE, now)
        transition = actions.Transition(acked.group, transition.timeline + acked.timeline)
    if resolves and not transition.group.resolved:
        resolved = actions.resolve(transition.group, actions.SOURCE, now)
        transition = actions.Transition(resolved.group, transition.timeline + resolved.timeline, resolved.pointer)
    return transition


# --- the service the ingest Lambda holds ----------------------------------------------------------------------


@dataclass
class _RateState:
    """What this container knows of an integration's request count, and what it has not yet told the store."""

    window: int = -1
    current: int = 0  # the store's count of the window at the last sync
    previous: int = 0
    pending: int = 0  # requests admitted here since the last sync
    synced_at: float = -math.inf
    version: int | None = None


class IngestService:
    """Holds the per-container caches: token -> integration, integration -> configuration (by version), grouping
    pointers, and the rate-limit counts.

    Counting every request in DynamoDB would double the writes per alert, so a container adds its count to the
    store at most every ``sync_seconds`` (and at every window change); the configuration version comes back with
    that write, so configuration changes reach every container within ``sync_seconds``. ``0`` syncs every request.
    A token is cached for a minute, but no longer than the auth epoch it was read under: a regenerated token or a
    deleted integration stops working here within a second (:mod:`oncall.revocable`).
    """

    TOKEN_TTL = 60.0
    MISSING_TOKEN_TTL = 5.0

    def __init__(
        self,
        store: Store,
        rate_limit: RateLimit,
        sync_seconds: float,
        executor: Executor | None = None,
        clock: Clock = SYSTEM_CLOCK,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.executor = executor
        self.clock = clock
        self.timer = timer  # seconds, for cache lifetimes and sync intervals (tests turn it by hand)
        self.rate_limit = rate_limit  # per integration, counted across containers through the store
        self.sync_seconds = sync_seconds  # how often this container adds its count to the store's
        self.pointers = PointerCache()
        self._tokens: RevocableCache[str, TokenRef | None] = RevocableCache(store.auth_epoch, timer)
        self._configs: dict[str, IntegrationConfig] = {}
        self._rates: dict[str, _RateState] = {}
        self._lock = threading.Lock()

    def _integration_for(self, token: str, type_slug: str) -> str:
        ref = self._tokens.get(ids.secret_hash(token), self.store.integrations.token, self._token_ttl)
        if ref is None:
            raise UnknownToken("Integration key was not found. Permission denied.")
        if ref.type.removeprefix("legacy_") != type_slug.removeprefix("legacy_"):
            raise IngestError(f"This url is for integration with {ref.type.removeprefix('legacy_')}")
        return str(ref.integration_id)

    def _token_ttl(self, ref: TokenRef | None) -> float:
        return self.TOKEN_TTL if ref else self.MISSING_TOKEN_TTL

    def _config(self, integration_id: str, version: int | None) -> IntegrationConfig:
        config = self._configs.get(integration_id)
        if config is None or version is None or config.version != version:
            config = self.store.integrations.config(integration_id)
            if config is None:
                self._tokens.clear()
                raise UnknownToken("Integration key was not found. Permission denied.")
            self._configs[integration_id] = config
        return config

    def _count(self, integration_id: str, now: float) -> int | None:
        """Admits or refuses (RateLimited) one request; returns the configuration version last seen."""
        limit = self.rate_limit
        window = int(now // limit.seconds)
        with self._lock:
            state = self._rates.setdefault(integration_id, _RateState())
            due = state.window != window or self.timer() - state.synced_at >= self.sync_seconds
            if due:
                increment, state.pending = state.pending + 1, 0
            else:
                state.pending += 1
        if due:
            try:
                counted = self.store.integrations.count_request(integration_id, window, increment)
            except NotFound as error:
                self._tokens.clear()
                raise UnknownToken("Integration key was not found. Permission denied.") from error
            with self._lock:
                state.window, state.current, state.previous = window, counted.current, counted.previous
                state.version, state.synced_at = counted.config_version, self.timer()
        # Sliding-window estimate: the previous window weighs by how much of it still overlaps.
        elapsed = (now % limit.seconds) / limit.seconds
        if state.current + state.pending + state.previous * (1 - elapsed) > limit.count:
            retry_after = max(1, math.ceil(limit.seconds - now % limit.seconds))
            raise RateLimited(
                "Rate-limiting has been applied to your account because too many alerts were sent from your "
                f"integration (limit {limit.count} per {limit.seconds} s). Retry later.",
                retry_after=retry_after,
            )
        return state.version

    def receive(
        self, type_slug: str, token: str, body: bytes, content_type: str | None, now: datetime | None = None
    ) -> list[Stored]:
        """An HTTP body for an integration: the token is checked before the body is read (403 before 400)."""
        integration_id = self._integration_for(token, type_slug)
        return self._ingest(integration_id, parse_body(body, content_type), now or self.clock.now())

    def receive_payload(self, type_slug: str, token: str, payload: Any, now: datetime | None = None) -> list[Stored]:
        """A payload that did not come as an HTTP body (inbound e-mail, PagerDuty events): the same token check,
        rate limit and pipeline."""
        return self._ingest(self._integration_for(token, type_slug), payload, now or self.clock.now())

    def _ingest(self, integration_id: str, payload: Any, moment: datetime) -> list[Stored]:
        config = self._config(integration_id, self._count(integration_id, moment.timestamp()))
        return ingest(self.store, config, payload, now=moment, pointers=self.pointers, executor=self.executor)

    def heartbeat(self, type_slug: str, token: str, now: datetime | None = None) -> None:
        """A beat of the integration's monitor; sends the restoring alert if the heartbeat had expired."""
        from oncall import heartbeat

        moment = now or self.clock.now()
        integration_id = self._integration_for(token, type_slug)
        config = self._config(integration_id, self._count(integration_id, moment.timestamp()))
        if not heartbeat.has_heartbeat(config.integration.type):
            raise IngestError(f"Integrations of type {config.integration.type} have no heartbeat")
        if self.store.heartbeats.beat(integration_id, moment, config.heartbeat.timeout_seconds):
            heartbeat.send(self.store, self.executor, config, expired=False, now=moment)


def demo_payload(type_slug: str, payload: Any | None) -> Any:
    kind = integration_types.get(type_slug)
    if kind is None or not kind.demo_enabled:
        raise IngestError("Unable to send demo alert for this integration.")
    if payload is not None:
        return payload
    example = integration_types.example_payload(type_slug)
    if example is None:
        raise IngestError("Unable to send demo alert for this integration.")
    return example
