"""Who is on call, against Grafana OnCall's own answers.

``fixtures/oncall_final_schedules.json`` holds 458 random schedules (1 or 3 shifts each: rotations, recurrent and
single events, overrides; hourly to monthly, intervals 1-4, BYDAY in any order, BYMONTHDAY, BYMONTH, every
week_start, until before or after start, rotation_start before or after it, shifts made through OnCall's API and in
its web UI, five time zones, starts near DST changes) and, for each, the final schedule OnCall's code computed:
``CustomOnCallShift.convert_to_ical`` at grafana/oncall 3666186, expanded by its ``recurring_ical_events`` 2.1.0
and ``icalendar`` 5.0.10 adapter, resolved by ``OnCallSchedule._resolve_schedule``. The fixture was written by
``tests/support/oncall_reference/golden.py``, which runs those functions from a clone of OnCall (see there). Cases
where OnCall's code raises (a rotation date or end on a DST change, an end before the start) are not in it.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from oncall.schedules import OnCallShift, Schedule, final_shifts

CASES: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "fixtures" / "oncall_final_schedules.json").read_text()
)["cases"]
SCHEDULE = Schedule(id="S1", name="golden", time_zone="UTC")


def oncall_at(rows: list[list[Any]], minute: float) -> set[str]:
    return {u for start, end, users in rows if start <= minute < end for u in users.split(",")}


def test_every_case_puts_the_same_people_on_call_at_every_instant() -> None:
    assert len(CASES) > 400
    for case in CASES:
        shifts = [OnCallShift(name=s["id"], **s) for s in case["shifts"]]
        lo = datetime.fromisoformat(case["from"].replace("Z", "+00:00")).astimezone(UTC)
        hi = lo + timedelta(days=case["days"])
        timeline = final_shifts(SCHEDULE, shifts, lo, hi)
        minutes = {0.0}
        minutes |= {float(t) for row in case["oncall"] for t in row[:2]}
        minutes |= {(p.start - lo) / timedelta(minutes=1) for p in timeline}
        instants = sorted(m for m in minutes if 0 <= m < case["days"] * 1440)
        for minute in sorted({*instants, *((a + b) / 2 for a, b in itertools.pairwise(instants))}):
            when = lo + timedelta(minutes=minute)
            ours = next(set(p.user_ids) for p in timeline if p.start <= when < p.end)
            assert ours == oncall_at(case["oncall"], minute), (case["seed"], when.isoformat(), sorted(ours))
