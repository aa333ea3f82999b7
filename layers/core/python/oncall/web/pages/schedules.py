"""Schedules: who is on call now and the next 14 days (UTC), as a timeline and as a table, and the calendar feed URLs
of each schedule and of the signed-in person, all through the use cases of :mod:`oncall.services.schedules`."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Final

from oncall.api.routes.schedules import final_shift_out
from oncall.services import schedules as schedules_service
from oncall.web import timeline
from oncall.web.base import Request, Response, Route, page

TIMELINE_DAYS: Final = 14


def schedules(request: Request) -> Response:
    """Who is on call now, and the next 14 days (UTC) as a timeline (bars positioned with CSS) and as a table."""
    ports, caller, moment = request.ports, request.principal, request.now
    users = {u.id: u.username for u in ports.store.users.list()}
    start = moment.date()
    end = start + timedelta(days=TIMELINE_DAYS - 1)
    window_start = datetime.combine(start, time(), UTC)
    window_end = window_start + timedelta(days=TIMELINE_DAYS)
    rows = []
    for view in schedules_service.list_schedules(ports, caller):
        schedule = view.schedule
        found = schedules_service.final_shifts(
            ports, caller, schedule.id, start_date=start.isoformat(), end_date=end.isoformat()
        )
        shifts = [final_shift_out(row).model_dump(mode="json") for row in found]
        feed = schedules_service.calendar_feed(ports, caller, "schedule", schedule.id, request.key_hash)
        rows.append(
            {
                "schedule": schedule,
                "on_call": [users.get(u, u) for u in view.on_call_now],
                "shifts": shifts,
                "timeline": timeline.timeline_rows(shifts, window_start, window_end),
                "feed_url": feed.url(request.base_url),
            }
        )
    my_feed = schedules_service.calendar_feed(ports, caller, "user", caller.user_id, request.key_hash)
    return page(
        request,
        "schedules.html",
        schedules=rows,
        start=start,
        end=end,
        days=TIMELINE_DAYS,
        ticks=timeline.day_ticks(window_start, window_end),
        now_at=timeline.position(moment, window_start, window_end),
        now_text=timeline.moment_text(moment),
        my_feed_url=my_feed.url(request.base_url),
    )


ROUTES: list[Route] = [("GET", r"/schedules", schedules)]
