"""Alert group state changes and their rules, as users of Grafana OnCall's public API know them.

Pure functions: each takes a group and returns the changed copy, the timeline entries to write with it and
what happens to the group's grouping pointer. They raise :class:`ActionError` with the exact 400 message.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from oncall.errors import InvalidInput
from oncall.models import AlertGroup, TimelineEntry
from oncall.ports import PointerChange

SOURCE = "source"
WIPE = "wipe"  # who "resolved" a wiped group


class ActionError(InvalidInput):
    """An action that the group's state does not allow; ``str(error)`` is the API's ``detail``."""


@dataclass
class Transition:
    group: AlertGroup
    timeline: list[TimelineEntry] = field(default_factory=list)
    pointer: PointerChange | None = None


def _who(by: str) -> str:
    return "alert source" if by == SOURCE else by


def _entry(group: AlertGroup, now: datetime, kind: str, text: str, by: str | None) -> TimelineEntry:
    return TimelineEntry(group_id=group.id, at=now, type=kind, text=text, author=None if by == SOURCE else by)


def _unsilenced(group: AlertGroup) -> AlertGroup:
    return replace(group, silenced=False, silenced_at=None, silenced_until=None)


def is_silenced(group: AlertGroup, now: datetime) -> bool:
    return group.silenced and (group.silenced_until is None or group.silenced_until > now)


def _check_detached(group: AlertGroup, verb: str) -> None:
    """Attached groups follow their root; the maintenance group only resolves (which ends the maintenance)."""
    if group.root_alert_group_id is not None:
        raise ActionError(f"Can't {verb} an attached alert group")
    if group.is_maintenance:
        raise ActionError(f"Can't {verb} a maintenance alert group")


def acknowledge(group: AlertGroup, by: str, now: datetime) -> Transition:
    _check_detached(group, "acknowledge")
    if group.resolved:
        raise ActionError("Can't acknowledge a resolved alert group")
    if group.acknowledged:
        raise ActionError("Can't acknowledge an acknowledged alert group")
    changed = replace(_unsilenced(group), acknowledged=True, acknowledged_at=now, acknowledged_by=by)
    return Transition(changed, [_entry(group, now, "acknowledged", f"Acknowledged by {_who(by)}", by)])


def confirm(group: AlertGroup, by: str, now: datetime) -> Transition:
    """The acknowledger answers a reminder: still on it."""
    if not group.acknowledged or group.resolved:
        raise ActionError("Can't confirm an alert group that is not acknowledged")
    changed = replace(group, ack_confirmed_at=now)
    return Transition(changed, [_entry(group, now, "ack_confirmed", f"Acknowledgement confirmed by {_who(by)}", by)])


def unacknowledge(group: AlertGroup, by: str, now: datetime) -> Transition:
    _check_detached(group, "unacknowledge")
    if group.resolved:
        raise ActionError("Can't unacknowledge a resolved alert group")
    if not group.acknowledged:
        raise ActionError("Can't unacknowledge an unacknowledged alert group")
    changed = replace(group, acknowledged=False, acknowledged_at=None, acknowledged_by=None, ack_confirmed_at=None)
    return Transition(changed, [_entry(group, now, "unacknowledged", f"Unacknowledged by {_who(by)}", by)])


def resolve(group: AlertGroup, by: str, now: datetime, text: str | None = None) -> Transition:
    if group.resolved:
        raise ActionError("Can't resolve a resolved alert group")
    changed = replace(_unsilenced(group), resolved=True, resolved_at=now, resolved_by=by, is_open=False)
    # A firing alert after resolution always starts a new group: the key moves on (if this group was its open one).
    entry = _entry(group, now, "resolved", text or f"Resolved by {_who(by)}", by)
    return Transition(changed, [entry], pointer="close" if group.is_open else None)


def unresolve(group: AlertGroup, by: str, now: datetime) -> Transition:
    _check_detached(group, "unresolve")
    if not group.resolved:
        raise ActionError("Can't unresolve an unresolved alert group")
    changed = replace(group, resolved=False, resolved_at=None, resolved_by=None, is_open=True)
    # Reopened for grouping only while no newer group of the same key exists (the store checks that).
    return Transition(changed, [_entry(group, now, "unresolved", f"Unresolved by {_who(by)}", by)], "reopen")


def parse_silence_delay(raw: object) -> int:
    if raw is None:
        raise ActionError("delay is required")
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise ActionError("invalid delay value")
    try:
        delay = int(raw)
    except ValueError as error:
        raise ActionError("invalid delay value") from error
    if delay < -1:
        raise ActionError("invalid delay value")
    return delay


def silence(group: AlertGroup, by: str, now: datetime, delay: int) -> Transition:
    """``delay`` seconds, or -1/0 for forever."""
    _check_detached(group, "silence")
    if group.resolved:
        raise ActionError("Can't silence a resolved alert group")
    if group.acknowledged:
        raise ActionError("Can't silence an acknowledged alert group")
    until = now + timedelta(seconds=delay) if delay > 0 else None
    changed = replace(group, silenced=True, silenced_at=now, silenced_until=until)
    span = f"for {_duration(delay)}" if delay > 0 else "forever"
    return Transition(changed, [_entry(group, now, "silenced", f"Silenced by {_who(by)} {span}", by)])


def unsilence(group: AlertGroup, by: str, now: datetime) -> Transition:
    _check_detached(group, "unsilence")
    if group.resolved:
        raise ActionError("Can't unsilence a resolved alert group")
    if group.acknowledged:
        raise ActionError("Can't unsilence an acknowledged alert group")
    if not is_silenced(group, now):
        raise ActionError("Can't unsilence an unsilenced alert group")
    return Transition(_unsilenced(group), [_entry(group, now, "unsilenced", f"Unsilenced by {_who(by)}", by)])


def wipe(group: AlertGroup, by: str, now: datetime) -> Transition:
    changed = replace(_unsilenced(group), title=None, source_link=None, is_open=False)
    if not group.resolved:
        changed = replace(changed, resolved=True, resolved_at=now, resolved_by=WIPE)
    closes: PointerChange | None = "close" if group.is_open else None
    return Transition(changed, [_entry(group, now, "wiped", f"Wiped by {_who(by)}", by)], pointer=closes)


def _duration(seconds: int) -> str:
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return f"{hours} hour{'s' if hours != 1 else ''}"
    if seconds % 60 == 0:
        minutes = seconds // 60
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{seconds} seconds"


ACTIONS = {
    "acknowledge": acknowledge,
    "unacknowledge": unacknowledge,
    "resolve": resolve,
    "unresolve": unresolve,
    "unsilence": unsilence,
    "confirm": confirm,
}
