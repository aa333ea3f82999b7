"""Insights: MTTA and MTTR, alert groups per day and per integration, the noisiest groups and notifications per
person, as server-rendered SVG charts (:mod:`oncall.web.charts`) over :mod:`oncall.services.insights`."""

from __future__ import annotations

from oncall.services import insights
from oncall.services.insights import PERIODS
from oncall.web import charts
from oncall.web.base import Request, Response, Route, page


def duration_text(seconds: float | None) -> str:
    """``4 min 10 s``, ``2 h 5 min``, ``—`` when nothing was measured."""
    if seconds is None:
        return "—"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


def insights_page(request: Request) -> Response:
    found = insights.insights(request.ports, request.principal, request.first("period"))
    over = "per hour" if found.slot == "hour" else "per day"
    return page(
        request,
        "insights.html",
        insights=found,
        periods=list(PERIODS),
        mtta=duration_text(found.mtta_seconds),
        mttr=duration_text(found.mttr_seconds),
        over_time=charts.columns(
            [
                (s.label, f"{s.start:%H:%M}" if found.slot == "hour" else f"{s.start:%b %d}", s.count)
                for s in found.per_slot
            ],
            title=f"Alert groups {over}, {found.period}",
        ),
        per_integration=charts.bars(
            [(n.name, n.count) for n in found.per_integration], title="Alert groups per integration"
        ),
        per_person=charts.bars([(n.name, n.count) for n in found.notifications], title="Notifications per person"),
        over=over,
    )


ROUTES: list[Route] = [("GET", r"/insights", insights_page)]
