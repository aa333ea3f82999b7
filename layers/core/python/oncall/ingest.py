"""The ingest use case: an HTTP body for an integration becomes stored alerts in alert groups.

``IngestService.receive`` is what the ingest Lambda calls: it checks the token, the body and the rate limit,
then ``ingest_request`` routes, groups and stores each alert. Nothing is reported as received before it is stored,
and nothing here starts an escalation: the table's stream does, from the stored group (``oncall.escalation_start``).

A sender retries what got no 200, so a body is received at least once and stored once: a body identical to one
received from the same integration within ``DEDUP_WINDOW_SECONDS`` is a retry. A single alert carries the body's
receipt into its group's write (a retry finds it there and rewrites the same alert); a body with several alerts
(``alerts[]`` of the per-alert integrations) keeps its progress in a record that each alert's transaction advances,
so a retry continues after the last alert stored. Every alert counts against the rate limit, a body carries at most
``MAX_ALERTS_PER_REQUEST``, and a body that cannot be stored within the function's time is answered 503 with what
was done kept, for the retry to finish.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from oncall import faults, grouping, ids, integration_types, routing, templating
from oncall.clock import SYSTEM_CLOCK, Clock
from oncall.errors import NotFound
from oncall.ports import RECEIPT_SLOTS, GroupKey, Progress, Receipt, Store, StoreError
from oncall.settings import RateLimit

if TYPE_CHECKING:
    from oncall.actions import Transition
    from oncall.models import Alert, AlertGroup, IntegrationConfig

logger = logging.getLogger(__name__)
MAX_BODY_BYTES = 256 * 1024
# An alert item holds the payload and its rendered texts within DynamoDB's 400 KB item limit (409,600 bytes; the
# rest is for the item's keys and flags).
MAX_STORED_PAYLOAD_BYTES = 350_000
ALERT_ITEM_BYTES = 400_000
MESSAGE_MAX_LENGTH = templating.RESULT_MAX_LENGTH  # OnCall's 50,000 characters (cut further if the item is full)
MAX_NESTING = 240  # levels of JSON nesting: real alerts are shallow; API responses (pydantic) serialize up to ~250
IMAGE_URL_MAX_LENGTH = 299
MAX_GROUPING_ATTEMPTS = 8  # a lost race is retried; this many in a row means something is badly wrong
# Alerts stored from one body of a per-alert integration (``alerts[]``); the rest are dropped and the answer says so.
# Grafana OnCall counts each of them against its per-integration limit of 300 per 5 minutes, so with its defaults no
# body stores more than 300 there either; Alertmanager's ``max_alerts`` (webhook_config) truncates at the sender.
MAX_ALERTS_PER_REQUEST = 300
# A body identical to one received within this many seconds (at least; at most twice as long) is a retry of it.
DEDUP_WINDOW_SECONDS = 180
# Stop starting new alerts this long before the function's time is up (the answer must get out).
DEADLINE_MARGIN_SECONDS = 2.0


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


class Unfinished(IngestError):
    """Part of a body's alerts (``stored`` of them) was stored before the function's time ran out: the sender
    retries for the rest."""

    status = 503

    def __init__(self, message: str, *, stored: int, retry_after: int | None = None) -> None:
        super().__init__(message, retry_after=retry_after)
        self.stored = stored


@dataclass(frozen=True)
class Stored:
    group_id: str
    alert_id: str
    created_group: bool
    resolved_group: bool
    duplicate: bool = False  # stored by an earlier copy of the same body (a retry): nothing new


@dataclass
class Outcome:
    """What became of a request body: the alerts stored (or found stored by an earlier copy), how many alerts the
    body had and how many of them were dropped beyond ``MAX_ALERTS_PER_REQUEST``."""

    stored: list[Stored] = field(default_factory=list)
    alerts: int = 1
    dropped: int = 0

    @property
    def detail(self) -> str:
        if not self.dropped:
            return "Ok."
        return (
            f"Ok. Stored the first {self.alerts - self.dropped} of {self.alerts} alerts: at most "
            f"{MAX_ALERTS_PER_REQUEST} alerts per request (Alertmanager: max_alerts in webhook_config); "
            f"the other {self.dropped} were dropped."
        )


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


def fingerprint(integration_id: str, body: bytes) -> str:
    """What identifies a body from an integration, whatever its size."""
    return hashlib.sha256(integration_id.encode() + b"\0" + body).hexdigest()[:32]


def payload_fingerprint(integration_id: str, payload: Any) -> str:
    """:func:`fingerprint` of a payload that came in another form than an HTTP body (e-mail, PagerDuty events)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return fingerprint(integration_id, text.encode("ascii"))


def receipt_of(body_fingerprint: str, now: datetime) -> Receipt:
    """The body's receipt at ``now``: its fingerprints in this window and the previous one, and its slot."""
    window = int(now.timestamp()) // DEDUP_WINDOW_SECONDS

    def marked(number: int) -> str:
        return hashlib.sha256(f"{body_fingerprint}/{number}".encode()).hexdigest()[:16]

    return Receipt(int(body_fingerprint[:8], 16) % RECEIPT_SLOTS, marked(window), marked(window - 1))


def alert_elements(type_slug: str, payload: Any) -> list[Any]:
    """The alerts a body holds: each element of ``alerts[]`` for per-alert integrations, else the body itself."""
    kind = integration_types.get(type_slug)
    if kind is not None and kind.mode == "per_alert":
        elements = payload.get("alerts") if isinstance(payload, dict) else None
        if isinstance(elements, list) and elements:
            return elements
    return [payload]


# --- the use case ---------------------------------------------------------------------------------------------


def render_appearance(
    config: IntegrationConfig, payload: Any, labels: dict[str, str] | None = None
) -> dict[str, str | None]:
    """The alert's title, message, image and source link, rendered as OnCall does: with ``payload``, the alert's
    ``labels`` (computed from the integration when not given), ``integration_name`` and ``source_link``; a title is
    cut at 500 characters, the others at 50,000 (and ``..`` appended), and texts that would not fit the alert's
    item next to its payload are cut to fit."""
    integration = config.integration
    if labels is None:
        labels = grouping.alert_labels(integration, payload)
    context: dict[str, Any] = {"payload": payload, "labels": labels, "integration_name": integration.name}
    source_link = grouping.render_optional(integration.template("source_link"), **context)
    context["source_link"] = source_link
    rendered: dict[str, str | None] = {"source_link": source_link}
    for name, limit in (("title", templating.TITLE_MAX_LENGTH), ("message", MESSAGE_MAX_LENGTH)):
        template = integration.template(name)  # type: ignore[arg-type]
        value = templating.render_or_fallback(template, max_length=limit, **context) if template else None
        rendered[name] = None if value in (None, "None") or not value.strip() else value
    image = grouping.render_optional(integration.template("image_url"), **context)
    rendered["image_url"] = image[:IMAGE_URL_MAX_LENGTH] if image and image.strip() else None
    return _fitted(rendered, payload)


def _utf8(text: str | None) -> int:
    return len(text.encode("utf-8", "surrogatepass")) if text else 0


def _fitted(rendered: dict[str, str | None], payload: Any) -> dict[str, str | None]:
    """``rendered`` with the message, then the source link, cut (``..`` appended) where the texts would not fit
    the alert's item next to the payload. Most alerts are far from it: the payload is measured only when needed."""
    texts = sum(_utf8(value) for value in rendered.values())
    if texts <= ALERT_ITEM_BYTES - MAX_STORED_PAYLOAD_BYTES:
        return rendered
    room = ALERT_ITEM_BYTES - len(
        json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")
    )
    fitted = dict(rendered)
    for name in ("message", "source_link"):
        over = sum(_utf8(value) for value in fitted.values()) - room
        value = fitted[name]
        if over > 0 and value:
            keep = max(0, _utf8(value) - over - 2)
            fitted[name] = value.encode("utf-8", "surrogatepass")[:keep].decode("utf-8", "ignore") + ".."
    return fitted


def with_alert_counts(payload: Any) -> Any:
    """Alertmanager-style notifications without ``numFiring`` (Alertmanager itself sends none) get
    ``numFiring``/``numResolved`` counted from ``alerts[].status``, as Grafana OnCall adds them for templates."""
    if not isinstance(payload, dict) or "numFiring" in payload or not isinstance(payload.get("alerts"), list):
        return payload
    statuses = [a.get("status") for a in payload["alerts"] if isinstance(a, dict)]
    return {**payload, "numFiring": statuses.count("firing"), "numResolved": statuses.count("resolved")}


class SequenceCache:
    """The sequence number of each grouping key's open group that this container saw lately (bounded,
    thread-safe). A hint only: appends through it are conditioned on the group still being open, and a miss
    starts from the key's first group. It saves a read on the hot path."""

    def __init__(self, size: int = 10_000) -> None:
        self._numbers: OrderedDict[GroupKey, int] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: GroupKey) -> int | None:
        with self._lock:
            return self._numbers.get(key)

    def put(self, key: GroupKey, number: int) -> None:
        with self._lock:
            self._numbers[key] = number
            self._numbers.move_to_end(key)
            if len(self._numbers) > self._size:
                self._numbers.popitem(last=False)

    def drop(self, key: GroupKey) -> None:
        with self._lock:
            self._numbers.pop(key, None)


@dataclass(frozen=True)
class Request:
    """A sender's body being ingested: ``fingerprint`` recognises its retries, ``deadline`` (``time.monotonic``)
    is when to stop starting new alerts, ``allowed`` how many alerts the rate limit admitted."""

    fingerprint: str
    deadline: float | None = None
    allowed: int = MAX_ALERTS_PER_REQUEST


def ingest(
    store: Store,
    config: IntegrationConfig,
    payload: Any,
    *,
    now: datetime,
    is_demo: bool = False,
    cache: SequenceCache | None = None,
) -> list[Stored]:
    """Store the alerts of a payload that is no sender's request (heartbeats, pages, demo alerts): no retry to
    recognise, no rate limit."""
    return ingest_request(store, config, payload, now=now, is_demo=is_demo, cache=cache).stored


def ingest_request(
    store: Store,
    config: IntegrationConfig,
    payload: Any,
    *,
    now: datetime,
    is_demo: bool = False,
    cache: SequenceCache | None = None,
    request: Request | None = None,
) -> Outcome:
    """Store the alerts of one body. Per-alert integrations store each element of ``alerts[]`` (up to
    ``MAX_ALERTS_PER_REQUEST``, and as many as ``request.allowed``)."""
    kind = integration_types.get(config.integration.type)
    check_storable(payload)
    if kind is not None and kind.counts_alerts:
        payload = with_alert_counts(payload)
    elements = alert_elements(config.integration.type, payload)
    per_alert = kind is not None and kind.mode == "per_alert"
    outcome = Outcome(alerts=len(elements), dropped=max(0, len(elements) - MAX_ALERTS_PER_REQUEST))
    elements = elements[:MAX_ALERTS_PER_REQUEST]
    if not per_alert:
        receipt = receipt_of(request.fingerprint, now) if request else None
        placed = _place(store, config, payload, now, is_demo=is_demo, cache=cache, receipt=receipt)
        outcome.stored = [placed] if placed is not None else []
        return outcome
    if request is None:  # a payload of our own (heartbeat, demo): no retries to recognise
        outcome.stored = [
            s
            for element in elements
            if (s := _place(store, config, element, now, is_demo=is_demo, per_alert=True)) is not None
        ]
        return outcome
    return _ingest_elements(store, config, elements, now, is_demo, request, outcome)


def _ingest_elements(
    store: Store,
    config: IntegrationConfig,
    elements: list[Any],
    now: datetime,
    is_demo: bool,
    request: Request,
    outcome: Outcome,
) -> Outcome:
    """The alerts of a body of several, in order, each stored in one transaction with the body's progress: a
    retry (or a concurrent copy) of the body continues after the last alert stored and stores none twice."""
    integration_id = config.integration.id
    moment = int(now.timestamp())

    def where() -> tuple[int, int, bool]:
        """The next alert to store, when the body's record expires, and whether there is a record yet."""
        record = store.groups.progress(integration_id, request.fingerprint, now)
        return (record[0], record[1], False) if record else (0, moment + DEDUP_WINDOW_SECONDS, True)

    done, expires_at, fresh = where()
    budget = request.allowed
    while done < len(elements):
        if budget <= 0:
            raise RateLimited(_rate_message(config, done, len(elements)), retry_after=60)
        if request.deadline is not None and time.monotonic() > request.deadline:
            raise Unfinished(
                f"Stored {done} of {len(elements)} alerts before the time limit; retry to store the rest "
                "(a retry of the same body skips the alerts already stored).",
                stored=len(outcome.stored),
                retry_after=1,
            )
        progress = Progress(integration_id, request.fingerprint, done, fresh, expires_at, moment)
        try:
            placed = _place(store, config, elements[done], now, is_demo=is_demo, per_alert=True, progress=progress)
            if placed is None and not store.groups.advance(progress):  # nothing to store: count it done
                raise _Overtaken
        except _Overtaken:  # another copy of the body got further: go on from where it is
            done, expires_at, fresh = where()
            continue
        if placed is not None:
            outcome.stored.append(placed)
            budget -= 1
        done, fresh = done + 1, False
    return outcome


class _Overtaken(Exception):
    """Another copy of the body stored this alert (or moved its count) first."""


def _rate_message(config: IntegrationConfig, done: int, total: int) -> str:
    return (
        "Rate-limiting has been applied to your account because too many alerts were sent from your "
        f"integration {config.integration.name}: stored {done} of the {total} alerts of this request. Retry later."
    )


def _place(
    store: Store,
    config: IntegrationConfig,
    payload: Any,
    now: datetime,
    *,
    is_demo: bool = False,
    per_alert: bool = False,
    cache: SequenceCache | None = None,
    receipt: Receipt | None = None,
    progress: Progress | None = None,
) -> Stored | None:
    """Place one alert in its group. A plain alert takes one conditional write of its group (create, or append to
    the group the container last saw for its key) and one of the alert; signals and per-alert label states read
    the group and write the change in one transaction."""
    from oncall.models import Alert, AlertGroup

    integration = config.integration
    labels = grouping.alert_labels(integration, payload)
    route = routing.select_route(config.routes, payload, labels)
    signals = grouping.signals(integration, payload, labels, is_demo=is_demo)
    resolves = signals.is_resolve and integration.allow_source_based_resolving
    appearance = render_appearance(config, payload, labels)
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

    def new_group(sequence: int) -> AlertGroup:
        group_id = ids.group_id(key.integration_id, key.route_id, key.distinction, sequence)
        return AlertGroup(
            id=group_id,
            integration_id=integration.id,
            route_id=route.id,
            route_description="the default route" if route.is_default else f"route #{route.position + 1}",
            team_id=integration.team_id,
            distinction=signals.distinction,
            sequence=sequence,
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

    if not (resolves or signals.is_acknowledge or per_alert):
        return _place_plain(store, key, new_group, make_alert, receipt, cache)
    kind = integration_types.get(integration.type)
    state = _Signals(
        resolves,
        signals.is_acknowledge,
        grouping.label_set_hash(payload) if per_alert else None,
        join_only=kind is not None and kind.signals_join_only and (signals.is_resolve or signals.is_acknowledge),
    )
    return _place_with_state(store, key, now, new_group, make_alert, state, receipt, progress, cache)


def _duplicate(store: Store, alert: Alert, alert_id: str, group: str) -> Stored:
    """A retry of a body whose alert was stored as ``alert_id``: write that alert again (the first copy may have
    died between its group's write and its own), count nothing."""
    store.groups.put_alert(replace(alert, id=alert_id, group_id=group, created_at=ids.sortable_id_time(alert_id)))
    return Stored(group, alert_id, created_group=False, resolved_group=False, duplicate=True)


def _of_key(group: AlertGroup, key: GroupKey) -> bool:
    return (group.integration_id, group.route_id, group.distinction) == (
        key.integration_id,
        key.route_id,
        key.distinction,
    )


def _place_plain(
    store: Store,
    key: GroupKey,
    new_group: Callable[[int], AlertGroup],
    make_alert: Callable[[str], Alert],
    receipt: Receipt | None,
    cache: SequenceCache | None,
) -> Stored:
    cached = cache.get(key) if cache is not None else None
    sequence, known_open = (cached, True) if cached is not None else (0, False)
    for _ in range(MAX_GROUPING_ATTEMPTS):
        group_id = ids.group_id(key.integration_id, key.route_id, key.distinction, sequence)
        alert = make_alert(group_id)
        if known_open:
            placed = store.groups.append(key, group_id, alert, receipt)
        else:
            placed = store.groups.create(new_group(sequence), alert, receipt=receipt)
        if placed.stored or placed.duplicate_of:
            if cache is not None:
                cache.put(key, sequence)
            faults.point(faults.AFTER_STORE)
            if placed.duplicate_of:
                return _duplicate(store, alert, placed.duplicate_of, group_id)
            return Stored(group_id, alert.id, created_group=not known_open, resolved_group=False)
        found = placed.found
        if found is not None and found.is_open and _of_key(found, key):
            known_open = True  # another writer created it first: join it
            continue
        if cache is not None:
            cache.drop(key)
        if found is not None and not _of_key(found, key):
            raise StoreError(f"group id {group_id} of key {key} is taken by another key's group")
        # The group there was closed (or deleted): where is the key now? (Past a closed group, whatever it says.)
        past = found.sequence + 1 if found is not None else 0
        sequence, known_open = max(store.groups.sequence(key), past), False
    raise StoreError(f"could not place the alert after {MAX_GROUPING_ATTEMPTS} attempts (contention)")


@dataclass(frozen=True)
class _Signals:
    resolves: bool
    acknowledges: bool
    label_hash: str | None  # per-alert mode: the alert's label set
    join_only: bool  # a signal that only acts on an open group (else it is ignored)


def _place_with_state(
    store: Store,
    key: GroupKey,
    now: datetime,
    new_group: Callable[[int], AlertGroup],
    make_alert: Callable[[str], Alert],
    state: _Signals,
    receipt: Receipt | None,
    progress: Progress | None,
    cache: SequenceCache | None,
) -> Stored | None:
    """Read the key's current group, apply the alert's signals, write in one transaction; a lost race reads
    again. None: the alert stores nothing (an ignored signal), or another copy of the body stored it first."""
    floor = 0  # a closed group found at the key's number: the key is past it
    for _ in range(MAX_GROUPING_ATTEMPTS):
        sequence = max(store.groups.sequence(key), floor)
        group_id = ids.group_id(key.integration_id, key.route_id, key.distinction, sequence)
        alert = make_alert(group_id)
        group = store.groups.get(group_id)
        if group is not None and not _of_key(group, key):
            raise StoreError(f"group id {group_id} of key {key} is taken by another key's group")
        if group is not None and not group.is_open:
            floor = sequence + 1
            continue
        if group is not None:
            transition = _apply_signals(group, now, state)
            if store.groups.save(
                transition.group,
                group.version,
                alert=alert,
                timeline=transition.timeline,
                pointer=transition.pointer,
                receipt=receipt,
                progress=progress,
            ):
                if cache is not None:
                    cache.drop(key)  # the group may have closed: the next plain alert reads the key again
                faults.point(faults.AFTER_STORE)
                resolved = transition.group.resolved and not group.resolved
                return Stored(group.id, alert.id, created_group=False, resolved_group=resolved)
        elif state.join_only:
            logger.info("%s for a key with no open group of %s: ignored", "resolve" if state.resolves else
                        "acknowledge", key.integration_id)  # fmt: skip
            return None
        elif state.resolves and state.label_hash is None and (latest := _previous(store, key, sequence)) is not None:
            # A resolve signal after the group was resolved joins that group instead of opening a new one.
            group, alert = latest, make_alert(latest.id)
            if store.groups.save(latest, latest.version, alert=alert, receipt=receipt, progress=progress):
                faults.point(faults.AFTER_STORE)
                return Stored(latest.id, alert.id, created_group=False, resolved_group=False)
        else:
            group = new_group(sequence)
            if (created := _create(store, group, alert, now, state, receipt, progress)) is not None:
                return created
        if (stored := _after_lost_race(store, group, alert, receipt, progress, now)) is not None:
            return stored
    raise StoreError(f"could not place the alert after {MAX_GROUPING_ATTEMPTS} attempts (contention)")


def _create(
    store: Store,
    group: AlertGroup,
    alert: Alert,
    now: datetime,
    state: _Signals,
    receipt: Receipt | None,
    progress: Progress | None,
) -> Stored | None:
    """Open ``group`` with ``alert`` (its signals applied); None: the write lost a race."""
    transition = _apply_signals(group, now, state)
    placed = store.groups.create(
        transition.group,
        alert,
        timeline=transition.timeline,
        pointer=transition.pointer,
        receipt=receipt,
        progress=progress,
    )
    if placed.stored:
        faults.point(faults.AFTER_STORE)
        return Stored(group.id, alert.id, created_group=True, resolved_group=transition.group.resolved)
    if placed.duplicate_of:
        return _duplicate(store, alert, placed.duplicate_of, group.id)
    return None


def _previous(store: Store, key: GroupKey, sequence: int) -> AlertGroup | None:
    """The key's group before the ``sequence``-th (None for the first)."""
    if sequence == 0:
        return None
    return store.groups.get(ids.group_id(key.integration_id, key.route_id, key.distinction, sequence - 1))


def _after_lost_race(
    store: Store,
    group: AlertGroup | None,
    alert: Alert,
    receipt: Receipt | None,
    progress: Progress | None,
    now: datetime,
) -> Stored | None:
    """A write lost a race: a retry of this body may have stored the alert meanwhile (then that is the answer);
    another copy of the body moving ahead of this one ends this one (:class:`_Overtaken`). None: try again."""
    if receipt is not None and group is not None and (seen := store.groups.received(group.id, receipt)):
        return _duplicate(store, alert, seen, group.id)
    if progress is not None:
        record = store.groups.progress(progress.integration_id, progress.fingerprint, now)
        if record != (None if progress.fresh else (progress.done, progress.expires_at)):
            raise _Overtaken
    return None


def _apply_signals(group: AlertGroup, now: datetime, state: _Signals) -> Transition:
    from oncall import actions

    transition = actions.Transition(group)
    resolves = state.resolves
    if state.label_hash is not None:
        # Per-alert mode: the group resolves once the latest alert of every label set is resolved.
        states = {**group.label_states, state.label_hash: "resolved" if resolves else "firing"}
        transition.group = replace(group, label_states=states)
        resolves = all(value == "resolved" for value in states.values())
    attached = transition.group.root_alert_group_id is not None
    if state.acknowledges and not attached and not transition.group.acknowledged and not transition.group.resolved:
        acked = actions.acknowledge(transition.group, actions.SOURCE, now)
        transition = actions.Transition(acked.group, transition.timeline + acked.timeline)
    if resolves and not transition.group.resolved:
        resolved = actions.resolve(transition.group, actions.SOURCE, now)
        transition = actions.Transition(resolved.group, transition.timeline + resolved.timeline, resolved.pointer)
    return transition


# --- the service the ingest Lambda holds ----------------------------------------------------------------------


@dataclass
class _RateState:
    """What this container knows of an integration's count of alerts, and what it has not yet told the store."""

    window: int = -1
    current: int = 0  # the store's count of the window at the last sync
    previous: int = 0
    pending: int = 0  # alerts admitted here since the last sync
    synced_at: float = -math.inf
    version: int | None = None


@dataclass(frozen=True)
class _Token:
    integration_id: str | None  # None: no such token
    type: str
    expires: float  # timer seconds
    version: int | None  # the configuration version it was checked against (None: not yet)


class IngestService:
    """Holds the per-container caches: token -> integration, integration -> configuration (by version), grouping
    sequence numbers, and the rate-limit counts.

    Counting every alert in DynamoDB would add a write per alert, so a container adds its count to the store at most
    every ``sync_seconds`` (and at every window change); the configuration version comes back with that write, so
    configuration changes reach every container within ``sync_seconds``: a regenerated token bumps the version, so
    the old token stops working within that time too (a token checked against an older version is checked again).
    ``0`` syncs every request.
    """

    TOKEN_TTL = 60.0
    MISSING_TOKEN_TTL = 5.0

    def __init__(
        self,
        store: Store,
        rate_limit: RateLimit,
        sync_seconds: float,
        clock: Clock = SYSTEM_CLOCK,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.clock = clock
        self.timer = timer  # seconds, for cache lifetimes and sync intervals (tests turn it by hand)
        self.rate_limit = rate_limit  # alerts per integration, counted across containers through the store
        self.sync_seconds = sync_seconds  # how often this container adds its count to the store's
        self.sequences = SequenceCache()
        self._tokens: dict[str, _Token] = {}
        self._configs: dict[str, IntegrationConfig] = {}
        self._rates: dict[str, _RateState] = {}
        self._lock = threading.Lock()

    def _token(self, token: str, type_slug: str) -> tuple[str, _Token, bool]:
        """The token's integration (from the cache, or read now: ``fresh``), or UnknownToken / a wrong type."""
        token_hash = ids.secret_hash(token)
        cached = self._tokens.get(token_hash)
        fresh = cached is None or cached.expires < self.timer()
        if fresh:
            cached = self._check_token(token_hash)
        assert cached is not None
        if cached.integration_id is None:
            raise UnknownToken("Integration key was not found. Permission denied.")
        if cached.type.removeprefix("legacy_") != type_slug.removeprefix("legacy_"):
            raise IngestError(f"This url is for integration with {cached.type.removeprefix('legacy_')}")
        return token_hash, cached, fresh

    def _recheck(self, token_hash: str, checked: _Token, fresh: bool, version: int | None) -> None:
        """A token checked against an older configuration version than the latest seen is checked again: a new
        token (or a deleted integration) bumps the version, so the old token is refused within a sync."""
        if version is None or checked.version == version:
            return
        if fresh:  # read just now: it is as new as any version
            self._tokens[token_hash] = _Token(checked.integration_id, checked.type, checked.expires, version)
            return
        if self._check_token(token_hash, version).integration_id != checked.integration_id:
            raise UnknownToken("Integration key was not found. Permission denied.")

    def _check_token(self, token_hash: str, version: int | None = None) -> _Token:
        ref = self.store.integrations.token(token_hash)
        ttl = self.TOKEN_TTL if ref else self.MISSING_TOKEN_TTL
        checked = _Token(ref.integration_id if ref else None, ref.type if ref else "", self.timer() + ttl, version)
        self._tokens[token_hash] = checked
        return checked

    def _config(self, integration_id: str, version: int | None) -> IntegrationConfig:
        config = self._configs.get(integration_id)
        if config is None or version is None or config.version != version:
            config = self.store.integrations.config(integration_id)
            if config is None:
                self._tokens.clear()
                raise UnknownToken("Integration key was not found. Permission denied.")
            self._configs[integration_id] = config
        return config

    def _admit(self, integration_id: str, now: float, wanted: int) -> tuple[int, int | None]:
        """How many of ``wanted`` alerts the rate limit admits (RateLimited if none), and the configuration version
        last seen. A refused request counts as one."""
        limit = self.rate_limit
        window = int(now // limit.seconds)
        with self._lock:
            state = self._rates.setdefault(integration_id, _RateState())
            due = state.window != window or self.timer() - state.synced_at >= self.sync_seconds
            if due:  # the store learns of this request's alerts at once (corrected below if fewer are admitted)
                increment, state.pending = state.pending + wanted, 0
        if due:
            try:
                counted = self.store.integrations.count_request(integration_id, window, increment)
            except NotFound as error:
                self._tokens.clear()
                raise UnknownToken("Integration key was not found. Permission denied.") from error
        # Sliding-window estimate: the previous window weighs by how much of it still overlaps.
        overlap = 1 - (now % limit.seconds) / limit.seconds
        with self._lock:
            if due:
                state.window, state.current, state.previous = window, counted.current, counted.previous
                state.version, state.synced_at = counted.config_version, self.timer()
                before = state.current - wanted + state.previous * overlap
            else:
                before = state.current + state.pending + state.previous * overlap
            admitted = max(0, min(wanted, math.floor(limit.count - before)))
            state.pending += max(admitted, 1) - (wanted if due else 0)
            version = state.version
        if not admitted:
            retry_after = max(1, math.ceil(limit.seconds - now % limit.seconds))
            raise RateLimited(
                "Rate-limiting has been applied to your account because too many alerts were sent from your "
                f"integration (limit {limit.count} per {limit.seconds} s). Retry later.",
                retry_after=retry_after,
            )
        return admitted, version

    def receive(
        self,
        type_slug: str,
        token: str,
        body: bytes,
        content_type: str | None,
        now: datetime | None = None,
        deadline: float | None = None,
    ) -> Outcome:
        """An HTTP body for an integration: the token is checked before the body is read (403 before 400)."""
        token_hash, checked, fresh = self._token(token, type_slug)
        payload = parse_body(body, content_type)
        assert checked.integration_id is not None
        body_print = fingerprint(checked.integration_id, body)
        return self._ingest(token_hash, checked, fresh, payload, body_print, now or self.clock.now(), deadline)

    def receive_payload(
        self, type_slug: str, token: str, payload: Any, now: datetime | None = None, deadline: float | None = None
    ) -> Outcome:
        """A payload that did not come as an HTTP body (inbound e-mail, PagerDuty events): the same token check,
        rate limit and pipeline."""
        token_hash, checked, fresh = self._token(token, type_slug)
        assert checked.integration_id is not None
        body_print = payload_fingerprint(checked.integration_id, payload)
        return self._ingest(token_hash, checked, fresh, payload, body_print, now or self.clock.now(), deadline)

    def _ingest(
        self,
        token_hash: str,
        checked: _Token,
        fresh: bool,
        payload: Any,
        body_print: str,
        moment: datetime,
        deadline: float | None,
    ) -> Outcome:
        integration_id = checked.integration_id
        assert integration_id is not None
        wanted = min(len(alert_elements(checked.type, payload)), MAX_ALERTS_PER_REQUEST)
        if wanted > 1:  # a retry is counted for what it has left to store
            record = self.store.groups.progress(integration_id, body_print, moment)
            wanted = max(1, wanted - (record[0] if record else 0))
        allowed, version = self._admit(integration_id, moment.timestamp(), wanted)
        self._recheck(token_hash, checked, fresh, version)
        config = self._config(integration_id, version)
        request = Request(body_print, deadline, allowed)
        try:
            return ingest_request(self.store, config, payload, now=moment, cache=self.sequences, request=request)
        except Unfinished as error:
            # Only what was stored counts: the retry is counted for the rest (a sender is not limited twice).
            self._refund(integration_id, allowed - error.stored)
            raise

    def _refund(self, integration_id: str, alerts: int) -> None:
        """Take back ``alerts`` admitted but not stored (the store learns of it at the next sync)."""
        with self._lock:
            self._rates[integration_id].pending -= alerts

    def heartbeat(self, type_slug: str, token: str, now: datetime | None = None) -> None:
        """A beat of the integration's monitor; sends the restoring alert if the heartbeat had expired."""
        from oncall import heartbeat

        moment = now or self.clock.now()
        token_hash, checked, fresh = self._token(token, type_slug)
        integration_id = checked.integration_id
        assert integration_id is not None
        _, version = self._admit(integration_id, moment.timestamp(), 1)
        self._recheck(token_hash, checked, fresh, version)
        config = self._config(integration_id, version)
        if not heartbeat.has_heartbeat(config.integration.type):
            raise IngestError(f"Integrations of type {config.integration.type} have no heartbeat")
        if self.store.heartbeats.beat(integration_id, moment, config.heartbeat.timeout_seconds):
            heartbeat.send(self.store, config, expired=False, now=moment)


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
