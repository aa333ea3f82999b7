"""Schedule engine benchmark: time to compute a 90-day final schedule of 5 layers and 50 users (plus overrides),
and one "who is on call now" lookup (what the escalation step does). Pure engine, no database.

    .venv/bin/python bench/schedules.py [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "layers/core/python"), str(REPO)]

from oncall.schedules import OnCallShift, Schedule, final_shifts, on_call_at  # noqa: E402

BERLIN = ZoneInfo("Europe/Berlin")


def fixture() -> tuple[Schedule, list[OnCallShift]]:
    users = [f"U{n:03d}" for n in range(50)]
    team = [users[i : i + 10] for i in range(0, 50, 10)]  # five teams of ten, one per layer
    pairs = [team[3][i : i + 2] for i in range(0, 10, 2)]  # weekends: two people at a time
    since = datetime(2024, 1, 1, 9)  # a year of history before the window
    layers = [
        OnCallShift(id="O1", name="days", type="rolling_users", level=0, start=since, duration=86_400,
                    frequency="daily", rolling_users=[[u] for u in team[0]]),
        OnCallShift(id="O2", name="office", type="rolling_users", level=1, start=since, duration=8 * 3600,
                    frequency="weekly", by_day=["MO", "TU", "WE", "TH", "FR"], rolling_users=[[u] for u in team[1]]),
        OnCallShift(id="O3", name="nights", type="rolling_users", level=2, start=since.replace(hour=0),
                    duration=4 * 3600, frequency="hourly", interval=4, rolling_users=[[u] for u in team[2]],
                    restrict_hours={"from": "22:00", "to": "06:00"}),
        OnCallShift(id="O4", name="weekends", type="rolling_users", level=3, start=since, duration=86_400,
                    frequency="daily", by_day=["SA", "SU"], rolling_users=pairs),
        OnCallShift(id="O5", name="monthly", type="rolling_users", level=0, start=since.replace(day=1, hour=0),
                    duration=31 * 86_400, frequency="monthly", rolling_users=[[u] for u in team[4]]),
    ]  # fmt: skip
    overrides = [
        OnCallShift(id=f"OV{n}", name=f"swap {n}", type="override", duration=6 * 3600, users=[users[(7 * n) % 50]],
                    start=datetime(2025, 3, 1, 12) + timedelta(days=4 * n))
        for n in range(20)
    ]  # fmt: skip
    return Schedule(id="S1", name="Bench", time_zone="Europe/Berlin"), layers + overrides


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    schedule, shifts = fixture()
    start = datetime(2025, 3, 1, tzinfo=BERLIN)  # the window spans the change to summer time
    end = start + timedelta(days=90)
    timings: list[float] = []
    timeline = []
    for _ in range(args.runs):
        began = time.perf_counter()
        timeline = final_shifts(schedule, shifts, start, end)
        timings.append(time.perf_counter() - began)
    lookups: list[float] = []
    for n in range(args.runs):
        began = time.perf_counter()
        on_call_at(schedule, shifts, start + timedelta(days=13 * n, hours=n))
        lookups.append(time.perf_counter() - began)
    median = statistics.median(timings) * 1000
    print(
        f"final schedule, 90 days, 5 layers + 20 overrides, 50 users: median {median:.1f} ms "
        f"over {args.runs} runs ({len(timeline)} stretches, {sum(p.is_gap for p in timeline)} gaps)"
    )
    print(f"on call at one instant: median {statistics.median(lookups) * 1000:.2f} ms")


if __name__ == "__main__":
    main()
