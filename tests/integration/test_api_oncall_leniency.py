"""What Grafana OnCall's public API accepts, Tocsin accepts (issue #17.2): read-modify-write clients send back what
they read (ids, links, read-only fields, keys Tocsin does not know), Django REST framework ignores those; half-
configured escalation steps are saved and skipped; ``manual_order`` swaps steps as OnCall's Terraform provider
expects; refusals use OnCall's keys and words (its public API tests pin them)."""

from __future__ import annotations

from typing import Any

from tests.integration.conftest import Invoke
from tests.integration.escalation_world import World


def _without(body: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in names}


def test_an_integration_put_back_as_read_is_accepted_and_changes_nothing(api: Invoke) -> None:
    created = api("POST", "/api/v1/integrations/", {"name": "RMW", "type": "alertmanager", "labels": {"team": "db"}})[1]
    read = api("GET", f"/api/v1/integrations/{created['id']}/")[1]
    status, written = api("PUT", f"/api/v1/integrations/{created['id']}/", {**read, "unknown_key": 1})
    assert status == 200
    assert written == read
    assert written["type"] == "alertmanager"  # a read-only field sent back is ignored, not applied or refused


def test_a_chain_put_with_its_id_and_a_step_with_unknown_keys_are_accepted(api: Invoke) -> None:
    chain = api("POST", "/api/v1/escalation_chains/", {"name": "RMW chain"})[1]
    status, renamed = api("PUT", f"/api/v1/escalation_chains/{chain['id']}/", {**chain, "name": "Renamed"})
    assert status == 200 and renamed == {**chain, "name": "Renamed"}
    step = {"escalation_chain_id": chain["id"], "type": "wait", "duration": 120, "severity": "critical", "x": [1]}
    status, created = api("POST", "/api/v1/escalation_policies/", step)
    assert status == 201 and created["duration"] == 120 and "x" not in created
    status, updated = api("PUT", f"/api/v1/escalation_policies/{created['id']}/", {**created, "duration": 60})
    assert status == 200 and updated == {**created, "duration": 60}


def test_half_configured_steps_are_saved_as_oncall_saves_them(api: Invoke) -> None:
    chain = api("POST", "/api/v1/escalation_chains/", {"name": "Half"})[1]["id"]
    for step in (
        {"type": "notify_persons"},
        {"type": "notify_persons", "persons_to_notify": None},  # what the Terraform provider sends
        {"type": "notify_person_next_each_time", "persons_to_notify_next_each_time": []},
        {"type": "notify_on_call_from_schedule"},
        {"type": "notify_team_members", "team_to_notify": ""},
        {"type": "trigger_webhook"},
        {"type": "notify_if_time_from_to"},
    ):
        status, created = api("POST", "/api/v1/escalation_policies/", {"escalation_chain_id": chain, **step})
        assert status == 201, (step, created)
    listed = api("GET", "/api/v1/escalation_policies/", query=f"escalation_chain_id={chain}")[1]["results"]
    assert listed[0]["persons_to_notify"] == [] and listed[3]["notify_on_call_from_schedule"] is None


def test_half_configured_steps_run_as_a_no_op_on_the_timeline(world: World) -> None:
    alice = world.user("alice")
    chain = world.chain(
        {"type": "notify_persons"},
        {"type": "notify_on_call_from_schedule"},
        {"type": "trigger_webhook"},
        {"type": "notify_persons", "persons_to_notify": [alice]},
    )
    group = world.alert(world.integration(chain))
    world.executor.run(world.services)
    assert world.emails() == ["alice"]
    timeline = world.timeline(group)
    assert "Step notify_persons has no persons_to_notify: skipped" in timeline
    assert "Step notify_on_call_from_schedule has no notify_on_call_from_schedule: skipped" in timeline
    assert "Step trigger_webhook has no action_to_trigger: skipped" in timeline


def _positions(api: Invoke, chain: str) -> list[int]:
    return [
        p["duration"]
        for p in api("GET", "/api/v1/escalation_policies/", query=f"escalation_chain_id={chain}")[1]["results"]
    ]


def test_manual_order_swaps_steps_as_oncall_does(api: Invoke) -> None:
    """OnCall's test_create_escalation_policy_manual_order_duplicated_position: steps 1, 2, 3 and a new one at 0 with
    manual_order become new, 2, 3, 1 (the one at 0 trades places); without it they are pushed down."""
    for manual, expected in ((True, [600, 120, 180, 60]), (False, [600, 60, 120, 180])):
        chain = api("POST", "/api/v1/escalation_chains/", {"name": f"Order {manual}"})[1]["id"]
        for minutes in (1, 2, 3):
            body = {"escalation_chain_id": chain, "type": "wait", "duration": 60 * minutes}
            assert api("POST", "/api/v1/escalation_policies/", body)[0] == 201
        body = {"escalation_chain_id": chain, "type": "wait", "duration": 600, "position": 0, "manual_order": manual}
        status, created = api("POST", "/api/v1/escalation_policies/", body)
        assert status == 201 and created["position"] == 0
        assert _positions(api, chain) == expected


def test_delete_of_a_group_with_a_body_that_is_not_a_mode_is_a_400(api: Invoke) -> None:
    integration = api("POST", "/api/v1/integrations/", {"name": "Del", "type": "webhook"})[1]["id"]
    group = api("POST", f"/api/v1/integrations/{integration}/send_demo_alert/")[1]["alert_group_ids"][0]
    for body in (["wipe"], "wipe", 5, {"mode": None}, {"mode": 1}, {"mode": "shred"}, {"mode": ["wipe"]}):
        status, answer = api("DELETE", f"/api/v1/alert_groups/{group}/", body)
        assert status == 400, (body, answer)
    assert api("GET", f"/api/v1/alert_groups/{group}/")[1]["state"] == "firing"
    assert api("DELETE", f"/api/v1/alert_groups/{group}/", {"mode": "delete"})[0] == 204


def test_refusals_use_oncalls_keys_and_words(api: Invoke) -> None:
    chain = api("POST", "/api/v1/escalation_chains/", {"name": "Words"})[1]["id"]
    step = {"escalation_chain_id": chain, "type": None}
    assert api("POST", "/api/v1/escalation_policies/", step) == (400, {"type": ["This field may not be null."]})
    step = {"escalation_chain_id": chain, "type": "notify_if_time_from_to", "notify_if_time_from": "09:00"}
    assert api("POST", "/api/v1/escalation_policies/", step) == (
        400,
        {"notify_if_time_from": ["Time has wrong format. Use one of these formats instead: hh:mm:ssZ."]},
    )
    schedule = {"name": "Zoned", "type": "calendar", "time_zone": "Mars/Olympus"}
    assert api("POST", "/api/v1/schedules/", schedule) == (400, {"time_zone": ["Invalid timezone"]})
    assert api("POST", "/api/v1/escalation_chains/", {}) == (400, {"name": ["This field is required."]})
    nested = {"name": "Nested", "type": "webhook", "templates": {"web": {"title": 5}}}
    assert api("POST", "/api/v1/integrations/", nested) == (
        400,
        {"templates": {"web": {"title": ["Not a valid string."]}}},
    )


def test_empty_ids_mean_none_as_in_drf(api: Invoke) -> None:
    """OnCall's Terraform provider sends ``"team_id": ""`` for resources of no team."""
    status, chain = api("POST", "/api/v1/escalation_chains/", {"name": "No team", "team_id": ""})
    assert status == 201 and chain["team_id"] is None
    status, integration = api("POST", "/api/v1/integrations/", {"name": "No team", "type": "webhook", "team_id": ""})
    assert status == 201 and integration["team_id"] is None
