"""The schedule engine: rotations, DST, layers, restrictions, overrides and gaps, as a person on call sees them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import patch
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st
from oncall.schedules import FinalShift, OnCallShift, Schedule, final_shifts, on_call_at, recurrence

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
UTC_ZONE = ZoneInfo("UTC")


def schedule(tz: str = "UTC") -> Schedule:
    return Schedule(id="S1", name="Primary", time_zone=tz)


def shift(id: str = "O1", **fields: Any) -> OnCallShift:
    defaults: dict[str, Any] = {"name": id, "type": "rolling_users", "duration": 86_400, "frequency": "daily"}
    return OnCallShift(id=id, **{**defaults, **fields})


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def who(timeline: list[FinalShift], tz: ZoneInfo = UTC_ZONE) -> list[tuple[str, str, str]]:
    """(local start, local end, users) of each stretch; gaps as "-"."""
    return [
        (
            p.start.astimezone(tz).strftime("%m-%d %H:%M"),
            p.end.astimezone(tz).strftime("%m-%d %H:%M"),
            ",".join(p.user_ids) or "-",
        )
        for p in timeline
    ]


# --- DST -----------------------------------------------------------------------------------------------------------
# Every expected timeline in this file is what Grafana OnCall's own code gives for the same shifts.


def test_daily_handoff_stays_at_nine_local_across_spring_forward_in_berlin() -> None:
    rotation = shift(start=datetime(2025, 3, 1, 9), rolling_users=[["A"], ["B"], ["C"]])
    start, end = datetime(2025, 3, 28, 9, tzinfo=BERLIN), datetime(2025, 4, 1, 9, tzinfo=BERLIN)
    timeline = final_shifts(schedule("Europe/Berlin"), [rotation], start, end)
    assert who(timeline, BERLIN) == [
        ("03-28 09:00", "03-29 09:00", "A"),
        ("03-29 09:00", "03-30 09:00", "B"),  # 30 March 2025: clocks go 02:00 -> 03:00
        ("03-30 09:00", "03-31 09:00", "C"),
        ("03-31 09:00", "04-01 09:00", "A"),
    ]
    spring = timeline[1]
    assert spring.end - spring.start == timedelta(hours=23)
    assert [p.start.astimezone(UTC).hour for p in timeline] == [8, 8, 7, 7]


def test_first_turns_across_a_dst_change_follow_oncall() -> None:
    """OnCall works out the next turn's date with the previous one's UTC offset, so across a DST change it misses
    the day of the change (C starts a day late, with A), and a first turn spanning the change ends an hour early."""
    rotation = shift(start=datetime(2025, 3, 28, 9), rolling_users=[["A"], ["B"], ["C"]])
    timeline = final_shifts(schedule("Europe/Berlin"), [rotation], utc(2025, 3, 28), utc(2025, 4, 4))
    assert who(timeline) == [
        ("03-28 00:00", "03-28 08:00", "-"),
        ("03-28 08:00", "03-29 08:00", "A"),
        ("03-29 08:00", "03-30 06:00", "B"),  # 08:00 local: 09:00 less the hour the clocks skipped
        ("03-30 06:00", "03-31 07:00", "-"),
        ("03-31 07:00", "04-01 07:00", "A,C"),
        ("04-01 07:00", "04-02 06:00", "B"),
        ("04-02 06:00", "04-03 07:00", "-"),
        ("04-03 07:00", "04-04 00:00", "A,C"),
    ]


def test_daily_handoff_stays_at_nine_local_across_fall_back_in_berlin() -> None:
    rotation = shift(start=datetime(2025, 10, 20, 9), rolling_users=[["A"], ["B"]])
    timeline = final_shifts(
        schedule("Europe/Berlin"),
        [rotation],
        datetime(2025, 10, 25, 9, tzinfo=BERLIN),
        datetime(2025, 10, 27, 9, tzinfo=BERLIN),
    )
    assert who(timeline, BERLIN) == [("10-25 09:00", "10-26 09:00", "B"), ("10-26 09:00", "10-27 09:00", "A")]
    assert timeline[0].end - timeline[0].start == timedelta(hours=25)  # 26 October 2025: 03:00 -> 02:00


def test_new_york_handoffs_across_both_dst_changes() -> None:
    rotation = shift(start=datetime(2025, 3, 1, 9), rolling_users=[["A"], ["B"]])
    tz = schedule("America/New_York")
    # Second Sunday of March 2025 (9th): 02:00 EST -> 03:00 EDT.
    march = final_shifts(
        tz, [rotation], datetime(2025, 3, 8, 9, tzinfo=NEW_YORK), datetime(2025, 3, 10, 9, tzinfo=NEW_YORK)
    )
    assert who(march, NEW_YORK) == [("03-08 09:00", "03-09 09:00", "B"), ("03-09 09:00", "03-10 09:00", "A")]
    assert [p.start.astimezone(UTC).hour for p in march] == [14, 13]
    # First Sunday of November 2025 (2nd): 02:00 EDT -> 01:00 EST.
    november = final_shifts(
        tz, [rotation], datetime(2025, 11, 1, 9, tzinfo=NEW_YORK), datetime(2025, 11, 3, 9, tzinfo=NEW_YORK)
    )
    assert [p.start.astimezone(NEW_YORK).hour for p in november] == [9, 9]
    assert november[0].end - november[0].start == timedelta(hours=25)
    assert on_call_at(tz, [rotation], utc(2025, 11, 2, 13, 59)) == list(november[0].user_ids)
    assert on_call_at(tz, [rotation], utc(2025, 11, 2, 14, 0)) == list(november[1].user_ids)  # 09:00 EST


def test_hourly_rotation_across_spring_forward_loses_the_missing_hour() -> None:
    rotation = shift(
        start=datetime(2030, 3, 30, 0), duration=3600, frequency="hourly", rolling_users=[["A"], ["B"], ["C"]]
    )
    timeline = final_shifts(schedule("Europe/Berlin"), [rotation], utc(2030, 3, 30, 22), utc(2030, 3, 31, 4))
    # 31 March 2030, Berlin: 00:00 A, 01:00 B (ends at 03:00 CEST, the same instant as 02:00 CET: empty),
    # 02:00 does not exist, 03:00 A, 04:00 B, 05:00 C.
    assert who(timeline, BERLIN) == [
        ("03-30 23:00", "03-31 00:00", "C"),
        ("03-31 00:00", "03-31 01:00", "A"),
        ("03-31 01:00", "03-31 03:00", "-"),
        ("03-31 03:00", "03-31 04:00", "A"),
        ("03-31 04:00", "03-31 05:00", "B"),
        ("03-31 05:00", "03-31 06:00", "C"),
    ]


# --- rotations -----------------------------------------------------------------------------------------------------


def test_hourly_rotation_every_four_hours() -> None:
    rotation = shift(
        start=datetime(2025, 1, 1, 0), duration=4 * 3600, frequency="hourly", interval=4,
        rolling_users=[["A"], ["B"], ["C"]],
    )  # fmt: skip
    timeline = final_shifts(schedule(), [rotation], utc(2025, 1, 1), utc(2025, 1, 2))
    assert [p.user_ids[0] for p in timeline] == ["A", "B", "C", "A", "B", "C"]
    assert all(p.end - p.start == timedelta(hours=4) for p in timeline)


def test_weekly_rotation_with_interval_two_hands_off_every_other_monday() -> None:
    rotation = shift(
        start=datetime(2025, 1, 6, 9), duration=14 * 86_400, frequency="weekly", interval=2,
        rolling_users=[["A"], ["B"], ["C"]],
    )  # fmt: skip
    timeline = final_shifts(schedule(), [rotation], utc(2025, 1, 6, 9), utc(2025, 3, 3, 9))
    assert who(timeline) == [
        ("01-06 09:00", "01-20 09:00", "A"),
        ("01-20 09:00", "02-03 09:00", "B"),
        ("02-03 09:00", "02-17 09:00", "C"),
        ("02-17 09:00", "03-03 09:00", "A"),
    ]


def test_weekly_rotation_on_weekdays_keeps_one_person_for_the_whole_week() -> None:
    rotation = shift(
        start=datetime(2025, 1, 6, 9), duration=8 * 3600, frequency="weekly", by_day=["MO", "TU", "WE", "TH", "FR"],
        rolling_users=[["A"], ["B"]],
    )  # fmt: skip
    timeline = [p for p in final_shifts(schedule(), [rotation], utc(2025, 1, 6), utc(2025, 1, 20)) if not p.is_gap]
    assert [p.user_ids for p in timeline] == [("A",)] * 5 + [("B",)] * 5
    assert all((p.start.hour, p.end.hour) == (9, 17) for p in timeline)
    assert {p.start.weekday() for p in timeline} == {0, 1, 2, 3, 4}


def test_daily_rotation_on_weekdays_takes_turns_only_on_days_worked() -> None:
    rotation = shift(
        start=datetime(2025, 1, 6, 9), duration=8 * 3600, by_day=["MO", "TU", "WE", "TH", "FR"],
        rolling_users=[["A"], ["B"], ["C"]],
    )  # fmt: skip
    worked = [p for p in final_shifts(schedule(), [rotation], utc(2025, 1, 6), utc(2025, 1, 14)) if not p.is_gap]
    # Mon..Fri, then the next Monday carries on where Friday stopped.
    assert [p.user_ids[0] for p in worked] == ["A", "B", "C", "A", "B", "C"]
    assert worked[5].start == utc(2025, 1, 13, 9)


def test_start_rotation_from_user_index_and_groups_paged_together() -> None:
    rotation = shift(start=datetime(2025, 1, 1, 0), rolling_users=[["A", "B"], ["C"]], start_rotation_from_user_index=1)
    timeline = final_shifts(schedule(), [rotation], utc(2025, 1, 1), utc(2025, 1, 3))
    assert [p.user_ids for p in timeline] == [("C",), ("A", "B")]


def test_a_turn_longer_than_its_period_overlaps_the_next() -> None:
    """Occurrences last their whole duration (OnCall): 31 days from 1 February reach into March's turn."""
    rotation = shift(
        start=datetime(2025, 1, 1), duration=31 * 86_400, frequency="monthly", rolling_users=[["A"], ["B"]]
    )
    timeline = final_shifts(schedule(), [rotation], utc(2025, 1, 1), utc(2025, 5, 1))
    assert who(timeline) == [
        ("01-01 00:00", "02-01 00:00", "A"),
        ("02-01 00:00", "03-01 00:00", "B"),
        ("03-01 00:00", "03-04 00:00", "B,A"),
        ("03-04 00:00", "04-01 00:00", "A"),
        ("04-01 00:00", "05-01 00:00", "B"),
    ]


def test_daily_rotation_every_other_listed_day_as_oncall() -> None:
    """The issue's case: daily, interval 2, on MO/WE/FR, from a Sunday. OnCall starts on the first listed day and
    gives each group two listed days in a row; Tocsin used to leave 18, 20, 22 March and 1, 3 April uncovered."""
    rotation = shift(
        start=datetime(2030, 3, 17, 9), duration=8 * 3600, interval=2, by_day=["MO", "WE", "FR"],
        rolling_users=[["A"], ["B"], ["C"]],
    )  # fmt: skip
    worked = [p for p in final_shifts(schedule(), [rotation], utc(2030, 3, 17), utc(2030, 4, 6)) if not p.is_gap]
    assert [(p.start.strftime("%m-%d"), ",".join(p.user_ids)) for p in worked] == [
        ("03-18", "A"), ("03-20", "A"), ("03-22", "B"), ("03-25", "B"), ("03-27", "C"), ("03-29", "C"),
        ("04-01", "A"), ("04-03", "A"), ("04-05", "B"),
    ]  # fmt: skip
    assert all((p.start.hour, p.end.hour) == (9, 17) for p in worked)


def test_rotation_start_after_start_skips_the_turns_before_it() -> None:
    """Turns are counted from start; those before rotation_start are skipped (their group's turn passes). A shift
    made in OnCall's web UI also counts the turn under way at rotation_start, from rotation_start."""
    fields: dict[str, Any] = {
        "start": datetime(2030, 1, 7, 9), "duration": 7 * 86_400, "frequency": "weekly", "week_start": "MO",
        "rotation_start": datetime(2030, 1, 23, 12), "rolling_users": [["A"], ["B"], ["C"]],
    }  # fmt: skip
    api = final_shifts(schedule(), [shift(**fields)], utc(2030, 1, 1), utc(2030, 2, 18))
    assert who(api) == [
        ("01-01 00:00", "01-28 09:00", "-"),
        ("01-28 09:00", "02-04 09:00", "A"),
        ("02-04 09:00", "02-11 09:00", "B"),
        ("02-11 09:00", "02-18 00:00", "C"),
    ]
    web = final_shifts(schedule(), [shift(origin="web", **fields)], utc(2030, 1, 1), utc(2030, 2, 18))
    assert who(web)[:3] == [
        ("01-01 00:00", "01-23 12:00", "-"),
        ("01-23 12:00", "01-28 09:00", "C"),
        ("01-28 09:00", "02-04 09:00", "A"),
    ]


def test_until_ends_the_rotation_and_leaves_a_gap() -> None:
    rotation = shift(start=datetime(2025, 1, 1), rolling_users=[["A"], ["B"]], until=datetime(2025, 1, 2, 12))
    assert who(final_shifts(schedule(), [rotation], utc(2025, 1, 1), utc(2025, 1, 4))) == [
        ("01-01 00:00", "01-02 00:00", "A"),
        ("01-02 00:00", "01-02 12:00", "B"),
        ("01-02 12:00", "01-04 00:00", "-"),
    ]


def test_shift_in_its_own_time_zone() -> None:
    rotation = shift(start=datetime(2025, 7, 1, 9), duration=8 * 3600, time_zone="America/New_York", users=["A"],
                     type="recurrent_event")  # fmt: skip
    assert on_call_at(schedule("Europe/Berlin"), [rotation], utc(2025, 7, 1, 13)) == ["A"]  # 09:00 EDT
    assert on_call_at(schedule("Europe/Berlin"), [rotation], utc(2025, 7, 1, 12, 59)) == []


# --- layers, restrictions, overrides, gaps ---------------------------------------------------------------------------


def test_higher_level_wins_for_the_overlap_only() -> None:
    base = shift("O1", rolling_users=[["A"]], start=datetime(2025, 1, 1), level=0)
    lunch = shift("O2", rolling_users=[["B"]], start=datetime(2025, 1, 1, 12), duration=2 * 3600, level=1)
    timeline = final_shifts(schedule(), [lunch, base], utc(2025, 1, 1), utc(2025, 1, 2))
    assert who(timeline) == [
        ("01-01 00:00", "01-01 12:00", "A"),
        ("01-01 12:00", "01-01 14:00", "B"),
        ("01-01 14:00", "01-02 00:00", "A"),
    ]
    assert [p.shift_id for p in timeline] == ["O1", "O2", "O1"]


def test_overlapping_shifts_of_one_level_page_everybody_in_them() -> None:
    one = shift("O1", rolling_users=[["A"]], start=datetime(2025, 1, 1), duration=12 * 3600)
    two = shift("O2", rolling_users=[["B"]], start=datetime(2025, 1, 1, 8), duration=12 * 3600)
    assert who(final_shifts(schedule(), [one, two], utc(2025, 1, 1), utc(2025, 1, 1, 20))) == [
        ("01-01 00:00", "01-01 08:00", "A"),
        ("01-01 08:00", "01-01 12:00", "A,B"),
        ("01-01 12:00", "01-01 20:00", "B"),
    ]


def test_override_wins_over_every_layer() -> None:
    base = shift("O1", rolling_users=[["A"]], start=datetime(2025, 1, 1), level=0)
    top = shift("O2", rolling_users=[["B"]], start=datetime(2025, 1, 1, 12), duration=4 * 3600, level=99)
    override = OnCallShift(
        id="O3", name="swap", type="override", start=datetime(2025, 1, 1, 13), duration=3600, users=["Z"]
    )
    timeline = final_shifts(schedule(), [base, top, override], utc(2025, 1, 1), utc(2025, 1, 2))
    assert who(timeline) == [
        ("01-01 00:00", "01-01 12:00", "A"),
        ("01-01 12:00", "01-01 13:00", "B"),
        ("01-01 13:00", "01-01 14:00", "Z"),
        ("01-01 14:00", "01-01 16:00", "B"),
        ("01-01 16:00", "01-02 00:00", "A"),
    ]
    assert timeline[2].is_override and not timeline[1].is_override
    assert on_call_at(schedule(), [base, top, override], utc(2025, 1, 1, 13, 30)) == ["Z"]


def test_weekday_and_hours_restrictions() -> None:
    office = OnCallShift(
        id="O1", name="office", type="recurrent_event", start=datetime(2025, 1, 6), duration=86_400,
        frequency="daily", by_day=["MO", "TU", "WE", "TH", "FR"], users=["A"],
        restrict_hours={"from": "09:00", "to": "17:00"},
    )  # fmt: skip
    timeline = final_shifts(schedule("Europe/Berlin"), [office], datetime(2025, 1, 10, tzinfo=BERLIN),
                            datetime(2025, 1, 14, tzinfo=BERLIN))  # fmt: skip
    assert who(timeline, BERLIN) == [
        ("01-10 00:00", "01-10 09:00", "-"),
        ("01-10 09:00", "01-10 17:00", "A"),  # Friday
        ("01-10 17:00", "01-13 09:00", "-"),  # the weekend is a gap
        ("01-13 09:00", "01-13 17:00", "A"),
        ("01-13 17:00", "01-14 00:00", "-"),
    ]


def test_night_hours_wrap_past_midnight() -> None:
    nights = shift(rolling_users=[["N"]], start=datetime(2025, 1, 1), restrict_hours={"from": "22:00", "to": "06:00"})
    assert who(final_shifts(schedule(), [nights], utc(2025, 1, 1), utc(2025, 1, 2))) == [
        ("01-01 00:00", "01-01 06:00", "N"),
        ("01-01 06:00", "01-01 22:00", "-"),
        ("01-01 22:00", "01-02 00:00", "N"),
    ]


def test_gap_in_coverage_is_reported_as_a_gap() -> None:
    day = OnCallShift(id="O1", name="day", type="single_event", start=datetime(2025, 1, 1, 9), duration=8 * 3600,
                      users=["A"])  # fmt: skip
    timeline = final_shifts(schedule(), [day], utc(2025, 1, 1), utc(2025, 1, 2))
    assert [(p.is_gap, p.user_ids) for p in timeline] == [(True, ()), (False, ("A",)), (True, ())]
    assert timeline[0].start == utc(2025, 1, 1) and timeline[-1].end == utc(2025, 1, 2)
    assert on_call_at(schedule(), [day], utc(2025, 1, 1, 8)) == []
    assert final_shifts(schedule(), [], utc(2025, 1, 1), utc(2025, 1, 2)) == [
        FinalShift(utc(2025, 1, 1), utc(2025, 1, 2), (), None, is_gap=True)
    ]


def test_long_running_rotation_is_still_right_years_later() -> None:
    rotation = shift(start=datetime(2020, 1, 1, 9), rolling_users=[["A"], ["B"], ["C"]])
    days = (datetime(2026, 6, 1, 9) - datetime(2020, 1, 1, 9)).days
    expected = "ABC"[days % 3]
    assert on_call_at(schedule("Europe/Berlin"), [rotation], datetime(2026, 6, 1, 12, tzinfo=BERLIN)) == [expected]


# --- skipping history gives the same answer as walking it ------------------------------------------------------------


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    frequency=st.sampled_from(["hourly", "daily", "weekly", "monthly"]),
    interval=st.integers(1, 3),
    by_day=st.lists(st.sampled_from(["MO", "TU", "WE", "TH", "FR", "SA", "SU"]), max_size=3, unique=True),
    begin=st.datetimes(datetime(2024, 1, 1), datetime(2024, 12, 31)),
    offset_days=st.integers(0, 120),
    groups=st.integers(1, 4),
)
def test_skipping_history_matches_walking_from_the_first_occurrence(
    frequency: str, interval: int, by_day: list[str], begin: datetime, offset_days: int, groups: int
) -> None:
    period = {"hourly": 3600, "daily": 86_400, "weekly": 7 * 86_400, "monthly": 28 * 86_400}[frequency]
    rotation = shift(
        start=begin.replace(second=0, microsecond=0), duration=period * interval, frequency=frequency,
        interval=interval, by_day=by_day if frequency != "daily" or len(by_day) >= interval else [],
        rolling_users=[[f"U{n}"] for n in range(groups)],
    )  # fmt: skip
    start = datetime(2025, 1, 1, tzinfo=BERLIN) + timedelta(days=offset_days)
    end = start + timedelta(days=9)
    fast = final_shifts(schedule("Europe/Berlin"), [rotation], start, end)
    with patch.object(recurrence, "_first_period", lambda rule, first, before: first):
        slow = final_shifts(schedule("Europe/Berlin"), [rotation], start, end)
    assert fast == slow


def test_months_left_out_take_no_turn_but_the_next_date_falls_back_to_the_first_of_the_month() -> None:
    """OnCall looks for the next turn within a month; finding none, it starts the next group on the 1st of the
    next month (here February, a month the rule leaves out), then every other month from there."""
    quarterly = shift(start=datetime(2025, 1, 1), duration=86_400, frequency="monthly", by_month=[1, 4, 7, 10],
                      rolling_users=[["A"], ["B"]])  # fmt: skip
    firsts = [utc(2025, m, 1, 12) for m in (1, 2, 4, 7, 10)] + [utc(2026, 1, 1, 12)]
    assert [on_call_at(schedule(), [quarterly], when) for when in firsts] == [["A"], ["B"], ["B"], ["A"], ["B"], ["A"]]


def test_an_overrides_until_ends_it() -> None:
    base = shift("O1", start=datetime(2030, 3, 1), rolling_users=[["A"]])
    override = OnCallShift(
        id="O2", name="swap", type="override", start=datetime(2030, 3, 5, 10), duration=3 * 3600, users=["Z"],
        until=datetime(2030, 3, 5, 11),
    )  # fmt: skip
    assert on_call_at(schedule(), [base, override], utc(2030, 3, 5, 10, 30)) == ["Z"]
    assert on_call_at(schedule(), [base, override], utc(2030, 3, 5, 12, 5)) == ["A"]
    assert who(final_shifts(schedule(), [base, override], utc(2030, 3, 5), utc(2030, 3, 6))) == [
        ("03-05 00:00", "03-05 10:00", "A"),
        ("03-05 10:00", "03-05 11:00", "Z"),
        ("03-05 11:00", "03-06 00:00", "A"),
    ]


def test_levels_below_zero_count_as_zero() -> None:
    """OnCall writes a level into the event's summary only when it is above 0."""
    low = shift("O1", start=datetime(2030, 3, 1), rolling_users=[["A"]], level=-5)
    zero = shift("O2", start=datetime(2030, 3, 1), rolling_users=[["B"]], level=0)
    assert sorted(on_call_at(schedule(), [low, zero], utc(2030, 3, 2))) == ["A", "B"]


def test_a_group_whose_rule_never_comes_back_has_only_its_first_date() -> None:
    """Quarterly, three groups: B and C start on 1 February and 1 March (the fallback dates) and their rules,
    every three months from there, never meet by_month again. OnCall's calendar library searches such a rule up to
    the year 9999 (a second here, minutes for a daily one); the answer is the same without the search."""
    quarterly = shift(start=datetime(2025, 1, 1), duration=86_400, frequency="monthly", by_month=[1, 4, 7, 10],
                      rolling_users=[["A"], ["B"], ["C"]])  # fmt: skip
    worked = [p for p in final_shifts(schedule(), [quarterly], utc(2025, 1, 1), utc(2026, 12, 31)) if not p.is_gap]
    assert [(p.start.strftime("%y-%m"), p.user_ids[0]) for p in worked] == [
        ("25-01", "A"), ("25-02", "B"), ("25-03", "C"), ("25-04", "A"), ("25-07", "A"), ("25-10", "A"),
        ("26-01", "A"), ("26-04", "A"), ("26-07", "A"), ("26-10", "A"),
    ]  # fmt: skip
