"""The schedules page's timeline: final shifts as bars in percent of the window, one row per person, the gaps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from oncall.web.timeline import Bar, Row, day_ticks, moment_text, position, timeline_rows

START = datetime(2020, 11, 30, tzinfo=UTC)  # a Monday
END = START + timedelta(days=14)
DAY = 100 / 14


def shift(user: str | None, start: str, end: str, *, override: bool = False, name: str | None = None) -> dict[str, Any]:
    return {
        "user_pk": user,
        "user_username": name if name is not None else (user.lower() if user else None),
        "user_email": None,
        "shift_start": start,
        "shift_end": end,
        "is_override": override,
        "is_gap": user is None,
    }


def test_a_stretch_is_a_bar_positioned_in_percent_with_its_text() -> None:
    rows = timeline_rows([shift("UALICE", "2020-11-30T09:00:00Z", "2020-12-01T09:00:00Z")], START, END)
    alice, nobody = rows
    assert alice.label == "ualice" and not alice.is_gap
    (bar,) = alice.bars
    assert bar.left == pytest.approx(DAY * 9 / 24, abs=1e-3)
    assert bar.width == pytest.approx(DAY, abs=1e-3)
    assert bar.text == "ualice, Mon 30 Nov 09:00 \u2013 Tue 1 Dec 09:00 UTC" and not bar.is_override
    # nobody before 09:00 on the first day and after the stretch: the gaps, hatched on their own row
    assert nobody.label == "nobody" and nobody.is_gap
    assert [(round(b.left, 3), round(b.width, 3)) for b in nobody.bars] == [
        (0, round(DAY * 9 / 24, 3)),
        (round(DAY * 33 / 24, 3), round(100 - DAY * 33 / 24, 3)),
    ]
    assert all(b.is_gap for b in nobody.bars)
    assert nobody.bars[0].text == "nobody on call, Mon 30 Nov 00:00 \u2013 Mon 30 Nov 09:00 UTC"


def test_one_row_per_person_in_order_pieces_merged_overrides_marked_no_gaps() -> None:
    shifts = [
        shift("UB", "2020-12-01T00:00:00Z", "2020-12-14T00:00:00Z", name="bob"),
        shift("UA", "2020-11-30T00:00:00Z", "2020-12-01T00:00:00Z", name="alice"),
        # the engine cuts alice's stretch where bob's override starts: one bar again
        shift("UA", "2020-12-01T00:00:00Z", "2020-12-02T00:00:00Z", name="alice"),
        shift("UC", "2020-12-03T12:00:00Z", "2020-12-03T18:00:00Z", override=True, name="carol"),
        shift("UA", "2020-12-13T00:00:00Z", "2020-12-20T00:00:00Z", name="alice"),  # past the window: cut
        shift(None, "2020-12-14T00:00:00Z", "2020-12-15T00:00:00Z"),  # the API's gap rows are not needed
    ]
    rows = timeline_rows(shifts, START, END)
    assert [r.label for r in rows] == ["alice", "bob", "carol"]  # everyone covered: no "nobody" row
    alice, bob, carol = rows
    assert [(round(b.left, 3), round(b.width, 3)) for b in alice.bars] == [
        (0, round(2 * DAY, 3)),
        (round(13 * DAY, 3), round(DAY, 3)),
    ]
    assert alice.bars[1].text == "alice, Sun 13 Dec 00:00 \u2013 Sun 20 Dec 00:00 UTC"  # the real end, in words
    assert bob.bars == (Bar(left=round(DAY, 4), width=round(13 * DAY, 4), text=bob.bars[0].text),)
    (override,) = carol.bars
    assert override.is_override and override.text.endswith("UTC (override)")
    assert override.width == pytest.approx(DAY / 4, abs=1e-3)


def test_nobody_scheduled_is_one_gap_over_the_window_and_outside_shifts_are_ignored() -> None:
    assert timeline_rows([], START, END) == [
        Row(
            label="nobody",
            bars=(Bar(0.0, 100.0, "nobody on call, Mon 30 Nov 00:00 \u2013 Mon 14 Dec 00:00 UTC", is_gap=True),),
            is_gap=True,
        )
    ]
    before = shift("UA", "2020-11-01T00:00:00Z", "2020-11-30T00:00:00Z")
    assert [r.label for r in timeline_rows([before], START, END)] == ["nobody"]


def test_datetimes_are_accepted_and_an_unknown_user_is_shown_by_id() -> None:
    item = shift("U404", "", "", name="")
    item["shift_start"], item["shift_end"] = START, START + timedelta(days=14)
    (row,) = timeline_rows([item], START, END)
    assert row.label == "U404" and row.bars[0].left == 0 and row.bars[0].width == 100


def test_day_ticks_and_now() -> None:
    ticks = day_ticks(START, END)
    assert len(ticks) == 14
    assert (ticks[0].label, ticks[0].title, ticks[0].left, ticks[0].is_weekend) == ("Mon 30", "Mon 30 Nov", 0, False)
    assert ticks[5].label == "Sat 5" and ticks[5].is_weekend and ticks[6].is_weekend
    assert ticks[1].left == pytest.approx(DAY, abs=1e-3) and ticks[13].width == pytest.approx(DAY, abs=1e-3)
    assert position(START + timedelta(days=7), START, END) == 50
    assert position(END, START, END) is None and position(START - timedelta(seconds=1), START, END) is None
    assert moment_text(datetime(2021, 1, 1, 7, 5, tzinfo=UTC)) == "Fri 1 Jan 07:05"
