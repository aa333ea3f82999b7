"""Where schedules and shifts live: the generic entity storage of the store port (one table).

SCHEDULE#<id> / META   listed in GSI1 partition "SCHEDULES", sorted by lower-cased name
SHIFT#<id>    / META   listed in GSI1 partition "SHIFTS#<schedule id>" ("SHIFTS#-" when in no schedule),
                       sorted by level, then start, then id
"""

from __future__ import annotations

from oncall.ports import Store
from oncall.schedules.models import OnCallShift, Schedule

SCHEDULE_KIND = "SCHEDULE"
SHIFT_KIND = "SHIFT"
SCHEDULES = "SCHEDULES"
UNATTACHED = "-"


def shifts_collection(schedule_id: str | None) -> str:
    return f"SHIFTS#{schedule_id or UNATTACHED}"


def schedule_sort(schedule: Schedule) -> str:
    return schedule.name.lower()


def shift_sort(shift: OnCallShift) -> str:
    return f"{shift.level + 1_000_000:08d}#{shift.start.isoformat()}#{shift.id}"


def get_schedule(store: Store, schedule_id: str) -> Schedule | None:
    return store.get_entity(SCHEDULE_KIND, schedule_id, Schedule)


def list_schedules(store: Store) -> list[Schedule]:
    return store.list_entities(SCHEDULES, Schedule)


def put_schedule(store: Store, schedule: Schedule, *, new: bool = False) -> None:
    store.put_entity(SCHEDULE_KIND, schedule, collection=SCHEDULES, sort=schedule_sort(schedule), new=new)


def delete_schedule(store: Store, schedule_id: str) -> None:
    """The schedule and every shift in it."""
    for shift in list_shifts(store, schedule_id):
        store.delete_entity(SHIFT_KIND, shift.id)
    store.delete_entity(SCHEDULE_KIND, schedule_id)


def get_shift(store: Store, shift_id: str) -> OnCallShift | None:
    return store.get_entity(SHIFT_KIND, shift_id, OnCallShift)


def list_shifts(store: Store, schedule_id: str | None) -> list[OnCallShift]:
    """The shifts of one schedule (``None``: the shifts in no schedule)."""
    return store.list_entities(shifts_collection(schedule_id), OnCallShift)


def put_shift(store: Store, shift: OnCallShift, *, new: bool = False) -> None:
    store.put_entity(
        SHIFT_KIND, shift, collection=shifts_collection(shift.schedule_id), sort=shift_sort(shift), new=new
    )


def delete_shift(store: Store, shift_id: str) -> None:
    store.delete_entity(SHIFT_KIND, shift_id)
