"""The route tables that let the API include a resource's router on its first request: a request's candidate routes
must all be in the modules its path selects, or an environment's answer would depend on what it served before."""

from __future__ import annotations

import re

import pytest
from oncall.api import routes as api_routes


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
