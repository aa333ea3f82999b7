"""Schedules as the rest of Tocsin uses them: who is on call now (the escalation step
``notify_on_call_from_schedule``) and the resolved timeline of a stored schedule."""

from __future__ import annotations

from datetime import datetime

from oncall.errors import NotFound
from oncall.models import User
from oncall.ports import Store
from oncall.schedules import engine
from oncall.schedules.models import OnCallShift, Schedule


class ScheduleNotFound(NotFound):
    """No schedule has this id (it was deleted, or never existed)."""

    def __init__(self, schedule_id: str) -> None:
        super().__init__(f"Schedule {schedule_id} does not exist")
        self.schedule_id = schedule_id


def load(store: Store, schedule_id: str) -> tuple[Schedule, list[OnCallShift]]:
    """The schedule and its shifts; ScheduleNotFound if there is no such schedule."""
    schedule = store.schedules.get(schedule_id) if schedule_id else None
    if schedule is None:
        raise ScheduleNotFound(schedule_id)
    return schedule, store.shifts.of_schedule(schedule_id)


def on_call_user_ids(store: Store, schedule_id: str, now: datetime) -> list[str]:
    """Ids of the users on call at ``now`` (aware); ScheduleNotFound if there is no such schedule."""
    schedule, shifts = load(store, schedule_id)
    return engine.on_call_at(schedule, shifts, now)


def users_on_call(store: Store, schedule_id: str, now: datetime) -> list[User]:
    """The users on call at ``now`` (aware), in the schedule's order; [] in a gap in coverage.

    Raises :class:`ScheduleNotFound` if there is no such schedule. Users deleted since they were put in a
    shift are left out.
    """
    users = [store.users.get(uid) for uid in on_call_user_ids(store, schedule_id, now)]
    return [u for u in users if u is not None]


def final_shifts(store: Store, schedule_id: str, start: datetime, end: datetime) -> list[engine.FinalShift]:
    """The resolved timeline of a stored schedule; ScheduleNotFound if there is no such schedule."""
    schedule, shifts = load(store, schedule_id)
    return engine.final_shifts(schedule, shifts, start, end)
