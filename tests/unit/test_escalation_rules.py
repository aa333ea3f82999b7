"""Which state changes start or stop an escalation execution (pure rules, recording executor)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from oncall import actions, escalation
from oncall.models import AlertGroup

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def start(self, name: str, state: dict[str, Any]) -> None:
        assert state["generation"] == int(name.rsplit("-g", 1)[1]) and state["position"] == 0
        self.calls.append(("start", name))

    def stop(self, name: str) -> None:
        self.calls.append(("stop", name))


def group(**state: Any) -> AlertGroup:
    return AlertGroup(
        id="I1",
        integration_id="C1",
        route_id="R1",
        distinction="d",
        created_at=NOW,
        escalation_chain_id="F1",
        escalation_generation=1,
        **state,
    )


def test_a_new_group_with_a_chain_starts_generation_one() -> None:
    recorder = Recorder()
    escalation.after_transition(recorder, None, group())
    assert recorder.calls == [("start", "I1-g1")]


def test_a_new_group_without_a_chain_or_already_resolved_does_not_start() -> None:
    recorder = Recorder()
    escalation.after_transition(recorder, None, replace(group(), escalation_chain_id=None, escalation_generation=0))
    escalation.after_transition(recorder, None, group(resolved=True))
    assert recorder.calls == []


@pytest.mark.parametrize("action", ["acknowledge", "resolve"])
def test_acknowledge_and_resolve_stop_the_running_generation(action: str) -> None:
    recorder = Recorder()
    before = group()
    escalation.after_transition(recorder, before, actions.ACTIONS[action](before, "U1", NOW).group)
    assert recorder.calls == [("stop", "I1-g1")]


def test_silence_forever_stops_and_timed_silence_restarts_a_new_generation() -> None:
    recorder = Recorder()
    before = group()
    escalation.after_transition(recorder, before, actions.silence(before, "U1", NOW, -1).group)
    timed = escalation.restarted(actions.silence(before, "U1", NOW, 600).group)
    escalation.after_transition(recorder, before, timed)
    assert recorder.calls == [("stop", "I1-g1"), ("stop", "I1-g1"), ("start", "I1-g2")]


@pytest.mark.parametrize(
    ("start", "action"),
    [({"acknowledged": True}, "unacknowledge"), ({"resolved": True}, "unresolve"), ({"silenced": True}, "unsilence")],
)
def test_undoing_restarts_from_step_zero_in_a_new_generation(start: dict[str, Any], action: str) -> None:
    recorder = Recorder()
    before = group(**start)
    after = escalation.restarted(actions.ACTIONS[action](before, "U1", NOW).group)
    escalation.after_transition(recorder, before, after)
    assert after.escalation_generation == 2
    assert recorder.calls == [("stop", "I1-g1"), ("start", "I1-g2")]


def test_groups_without_a_chain_never_get_a_generation() -> None:
    plain = replace(group(), escalation_chain_id=None, escalation_generation=0)
    assert escalation.restarted(plain).escalation_generation == 0
