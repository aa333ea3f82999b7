"""Route selection: the first matching route in order, then the integration's default route."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

from oncall import templating
from oncall.models import Route

ROUTING_TERM_MAX_LENGTH = 1024
REGEX_TIMEOUT_SECONDS = 2.0


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None  # an invalid regex never matches (the API refuses new ones)


def route_matches(route: Route, payload: Any, labels: dict[str, str], dumped: str | None = None) -> bool:
    if route.is_default:
        return True
    if route.routing_type == "labels":
        # Every listed pair must be present; an empty list never matches.
        return bool(route.routing_labels) and all(labels.get(m.key) == m.value for m in route.routing_labels)
    term = route.routing_regex
    if not term:
        return False
    if route.routing_type == "jinja2":
        return templating.render_condition(term, payload=payload, labels=labels)
    pattern = _compiled(term)
    if pattern is None:
        return False
    # OnCall users write regexes against Python's json.dumps with its default separators and ASCII escaping.
    text = dumped if dumped is not None else json.dumps(payload)
    return _regex_search(term, text)


def _regex_search(term: str, text: str) -> bool:
    """Search with the timeout-bound ``regex`` engine: a catastrophic route regex must not stall ingest."""
    import regex

    try:
        return regex.search(term, text, timeout=REGEX_TIMEOUT_SECONDS) is not None
    except (TimeoutError, regex.error):
        return False


def select_route(routes: list[Route], payload: Any, labels: dict[str, str]) -> Route:
    """``routes`` are ordered: non-default by position, the default route last (it always matches)."""
    dumped: str | None = None
    for route in routes:
        if route.routing_type == "regex" and not route.is_default and dumped is None:
            dumped = json.dumps(payload)
        if route_matches(route, payload, labels, dumped):
            return route
    raise LookupError("integration has no default route")


def validate_routing_term(routing_type: str, term: str | None) -> str | None:
    """Why a routing term is invalid, or None. Used by the API to answer 400 with a clear message."""
    if routing_type == "labels":
        return None
    if not term:
        return "This field is required."
    if len(term) > ROUTING_TERM_MAX_LENGTH:
        return "Expression is too long"
    if routing_type == "regex":
        try:
            re.compile(term)
        except re.error as error:
            return f"Invalid regex: {error}"
        return None
    try:
        templating.validate(term)
    except templating.TemplateProblem as problem:
        return problem.fallback
    return None
