"""Random schedules, and OnCall's final schedule for them (see ``reference.py`` for how to run this).

golden.py write SINGLES TRIPLES   write tests/unit/fixtures/oncall_final_schedules.json
golden.py compare FIRST COUNT [SHIFTS]   compare Tocsin's engine with OnCall on COUNT random schedules
"""

from __future__ import annotations

import datetime
import itertools
import json
import random
import sys
import traceback
from pathlib import Path
from typing import Any

import pytz  # type: ignore[import-untyped]
from oncall.schedules import OnCallShift, Schedule, final_shifts

sys.path.insert(0, str(Path(__file__).parent))
import reference

UTC = datetime.UTC
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata"]
DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
PERIOD = {"hourly": 3600, "daily": 86400, "weekly": 7 * 86400, "monthly": 30 * 86400}
DST_CHANGES = [datetime.datetime(2030, m, d) for m, d in ((3, 31), (10, 27), (3, 10), (11, 3), (4, 7), (10, 6))]
FIXTURE = Path(__file__).parents[2] / "unit" / "fixtures" / "oncall_final_schedules.json"
# What OnCall's code raises on: a rotation date or end inside a DST change (pytz is_dst=None), an end before a start.
ONCALL_FAILS = (pytz.exceptions.NonExistentTimeError, pytz.exceptions.AmbiguousTimeError, AssertionError)


def random_shift(r: random.Random, n: int) -> dict[str, Any]:
    """One shift as OnCall's API would take it (within what its API accepts)."""
    kind = r.choices(["rolling_users", "recurrent_event", "single_event", "override"], [8, 3, 1, 1])[0]
    frequency = r.choice(list(PERIOD)) if kind in ("rolling_users", "recurrent_event") else None
    interval = r.randint(1, 4)
    start = datetime.datetime(2030, 1, 1) + datetime.timedelta(
        days=r.randint(0, 700), hours=r.randint(0, 23), minutes=r.choice([0, 0, 30])
    )
    if r.random() < 0.4:  # near a DST change of the northern or southern hemisphere
        start = r.choice(DST_CHANGES) + datetime.timedelta(
            days=r.randint(-8, 3), hours=r.randint(0, 23), minutes=r.choice([0, 30])
        )
    by_day = r.sample(DAYS, r.randint(1, 4)) if frequency and r.random() < 0.5 else []
    by_monthday = r.sample([*range(1, 32), -1, -2], r.randint(1, 4)) if frequency and r.random() < 0.25 else []
    by_month = sorted(r.sample(range(1, 13), r.randint(3, 8))) if frequency and r.random() < 0.1 else []
    if kind == "rolling_users" and frequency == "daily":
        by_monthday = []
        interval = min(interval, len(by_day)) if by_day else interval
    if frequency == "hourly":
        duration = r.choice([1800, 3600, 7200, 3600 * interval, 3600 * interval * 2])
    elif frequency:
        period = PERIOD[frequency]
        duration = r.choice([3600 * 8, period // 2, period, period * interval, period + 86400])
    else:
        duration = r.choice([3600, 3600 * 5, 86400 * 2])
    until = None
    if r.random() < 0.4:
        until = (start + datetime.timedelta(hours=r.randint(-5, 24 * 40))).replace(minute=r.choice([0, 15]))
    rotation_start = None
    if r.random() < 0.4 and kind != "override":
        rotation_start = start + datetime.timedelta(hours=r.randint(-48, 24 * 30), minutes=r.choice([0, 30]))
    groups = [[f"U{n}{g}"] for g in range(r.randint(1, 4))]
    if r.random() < 0.2:
        groups[0].append(f"X{n}")
    shift: dict[str, Any] = {
        "id": f"O{n}", "type": kind, "start": start, "duration": duration, "frequency": frequency,
        "interval": interval if frequency else 1, "by_day": by_day if frequency else [],
        "by_monthday": by_monthday if frequency else [], "by_month": by_month if frequency else [],
        "week_start": r.choice(DAYS), "until": until, "rotation_start": rotation_start,
        "level": 0 if kind == "override" else r.choice([0, 0, 1, 2, -1]), "time_zone": r.choice(ZONES),
        "origin": r.choice(["api", "api", "web"]) if kind == "rolling_users" else "api",
    }  # fmt: skip
    if kind == "rolling_users":
        shift |= {"rolling_users": groups, "start_rotation_from_user_index": r.randrange(len(groups))}
    else:
        shift["users"] = [u for g in groups[:2] for u in g]
    return shift


def tocsin(shift: dict[str, Any]) -> OnCallShift:
    return OnCallShift(name=shift["id"], **{k: v for k, v in shift.items() if v is not None})


def case(seed: int, count: int) -> tuple[list[dict[str, Any]], datetime.datetime, int]:
    r = random.Random(seed)
    shifts = [random_shift(r, n) for n in range(count)]
    days = 6 if all(s["frequency"] == "hourly" for s in shifts) else 60
    return shifts, (min(s["start"] for s in shifts) - datetime.timedelta(days=1)).replace(tzinfo=UTC), days


def write(singles: int, triples: int) -> None:
    lines = []
    for seed, count in [(s, 1) for s in range(900_000, 900_000 + singles)] + [
        (s, 3) for s in range(950_000, 950_000 + triples)
    ]:
        shifts, lo, days = case(seed, count)
        try:
            events = reference.final_events(shifts, lo, lo + datetime.timedelta(days=days))
        except ONCALL_FAILS:
            continue

        def minute(t: datetime.datetime, lo: datetime.datetime = lo) -> int:
            return int((t - lo).total_seconds() // 60)

        rows = [
            [
                max(minute(e["start"]), 0),
                min(minute(e["end"]), days * 1440),
                ",".join(sorted(u["pk"] for u in e["users"])),
            ]
            for e in events
        ]
        entry = {
            "seed": seed,
            "from": lo.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "days": days,
            "shifts": [tocsin(s).model_dump(mode="json", exclude_defaults=True, exclude={"name"}) for s in shifts],
            "oncall": [row for row in rows if row[0] < row[1]],
        }
        lines.append(json.dumps(entry, separators=(",", ":")))
    FIXTURE.write_text('{"cases": [\n' + ",\n".join(lines) + "\n]}\n")
    print(f"{len(lines)} cases written to {FIXTURE}")


def compare(first: int, count: int, shifts_per_case: int) -> None:
    differ = failed = 0
    for seed in range(first, first + count):
        shifts, lo, days = case(seed, shifts_per_case)
        hi = lo + datetime.timedelta(days=days)
        try:
            events = reference.final_events(shifts, lo, hi)
        except ONCALL_FAILS:
            failed += 1
            continue
        except Exception:
            traceback.print_exc()
            differ += 1
            continue
        timeline = final_shifts(Schedule(id="S", name="s"), [tocsin(s) for s in shifts], lo, hi)
        points = sorted({lo} | {t for e in events for t in (e["start"], e["end"])} | {p.start for p in timeline})
        points = [t for t in points if lo <= t < hi]
        for when in sorted({*points, *(a + (b - a) / 2 for a, b in itertools.pairwise(points))}):
            theirs = {u["pk"] for e in events if e["start"] <= when < e["end"] for u in e["users"]}
            ours = next(set(p.user_ids) for p in timeline if p.start <= when < p.end)
            if theirs != ours:
                differ += 1
                print(f"seed {seed}: at {when} OnCall {sorted(theirs)}, Tocsin {sorted(ours)}: {shifts}")
                break
    print(f"{count} schedules of {shifts_per_case} shift(s): {differ} differ, {failed} make OnCall's code raise")


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(int(sys.argv[2]), int(sys.argv[3]))
    else:
        compare(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 1)
