"""API Gateway HTTP API route matching for ``oncall.http_routes.ROUTES``.

Semantics reproduced: ``{name}`` matches one path segment, ``{name+}`` (greedy) the non-empty rest of the path;
``/x/`` matches the route ``/x`` (route keys cannot end in ``/``); ``ANY`` matches every method; the most
specific route wins (no greedy variable, then more literal segments, then an exact method over ``ANY``).
A method mismatch is a plain "no route" (API Gateway answers 404, not 405).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

from oncall.http_routes import HttpRoute

_GREEDY = re.compile(r"\{(\w+)\+\}")
_VARIABLE = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class CompiledRoute:
    route: HttpRoute
    pattern: re.Pattern[str]
    specificity: tuple[int, int, int]  # sort key: smaller is more specific

    @property
    def route_key(self) -> str:
        return f"{self.route.method} {self.route.path}"


@dataclass(frozen=True)
class RouteMatch:
    route: HttpRoute
    route_key: str
    path_parameters: dict[str, str]


def compile_route(route: HttpRoute) -> CompiledRoute:
    segments = route.path.strip("/").split("/")
    parts: list[str] = []
    literals = 0
    greedy = False
    for index, segment in enumerate(segments):
        if m := _GREEDY.fullmatch(segment):
            if index != len(segments) - 1:
                raise ValueError(f"greedy path variable must be last: {route.path}")
            parts.append(f"(?P<{m[1]}>.+)")  # keeps a trailing slash, as API Gateway's greedy variable does
            greedy = True
        elif m := _VARIABLE.fullmatch(segment):
            parts.append(f"(?P<{m[1]}>[^/]+)")
        else:
            parts.append(re.escape(segment))
            literals += 1
    pattern = re.compile("/" + "/".join(parts) + "/?")
    return CompiledRoute(route, pattern, (int(greedy), -literals, int(route.method == "ANY")))


class Router:
    def __init__(self, routes: Iterable[HttpRoute]) -> None:
        self.routes = sorted((compile_route(r) for r in routes), key=lambda c: c.specificity)

    def match(self, method: str, raw_path: str) -> RouteMatch | None:
        for compiled in self.routes:
            if compiled.route.method not in ("ANY", method):
                continue
            if m := compiled.pattern.fullmatch(raw_path):
                params = {name: unquote(value) for name, value in m.groupdict().items()}
                return RouteMatch(compiled.route, compiled.route_key, params)
        return None
