"""Team names, usernames and outgoing webhook names are unique (exact match), as in OnCall, through the real api
handler on DynamoDB Local: each name is claimed by an item written with its entity, so concurrent writers of one
name end with one winner and the others get OnCall's 400; renames and deletes free names; tables written before the
claims get them on first need.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from oncall.bootstrap import ADMIN_USER_ID, ensure_admin
from oncall.directory import Team, User
from oncall.errors import Conflict
from oncall.store import keys
from oncall.store.dynamodb import DynamoStore

from tests.integration.conftest import Call, Invoke, at_once


@dataclass(frozen=True)
class Kind:
    path: str
    field: str  # the unique one
    key_kind: str  # its claims' kind (keys.TEAM...)
    extra: dict[str, Any]  # what else a create needs

    def body(self, name: str) -> dict[str, Any]:
        return {self.field: name, **self.extra}

    @property
    def taken(self) -> dict[str, list[str]]:
        return {self.field: [f"An object with this {self.field} already exists."]}


KINDS = {
    "team": Kind("/api/v1/teams/", "name", keys.TEAM, {}),
    "user": Kind("/api/v1/users/", "username", keys.USER, {"role": "viewer"}),
    "webhook": Kind("/api/v1/webhooks/", "name", keys.WEBHOOK, {"url": "https://hooks.example/x"}),
}


@pytest.fixture(params=list(KINDS))
def kind(request: pytest.FixtureRequest) -> Kind:
    return KINDS[request.param]


def create(api: Invoke, kind: Kind, name: str) -> str:
    status, made = api("POST", kind.path, kind.body(name))
    assert status == 201, made
    return str(made["id"])


def names(api: Invoke, kind: Kind) -> list[str]:
    status, page = api("GET", kind.path)
    assert status == 200, page
    return sorted(str(entity[kind.field]) for entity in page["results"])


def found(api: Invoke, kind: Kind, name: str) -> list[str]:
    """The ids the list filter (``?name=``, ``?username=``: how Terraform's data sources look one up) answers."""
    status, page = api("GET", kind.path, query=urlencode({kind.field: name}))
    assert status == 200, page
    return [str(entity["id"]) for entity in page["results"]]


def test_concurrent_creates_of_one_name_make_one(
    api: Invoke, kind: Kind, containers: Callable[[int], list[Call]]
) -> None:
    before = names(api, kind)
    answers = at_once(containers(6), [("POST", kind.path, kind.body("racy"))] * 6)
    assert sorted(status for status, _ in answers) == [201, 400, 400, 400, 400, 400]
    assert [errors for status, errors in answers if status == 400] == [kind.taken] * 5
    assert names(api, kind) == sorted([*before, "racy"])


def test_concurrent_renames_to_one_name_leave_one_holder(
    api: Invoke, kind: Kind, containers: Callable[[int], list[Call]]
) -> None:
    made = [create(api, kind, f"n{i}") for i in range(4)]
    renames = [("PATCH", f"{kind.path}{made[i]}/", {kind.field: "target"}) for i in range(4)]
    answers = at_once(containers(4), renames)
    assert sorted(status for status, _ in answers) == [200, 400, 400, 400]
    assert [errors for status, errors in answers if status == 400] == [kind.taken] * 3
    winner = made[next(i for i, (status, _) in enumerate(answers) if status == 200)]
    ours = [n for n in names(api, kind) if n == "target" or n.startswith("n")]
    assert ours == sorted(["target", *(f"n{i}" for i, m in enumerate(made) if m != winner)])
    # the winner's old name is free again; the new one is held
    create(api, kind, f"n{made.index(winner)}")
    assert api("POST", kind.path, kind.body("target")) == (400, kind.taken)


def test_names_follow_renames_and_deletes(api: Invoke, kind: Kind) -> None:
    first, second = create(api, kind, "first"), create(api, kind, "second")
    assert api("PUT", f"{kind.path}{second}/", {kind.field: "first"}) == (400, kind.taken)
    assert api("GET", f"{kind.path}{second}/")[1][kind.field] == "second"  # the refused rename changed nothing
    assert api("GET", f"{kind.path}{first}/")[1][kind.field] == "first"
    assert found(api, kind, "first") == [first]
    assert found(api, kind, "") == found(api, kind, "x" * 5000) == []  # no stored name, nor a claim key: nothing
    assert api("PATCH", f"{kind.path}{first}/", {kind.field: "renamed"})[0] == 200
    assert api("POST", kind.path, kind.body("renamed")) == (400, kind.taken)
    assert (found(api, kind, "first"), found(api, kind, "renamed")) == ([], [first])  # the filter follows renames
    create(api, kind, "first")  # freed by the rename
    assert api("DELETE", f"{kind.path}{first}/")[0] == 204
    assert found(api, kind, "renamed") == []
    renamed = create(api, kind, "renamed")  # freed by the delete
    assert found(api, kind, "renamed") == [renamed]
    # exact match, as OnCall compares them: another case is another name
    upper = create(api, kind, "SECOND")
    assert [found(api, kind, name) for name in ("second", "SECOND", "Second")] == [[second], [upper], []]
    # a change that keeps the name is no rename
    assert api("PATCH", f"{kind.path}{second}/", {kind.field: "second"})[0] == 200


def test_tables_written_before_name_claims_still_refuse_a_taken_name(
    api: Invoke, store: DynamoStore, kind: Kind, containers: Callable[[int], list[Call]]
) -> None:
    old = create(api, kind, "old")
    other = create(api, kind, "other")
    for name in ("old", "other", *(["admin"] if kind.key_kind == keys.USER else [])):
        store.table.delete_item(keys.entity_name(kind.key_kind, name))
    store.table.delete_item(keys.layout_step(f"{kind.key_kind}_NAMES"))
    fresh, later = containers(2)  # fresh containers: they have not seen the mark
    assert fresh("POST", kind.path, kind.body("old")) == (400, kind.taken)
    assert later("PATCH", f"{kind.path}{other}/", {kind.field: "old"}) == (400, kind.taken)
    assert later("DELETE", f"{kind.path}{old}/")[0] == 204  # its claim, made on first need, goes with it
    create(api, kind, "old")


def test_tables_written_before_name_claims_still_find_by_name(
    api: Invoke, store: DynamoStore, kind: Kind, containers: Callable[[int], list[Call]]
) -> None:
    held = create(api, kind, "held")
    store.table.delete_item(keys.entity_name(kind.key_kind, "held"))
    store.table.delete_item(keys.layout_step(f"{kind.key_kind}_NAMES"))
    (fresh,) = containers(1)
    status, page = fresh("GET", kind.path, query=urlencode({kind.field: "held"}))
    assert (status, [entity["id"] for entity in page["results"]]) == (200, [held])


def test_edits_racing_renames_leave_every_claim_with_its_holder(store: DynamoStore) -> None:
    """An edit that keeps the name (a new e-mail) racing a rename: the store writes either over the name it read or
    not at all (409), so the entity ends holding the claim of its name and no other name stays taken."""
    teams = store.teams
    team = Team(id="TRACE", name="r0")
    teams.put(team, new=True)

    def rename(name: str) -> None:
        with suppress(Conflict):
            teams.put(team.model_copy(update={"name": name}))

    def edit(email: str) -> None:
        with suppress(Conflict):
            current = teams.get(team.id)
            assert current is not None
            teams.put(current.model_copy(update={"email": email}))

    for round_ in range(1, 16):
        with ThreadPoolExecutor(4) as pool:
            jobs = [pool.submit(rename, f"r{round_}{s}") for s in "ab"]
            jobs += [pool.submit(edit, f"{round_}@{s}.example") for s in "ab"]
        for job in jobs:
            job.result()
    final = teams.get(team.id)
    assert final is not None
    assert teams.holder(final.name) == team.id
    others = ["r0", *(f"r{i}{s}" for i in range(1, 16) for s in "ab")]
    assert [n for n in others if n != final.name and teams.holder(n) is not None] == []


def test_duplicates_from_before_claims_can_be_renamed_and_deleted(store: DynamoStore) -> None:
    """Two teams with one name (written before claims): the first listed holds it; the other is renamed or deleted
    without taking the claim along."""
    teams = store.teams
    for team_id in ("T1", "T2"):
        teams.table.put_item(
            {
                **Team(id=team_id, name="dup").model_dump(mode="json", exclude_none=True),
                **keys.entity(keys.TEAM, team_id),
                "GSI1PK": keys.TEAMS,
                "GSI1SK": f"dup#{team_id}",
            }
        )
    holder = teams.holder("dup")
    assert holder == "T1"
    teams.put(Team(id="T2", name="T2 again"))
    assert teams.holder("dup") == "T1" and teams.holder("T2 again") == "T2"
    teams.delete("T2")
    teams.delete("T1")
    assert teams.holder("dup") is None and teams.holder("T2 again") is None


def test_the_bootstrap_admin_takes_a_free_name(store: DynamoStore) -> None:
    assert ensure_admin(store).username == "admin"
    assert ensure_admin(store).username == "admin"  # idempotent
    store.users.put(User(id="UOTHER", username="other-admin", role="admin"), new=True)
    store.users.delete(ADMIN_USER_ID)
    store.users.put(User(id="UOTHER", username="admin", role="admin"))  # the name is taken meanwhile
    admin = ensure_admin(store)
    assert (admin.id, admin.username) == (ADMIN_USER_ID, "admin-2")
    assert store.users.holder("admin") == "UOTHER"
