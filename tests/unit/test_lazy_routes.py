"""The route tables that let the API include a resource's router, and the console import a page module, on the first
request for it: a request's candidate routes must all be in the modules its path selects, in the order they are tried
when all are loaded, or an environment's answer would depend on what it served before."""

from __future__ import annotations

import re

import pytest
from oncall.api import routes as api_routes
from oncall.web import app as console


def _example(rule: str) -> str:
    """A concrete path a rule matches (``/api/v1/alert_groups/<group_id>`` -> ``/api/v1/alert_groups/x1``)."""
    return re.sub(r"<\w+>", "x1", rule)


@pytest.mark.parametrize("name", list(api_routes.ROUTERS))
def test_every_api_route_is_under_the_prefixes_of_its_module(name: str) -> None:
    rules = {key[0] for key in api_routes.router(name)._routes}
    assert rules
    for rule in rules:
        assert name in api_routes.serving(_example(rule)), f"{rule} is not under {api_routes.ROUTERS[name]}"


def test_a_path_selects_the_modules_of_its_resource_only() -> None:
    assert api_routes.serving("/api/v1/alert_groups") == ["alert_groups"]
    assert api_routes.serving("/api/v1/alerts/") == ["alerts"]
    assert api_routes.serving("/api/v1/users/U1/schedule_export") == ["schedules", "users"]
    assert api_routes.serving("/actions/token") == ["actions"]
    assert api_routes.serving("/api/v1/actions") == ["lookups"]
    assert api_routes.serving("/api/v1/openapi.json") == []
    assert api_routes.serving("/api/v1/alert_groupsx") == []


@pytest.mark.parametrize("name", list(console.PAGES))
def test_every_console_route_is_under_the_first_segments_of_its_page_module(name: str) -> None:
    patterns = [pattern for _, pattern, _ in console.page_routes(name)]
    assert patterns
    for pattern in patterns:
        segment = pattern.split("/")[1]
        assert re.fullmatch(r"\w+", segment) and segment in console.PAGES[name], pattern


def test_a_console_path_selects_the_routes_of_its_pages_in_the_order_of_all() -> None:
    everything = console.all_routes()
    for path in ("", "/groups", "/groups/G1/responders", "/users/U1/profile", "/keys", "/integrations/I1/routes"):
        selected = console.routes_for(path)
        assert selected == [route for route in everything if route in selected]
        matching = [route for route in everything if re.fullmatch(route[1], path)]
        assert matching and all(route in selected for route in matching), path
    assert console.routes_for("/nowhere") == []
