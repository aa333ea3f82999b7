"""On-call schedules: rotations in layers, overrides, the resolved timeline, iCalendar export and import.

The domain: :mod:`~oncall.schedules.models`, how shifts become on-call time (:mod:`~oncall.schedules.rotation`,
:mod:`~oncall.schedules.recurrence`), the resolved timeline (:mod:`~oncall.schedules.engine`) and iCalendar
(:mod:`~oncall.schedules.ical`). The use cases over stored schedules, and who is on call for the escalation step
``notify_on_call_from_schedule``, are :mod:`oncall.services.schedules`.
"""

from oncall.schedules.engine import FinalShift, final_shifts, on_call_at
from oncall.schedules.models import OnCallShift, Schedule

__all__ = ["FinalShift", "OnCallShift", "Schedule", "final_shifts", "on_call_at"]
