"""Escalation chains, their steps and outgoing webhooks against the policy table (:mod:`oncall.services.policy`),
through the real api and web handlers."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import Invoke
from tests.integration.test_access import key_for, user


@pytest.mark.parametrize(("path", "body"), [("escalation_chains", {}), ("webhooks", {"url": "https://hooks.test/x"})])
def test_editors_cannot_move_their_chains_or_webhooks_into_another_team(
    api: Invoke, path: str, body: dict[str, Any]
) -> None:
    ours = api("POST", "/api/v1/teams/", {"name": "ours"})[1]["id"]
    theirs = api("POST", "/api/v1/teams/", {"name": "theirs"})[1]["id"]
    editor = key_for(api, user(api, "eddie", "editor", [ours])["id"])
    status, mine = api("POST", f"/api/v1/{path}/", {"name": "mine", "team_id": ours, **body}, key_header=editor)
    assert status == 201, mine

    moved = api("PATCH", f"/api/v1/{path}/{mine['id']}/", {"team_id": theirs}, key_header=editor)
    assert moved == (403, {"detail": "You can only change what belongs to your teams."})
    assert api("GET", f"/api/v1/{path}/{mine['id']}/")[1]["team_id"] == ours
    # to no team, and back: both teams are the editor's to change
    assert api("PATCH", f"/api/v1/{path}/{mine['id']}/", {"team_id": None}, key_header=editor)[0] == 200
    assert api("PATCH", f"/api/v1/{path}/{mine['id']}/", {"team_id": ours}, key_header=editor)[0] == 200
