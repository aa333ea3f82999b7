"""Insights against the policy table (:mod:`oncall.services.policy`): the API route and the console page, for
each role, answer what the table says (figures of the alert groups everyone reads: every role reads them)."""

from __future__ import annotations

from types import ModuleType

import pytest
from oncall.services import policy
from oncall.services.policy import Action, Principal, Resource

from tests.integration.conftest import Invoke
from tests.integration.test_access import key_for, user
from tests.integration.web_browser import Browser


@pytest.mark.parametrize("role", ["viewer", "editor", "admin"])
def test_insights_answer_each_role_as_the_table_says(api: Invoke, web: ModuleType, role: str) -> None:
    made = user(api, f"insights-{role}", role)
    key = key_for(api, made["id"])
    allowed = policy.allows(Principal(made["id"], made["username"], role), Resource.INSIGHTS, Action.READ)
    status, body = api("GET", "/api/v1/insights/", query="period=24h", key_header=key)
    assert status == (200 if allowed else 403), body
    browser = Browser(web)
    assert browser.sign_in(key)["statusCode"] == 303
    assert browser.call("GET", "/ui/insights")["statusCode"] == (200 if allowed else 403)
