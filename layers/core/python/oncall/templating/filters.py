"""Grafana OnCall's template filters (``engine/common/jinja_templater/filters.py``) as Tocsin renders them, and
Jinja's ``pprint`` written through a bounded stream. Their size rules are in :mod:`.filter_rules`."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from jinja2.exceptions import SecurityError

from . import limits
from .budget import RenderTimeout, current
from .guards import check_datetime_format
from .sizes import check_total


def datetimeformat(value: Any, format: str = "%H:%M / %d-%m-%Y") -> str | None:
    check_datetime_format(format)
    try:
        return value.strftime(format)  # type: ignore[no-any-return]
    except Exception:  # OnCall: None on any error
        return None


def datetimeformat_as_timezone(value: Any, format: str = "%H:%M / %d-%m-%Y", tz: str = "UTC") -> str:
    from zoneinfo import ZoneInfo  # lazy: only templates that use the filter pay for it

    check_datetime_format(format)
    if isinstance(value, datetime) and value.tzinfo is None:
        # OnCall's servers run in UTC, so naive values are UTC there; don't depend on the host's TZ.
        value = value.replace(tzinfo=UTC)
    # Unknown zone -> ZoneInfoNotFoundError (a KeyError) -> warning, as pytz's error is in OnCall.
    return value.astimezone(ZoneInfo(tz)).strftime(format)  # type: ignore[no-any-return]


def datetimeparse(value: Any, format: str = "%H:%M / %d-%m-%Y") -> datetime | None:
    check_datetime_format(format)
    try:
        return datetime.strptime(value, format)
    except Exception:  # OnCall: None on any error
        return None


def iso8601_to_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


_TIMEDELTA_RE: Final[re.Pattern[str]] = re.compile(r"^([-+]?\d+)([smhdwMQy])$")
_TIMEDELTA_UNITS: Final[dict[str, str]] = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def timedeltaparse(value: Any) -> timedelta | None:
    match = _TIMEDELTA_RE.match(value) if isinstance(value, str) else None
    if match is None:
        return None
    unit = _TIMEDELTA_UNITS.get(match.group(2))
    if unit is None:  # M, Q, y have no fixed length
        return None
    try:
        return timedelta(**{unit: int(match.group(1))})
    except (OverflowError, ValueError):  # out of timedelta's range, or too many digits for int()
        return None


def timestamp_to_datetime(value: Any) -> datetime:
    # Naive UTC: what OnCall's datetime.fromtimestamp gives on a UTC server, independent of host TZ.
    return datetime.fromtimestamp(value, tz=UTC).replace(tzinfo=None)


def tojson_pretty(value: Any) -> str:
    return json.dumps(value, sort_keys=True, indent=4, separators=(",", ": "), ensure_ascii=False)


def json_dumps(value: Any) -> str:
    return json.dumps(value)


# --- regex: OnCall's 2 s timeout, or what is left of the render's budget if that is less


def _regex_timeout() -> float:
    # The regex package measures its timeout in process CPU time (all threads): with other busy threads it
    # stops sooner than the render budget would, never later.
    return max(min(limits.REGEX_TIMEOUT, current.budget.remaining()), 0.001)


def _raise_if_budget_spent() -> None:
    """After a regex timeout: if the render budget rather than OnCall's 2 s regex timeout was the limit the regex
    got, report the budget (the regex counts process CPU time, so it may stop before the thread's budget is)."""
    if current.budget.remaining() < limits.REGEX_TIMEOUT:
        raise RenderTimeout


def regex_replace(value: Any, find: str, replace: str) -> str:
    import regex  # lazy: heavy, and most templates never use it

    try:
        plain = isinstance(value, str) and isinstance(replace, str) and "\\" not in replace
        # at most one replacement per position of the text; past the limit, count the result as it is built
        if plain and len(value) + (len(value) + 1) * len(replace) <= limits.VALUE_MAX_SIZE:
            return regex.sub(find, replace, value, timeout=_regex_timeout())
        return _regex_replace_counted(regex, value, find, replace)
    except TimeoutError:
        _raise_if_budget_spent()
        raise


def _regex_replace_counted(regex: Any, value: Any, find: str, replace: Any) -> str:
    """A replacement with group references (``\\1``, ``\\g<0>``) may copy the text once per match: its length is
    known only match by match, so the result is counted as it is built and refused once past the limit."""
    written = len(value) if isinstance(value, str) else 0
    budget = current.budget

    def expand(match: Any) -> str:
        nonlocal written
        piece: str = match.expand(replace)
        written += len(piece) - (match.end() - match.start())
        check_total(written, "regex_replace")
        budget.tick(1 + (len(piece) >> 12))
        return piece

    return regex.sub(find, expand, value, timeout=_regex_timeout())  # type: ignore[no-any-return]


def regex_match(value: Any, pattern: str) -> bool | None:
    import regex

    try:
        return bool(regex.match(pattern, value, timeout=_regex_timeout()))
    except TimeoutError:
        _raise_if_budget_spent()
        return None  # OnCall: None when the 2 s regex timeout hits


def regex_search(value: Any, pattern: str) -> bool:
    import regex

    try:
        return bool(regex.search(pattern, value, timeout=_regex_timeout()))
    except TimeoutError:
        _raise_if_budget_spent()
        raise


def b64decode(value: Any) -> str:
    import base64

    return base64.b64decode(value).decode("utf-8")


def parse_json(value: Any) -> Any:
    return json.loads(value)


def now() -> datetime:
    return datetime.now(UTC)


def restricted_range(*args: Any, **kwargs: Any) -> Any:
    # Replaces the global only when *called*, so an unexecuted branch using range() still renders.
    raise SecurityError("use of 'range' is restricted")


class _BoundedText:
    """A text stream that refuses to grow past the length limit, and charges the budget as it is written."""

    def __init__(self, operation: str) -> None:
        self.operation = operation
        self.parts: list[str] = []
        self.size = 0

    def write(self, text: str) -> None:
        self.size += len(text)
        check_total(self.size, self.operation)
        current.budget.tick(1 + (len(text) >> 12))
        self.parts.append(text)


def pprint(value: Any) -> str:
    """Jinja's ``pprint`` (``pprint.pformat``), written out piece by piece so that its size and time are checked
    as it goes: the pretty printer measures every nested part again, in Python."""
    import pprint as printer  # lazy: only templates that use the filter pay for it

    stream = _BoundedText("pprint")
    printer.PrettyPrinter(stream=stream).pprint(value)  # type: ignore[arg-type]
    return "".join(stream.parts)[:-1]  # pprint() ends with a newline, pformat() does not


ONCALL_FILTERS: Final = {
    "datetimeformat": datetimeformat,
    "datetimeformat_as_timezone": datetimeformat_as_timezone,
    "datetimeparse": datetimeparse,
    "iso8601_to_time": iso8601_to_time,
    "timedeltaparse": timedeltaparse,
    "timestamp_to_datetime": timestamp_to_datetime,
    "tojson_pretty": tojson_pretty,
    "json_dumps": json_dumps,
    "regex_replace": regex_replace,
    "regex_match": regex_match,
    "regex_search": regex_search,
    "b64decode": b64decode,
    "parse_json": parse_json,
}
