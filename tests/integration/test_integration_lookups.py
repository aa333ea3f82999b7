"""Integration names are claimed per team and a team's direct paging integration is found by key, through the real
api handler on DynamoDB Local: concurrent writers of one name (or first pages of one team) end with one winner, a
page reads the same few items however many integrations are stored, and tables written before the claims get them.

Concurrent requests go through separate copies of the handler (each Lambda container serves one request at a time).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from oncall.store import keys
from oncall.store.dynamodb import DynamoStore
from oncall.store.integrations import KEYED_STEP

from tests.integration.conftest import Call, Invoke, at_once

TAKEN = {"name": ["An integration with this name already exists in this team."]}


def _team(api: Invoke, name: str) -> str:
    status, team = api("POST", "/api/v1/teams/", {"name": name})
    assert status == 201, team
    return str(team["id"])


def _integrations(api: Invoke, **filters: str) -> list[dict[str, Any]]:
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    status, page = api("GET", "/api/v1/integrations/", query=query)
    assert status == 200, page
    return list(page["results"])


def test_concurrent_creates_of_one_name_in_one_team_make_one_integration(
    api: Invoke, containers: Callable[[int], list[Call]]
) -> None:
    team = _team(api, "db")
    body = {"name": "Racy", "type": "webhook", "team_id": team}
    answers = at_once(containers(6), [("POST", "/api/v1/integrations/", body)] * 6)
    assert sorted(status for status, _ in answers) == [201, 400, 400, 400, 400, 400]
    assert [errors for status, errors in answers if status == 400] == [TAKEN] * 5
    assert [i["name"] for i in _integrations(api, team_id=team)] == ["Racy"]
    # the same name in another team (or in none) is free
    assert api("POST", "/api/v1/integrations/", {"name": "Racy", "type": "webhook"})[0] == 201


def test_concurrent_renames_to_one_name_leave_one_holder(api: Invoke, containers: Callable[[int], list[Call]]) -> None:
    made = [api("POST", "/api/v1/integrations/", {"name": f"n{i}", "type": "webhook"})[1]["id"] for i in range(4)]
    answers = at_once(
        containers(4), [("PATCH", f"/api/v1/integrations/{made[i]}/", {"name": "Target"}) for i in range(4)]
    )
    assert sorted(status for status, _ in answers) == [200, 400, 400, 400]
    names = sorted(i["name"] for i in _integrations(api))
    assert names.count("Target") == 1 and len(names) == 4
    # the winner's old name is free again, the losers kept theirs
    winner = next(i for i in _integrations(api) if i["name"] == "Target")
    old = f"n{made.index(winner['id'])}"
    assert api("POST", "/api/v1/integrations/", {"name": old, "type": "webhook"})[0] == 201
    assert api("POST", "/api/v1/integrations/", {"name": "Target", "type": "webhook"}) == (400, TAKEN)


def test_names_follow_renames_team_moves_and_deletes(api: Invoke) -> None:
    ops, db = _team(api, "ops"), _team(api, "db")
    one = api("POST", "/api/v1/integrations/", {"name": "One", "type": "webhook", "team_id": ops})[1]
    assert api("POST", "/api/v1/integrations/", {"name": "One", "type": "webhook", "team_id": db})[0] == 201
    # "one" differs from "One": names compare exactly
    assert api("POST", "/api/v1/integrations/", {"name": "one", "type": "webhook", "team_id": ops})[0] == 201
    # moving to a team where the name is taken is refused, as OnCall checks the name in the team it ends up in
    assert api("PATCH", f"/api/v1/integrations/{one['id']}/", {"team_id": db}) == (400, TAKEN)
    assert api("PATCH", f"/api/v1/integrations/{one['id']}/", {"name": "Two", "team_id": db})[0] == 200
    # the name it left in ops is free; the one it took in db is not
    assert api("POST", "/api/v1/integrations/", {"name": "One", "type": "webhook", "team_id": ops})[0] == 201
    assert api("POST", "/api/v1/integrations/", {"name": "Two", "type": "webhook", "team_id": db}) == (400, TAKEN)
    # renaming to its own name changes nothing; deleting frees the name
    assert api("PATCH", f"/api/v1/integrations/{one['id']}/", {"name": "Two"})[0] == 200
    assert api("DELETE", f"/api/v1/integrations/{one['id']}/")[0] == 204
    assert api("POST", "/api/v1/integrations/", {"name": "Two", "type": "webhook", "team_id": db})[0] == 201


def test_concurrent_first_pages_of_a_team_make_one_paging_integration(
    api: Invoke, containers: Callable[[int], list[Call]]
) -> None:
    team = _team(api, "db")
    answers = at_once(containers(4), [("POST", "/api/v1/escalation/", {"team": team})] * 4)
    assert [status for status, _ in answers] == [200] * 4, answers
    paging = [i for i in _integrations(api, team_id=team) if i["type"] == "direct_paging"]
    assert len(paging) == 1
    assert {group["integration_id"] for _, group in answers} == {paging[0]["id"]}
    # with its two routes: the important one first, then the default
    status, routes = api("GET", "/api/v1/routes/", query=f"integration_id={paging[0]['id']}")
    assert status == 200 and [r["routing_regex"] for r in routes["results"]][:1] == ["{{ payload.oncall.important }}"]
    assert [r["is_the_last_route"] for r in routes["results"]] == [False, True]


class ItemsRead:
    """Items that DynamoDB returned to one client (GetItem, Query, BatchGetItem), counted from its responses."""

    def __init__(self, call: Call) -> None:
        self.count = 0
        client = call.module.container.store.table.client  # type: ignore[attr-defined]
        client.meta.events.register("after-call.dynamodb", self._seen)

    def _seen(self, parsed: dict[str, Any], **_: Any) -> None:
        self.count += len(parsed.get("Items", [])) + (1 if parsed.get("Item") else 0)
        self.count += sum(len(items) for items in parsed.get("Responses", {}).values())


def test_a_direct_page_reads_the_same_items_however_many_integrations_are_stored(
    api: Invoke, containers: Callable[[int], list[Call]]
) -> None:
    team = _team(api, "db")
    [pager] = containers(1)
    items = ItemsRead(pager)
    assert pager("POST", "/api/v1/escalation/", {"team": team})[0] == 200  # creates the paging integration

    def read_by_a_page() -> int:
        """The fewest items one of three pages read (the auth epoch is read at most once a second, so some pages
        read it and some do not)."""
        counts = []
        for _ in range(3):
            before = items.count
            status, group = pager("POST", "/api/v1/escalation/", {"team": team})
            assert status == 200, group
            counts.append(items.count - before)
        return min(counts)

    few = read_by_a_page()
    for i in range(40):
        assert api("POST", "/api/v1/integrations/", {"name": f"i{i}", "type": "webhook", "team_id": team})[0] == 201
    assert read_by_a_page() == few
    assert few <= 16  # the caller and its key, the team, the pointer, the integration (read twice), the group


def test_tables_written_before_name_claims_get_them_on_first_need(
    api: Invoke, store: DynamoStore, containers: Callable[[int], list[Call]]
) -> None:
    team = _team(api, "db")
    made = api("POST", "/api/v1/integrations/", {"name": "Old", "type": "webhook", "team_id": team})[1]
    status, group = api("POST", "/api/v1/escalation/", {"team": team})
    assert status == 200, group
    # as a table written before claims and pointers: none of them, no mark
    store.table.delete_item(keys.integration_name(team, "Old"))
    store.table.delete_item(keys.integration_name(team, "Direct paging (db team)"))
    store.table.delete_item(keys.paging_integration(team))
    store.table.delete_item(keys.layout_step(KEYED_STEP))

    creator, pager = containers(2)  # fresh containers: they have not seen the mark
    assert creator("POST", "/api/v1/integrations/", {"name": "Old", "type": "webhook", "team_id": team}) == (
        400,
        TAKEN,
    )
    status, again = pager("POST", "/api/v1/escalation/", {"team": team})
    assert status == 200 and again["integration_id"] == group["integration_id"]
    assert len([i for i in _integrations(api, team_id=team) if i["type"] == "direct_paging"]) == 1
    assert api("DELETE", f"/api/v1/integrations/{made['id']}/")[0] == 204
    assert api("POST", "/api/v1/integrations/", {"name": "Old", "type": "webhook", "team_id": team})[0] == 201


CHAIN_TAKEN = {"name": ["An object with this name already exists."]}


def test_concurrent_creates_of_one_chain_name_make_one_chain(
    api: Invoke, containers: Callable[[int], list[Call]]
) -> None:
    answers = at_once(containers(5), [("POST", "/api/v1/escalation_chains/", {"name": "On call"})] * 5)
    assert sorted(status for status, _ in answers) == [201, 400, 400, 400, 400]
    assert [errors for status, errors in answers if status == 400] == [CHAIN_TAKEN] * 4
    chain = next(body for status, body in answers if status == 201)
    assert [c["name"] for c in api("GET", "/api/v1/escalation_chains/")[1]["results"]] == ["On call"]
    # a rename frees the old name and takes the new one; a delete frees it
    assert api("PUT", f"/api/v1/escalation_chains/{chain['id']}/", {"name": "Primary"})[0] == 200
    assert api("POST", "/api/v1/escalation_chains/", {"name": "Primary"}) == (400, CHAIN_TAKEN)
    assert api("POST", "/api/v1/escalation_chains/", {"name": "On call"})[0] == 201
    assert api("DELETE", f"/api/v1/escalation_chains/{chain['id']}/")[0] == 204
    assert api("POST", "/api/v1/escalation_chains/", {"name": "Primary"})[0] == 201


def test_chains_stored_before_name_claims_keep_their_names(
    api: Invoke, store: DynamoStore, containers: Callable[[int], list[Call]]
) -> None:
    assert api("POST", "/api/v1/escalation_chains/", {"name": "Old"})[0] == 201
    store.table.delete_item(keys.entity_name(keys.CHAIN, "Old"))
    store.table.delete_item(keys.layout_step(f"{keys.CHAIN}_NAMES"))
    [fresh] = containers(1)
    assert fresh("POST", "/api/v1/escalation_chains/", {"name": "Old"}) == (400, CHAIN_TAKEN)


def test_final_shifts_read_the_people_on_call_not_everyone(
    api: Invoke, containers: Callable[[int], list[Call]]
) -> None:
    status, alice = api("POST", "/api/v1/users/", {"username": "alice", "email": "alice@example.com"})
    assert status == 201, alice
    status, schedule = api("POST", "/api/v1/schedules/", {"name": "Primary", "type": "calendar", "time_zone": "UTC"})
    assert status == 201, schedule
    shift = {
        "schedule_id": schedule["id"],
        "name": "Days",
        "type": "single_event",
        "start": "2030-01-01T08:00:00",
        "duration": 8 * 3600,
        "time_zone": "UTC",
        "users": [alice["id"]],
    }
    assert api("POST", "/api/v1/on_call_shifts/", shift)[0] == 201
    [reader] = containers(1)
    items = ItemsRead(reader)
    path = f"/api/v1/schedules/{schedule['id']}/final_shifts"

    def read_by_final_shifts() -> int:
        counts = []
        for _ in range(3):
            before = items.count
            status, shifts = reader("GET", path, None, "start_date=2030-01-01&end_date=2030-01-01")
            assert status == 200, shifts
            assert [row["user_username"] for row in shifts["results"]] == ["alice"]
            counts.append(items.count - before)
        return min(counts)

    few = read_by_final_shifts()
    for i in range(30):
        assert api("POST", "/api/v1/users/", {"username": f"u{i}"})[0] == 201
    assert read_by_final_shifts() == few
