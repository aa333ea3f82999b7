"""On-call schedules: rotations in layers, overrides, the resolved timeline, iCalendar export and import.

For the escalation step ``notify_on_call_from_schedule``::

    from oncall import schedules

    try:
        users = schedules.users_on_call(store, schedule_id, now)   # list[User]; [] in a gap
    except schedules.ScheduleNotFound:
        ...
"""

from oncall.schedules.engine import FinalShift, final_shifts, on_call_at
from oncall.schedules.models import OnCallShift, Schedule
from oncall.schedules.service import ScheduleNotFound, on_call_user_ids, users_on_call

__all__ = [
    "FinalShift",
    "OnCallShift",
    "Schedule",
    "ScheduleNotFound",
    "final_shifts",
    "on_call_at",
    "on_call_user_ids",
    "users_on_call",
]
