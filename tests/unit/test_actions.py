"""Alert group state rules (OnCall's public API preconditions and messages)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from oncall import actions
from oncall.models import AlertGroup, GroupState

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def group(**state: object) -> AlertGroup:
    return AlertGroup(id="I1", integration_id="C1", route_id="R1", distinction="d", created_at=NOW, **state)


FIRING = group()
ACKED = group(acknowledged=True)
RESOLVED = group(resolved=True, is_open=False)
SILENCED = group(silenced=True)


@pytest.mark.parametrize(
    ("action", "start", "message"),
    [
        ("acknowledge", ACKED, "Can't acknowledge an acknowledged alert group"),
        ("acknowledge", RESOLVED, "Can't acknowledge a resolved alert group"),
        ("unacknowledge", FIRING, "Can't unacknowledge an unacknowledged alert group"),
        ("unacknowledge", RESOLVED, "Can't unacknowledge a resolved alert group"),
        ("resolve", RESOLVED, "Can't resolve a resolved alert group"),
        ("unresolve", FIRING, "Can't unresolve an unresolved alert group"),
        ("unsilence", FIRING, "Can't unsilence an unsilenced alert group"),
        ("unsilence", RESOLVED, "Can't unsilence a resolved alert group"),
        ("unsilence", ACKED, "Can't unsilence an acknowledged alert group"),
    ],
)
def test_refused_actions_have_oncall_messages(action: str, start: AlertGroup, message: str) -> None:
    with pytest.raises(actions.ActionError, match=message):
        actions.ACTIONS[action](start, "U1", NOW)


def test_state_precedence() -> None:
    assert group(resolved=True, acknowledged=True, silenced=True).state_at(NOW) is GroupState.RESOLVED
    assert group(acknowledged=True, silenced=True).state_at(NOW) is GroupState.ACKNOWLEDGED
    assert SILENCED.state_at(NOW) is GroupState.SILENCED
    assert FIRING.state_at(NOW) is GroupState.FIRING


def test_a_timed_silence_shows_firing_once_it_ran_out_while_the_index_keeps_silenced_until_lifted() -> None:
    timed = group(silenced=True, silenced_at=NOW, silenced_until=NOW + timedelta(minutes=30))
    assert timed.state_at(NOW + timedelta(minutes=29)) is GroupState.SILENCED
    assert timed.state_at(NOW + timedelta(minutes=30)) is GroupState.FIRING
    assert timed.recorded_state is GroupState.SILENCED


def test_acknowledge_unsilences_first() -> None:
    result = actions.acknowledge(SILENCED, "U1", NOW)
    assert result.group.state_at(NOW) is GroupState.ACKNOWLEDGED and not result.group.silenced
    assert result.timeline[0].text == "Acknowledged by U1"


def test_resolve_closes_grouping_and_unresolve_reopens_it() -> None:
    resolved = actions.resolve(FIRING, actions.SOURCE, NOW)
    assert resolved.pointer == "close" and not resolved.group.is_open
    assert resolved.timeline[0].text == "Resolved by alert source" and resolved.timeline[0].author is None
    reopened = actions.unresolve(resolved.group, "U1", NOW)
    assert reopened.pointer == "reopen" and reopened.group.is_open and reopened.group.state_at(NOW) is GroupState.FIRING


@pytest.mark.parametrize(("raw", "expected"), [(3600, 3600), ("60", 60), (-1, -1), (0, 0)])
def test_silence_delay_parsing(raw: object, expected: int) -> None:
    assert actions.parse_silence_delay(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (None, "delay is required"),
        (-2, "invalid delay value"),
        ("soon", "invalid delay value"),
        (True, "invalid delay value"),
    ],
)
def test_bad_silence_delays(raw: object, message: str) -> None:
    with pytest.raises(actions.ActionError, match=message):
        actions.parse_silence_delay(raw)


def test_timed_silence_ends_by_itself_and_forever_does_not() -> None:
    timed = actions.silence(FIRING, "U1", NOW, 1800).group
    assert timed.silenced_until == NOW + timedelta(seconds=1800)
    assert actions.is_silenced(timed, NOW + timedelta(seconds=1799))
    assert not actions.is_silenced(timed, NOW + timedelta(seconds=1801))
    forever = actions.silence(FIRING, "U1", NOW, -1)
    assert forever.group.silenced_until is None and forever.timeline[0].text == "Silenced by U1 forever"
    with pytest.raises(actions.ActionError, match="Can't silence a resolved alert group"):
        actions.silence(RESOLVED, "U1", NOW, 60)
    with pytest.raises(actions.ActionError, match="Can't silence an acknowledged alert group"):
        actions.silence(ACKED, "U1", NOW, 60)


def test_wipe_resolves_and_clears_the_title() -> None:
    wiped = actions.wipe(group(title="secret"), "U1", NOW)
    assert wiped.group.resolved_by == "wipe" and wiped.group.title is None and wiped.pointer == "close"
