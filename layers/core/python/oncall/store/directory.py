"""People and what escalation uses: users, teams, notification rules, escalation chains and their steps, outgoing
webhooks, on-call schedules and their shifts. Each an entity ``<kind>#<id>`` / ``META`` listed in a GSI1
collection (see :mod:`oncall.store.schema`)."""

from __future__ import annotations

from oncall.directory import EscalationChain, EscalationPolicy, NotificationRule, Team, User
from oncall.schedules.models import OnCallShift, Schedule
from oncall.store import keys
from oncall.store.entities import Collection, EntityStore, M, NamedCollection
from oncall.store.epoch import DynamoAuthEpoch
from oncall.store.table import Table


class Principals(NamedCollection[M]):
    """What credentials resolve to (a user's role and teams, the teams themselves), each with a unique name (a
    user's username): every write bumps the auth epoch after it, so a demotion, a deletion or a membership change
    reaches every container's caches at once."""

    def __init__(
        self, table: Table, kind: str, model: type[M], collection: str, name_field: str, epoch: DynamoAuthEpoch
    ) -> None:
        super().__init__(table, kind, model, collection, name_field)
        self.epoch = epoch

    def put(self, entity: M, *, new: bool = False) -> None:
        super().put(entity, new=new)
        self.epoch.bump()

    def delete(self, entity_id: str) -> None:
        super().delete(entity_id)
        self.epoch.bump()


def users(table: Table, epoch: DynamoAuthEpoch) -> Principals[User]:
    """Users, whose usernames are unique (OnCall: per organization)."""
    return Principals(table, keys.USER, User, keys.USERS, "username", epoch)


def teams(table: Table, epoch: DynamoAuthEpoch) -> Principals[Team]:
    """Teams, whose names are unique (OnCall: per organization)."""
    return Principals(table, keys.TEAM, Team, keys.TEAMS, "name", epoch)


def chains(table: Table) -> NamedCollection[EscalationChain]:
    """Chains, whose names are unique (OnCall: per organization)."""
    return NamedCollection(table, keys.CHAIN, EscalationChain, keys.CHAINS)


def schedules(table: Table) -> Collection[Schedule]:
    return Collection(table, keys.SCHEDULE, Schedule, keys.SCHEDULES, lambda s: s.name.lower())


class DynamoNotificationRules(EntityStore[NotificationRule]):
    """A person's rules, listed per person: default ones first, then important ones, each by position."""

    def __init__(self, table: Table) -> None:
        super().__init__(
            table,
            keys.RULE,
            NotificationRule,
            lambda r: keys.rules_of(r.user_id),
            lambda r: f"{int(r.important)}#{r.position:06d}#{r.id}",
        )

    def of_user(self, user_id: str) -> list[NotificationRule]:
        return self.listed(keys.rules_of(user_id))


class DynamoPolicies(EntityStore[EscalationPolicy]):
    """The steps of escalation chains, listed per chain by position."""

    def __init__(self, table: Table) -> None:
        super().__init__(
            table,
            keys.POLICY,
            EscalationPolicy,
            lambda p: keys.policies_of(p.escalation_chain_id),
            lambda p: f"{p.position:06d}#{p.id}",
        )

    def of_chain(self, chain_id: str) -> list[EscalationPolicy]:
        return sorted(self.listed(keys.policies_of(chain_id)), key=lambda p: p.position)

    def next_turn(self, policy_id: str) -> int:
        response = self.table.call(
            "update_item",
            Key=self.table.item(keys.entity(keys.POLICY, policy_id)),
            UpdateExpression="ADD turn :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="UPDATED_NEW",
        )
        return int(response["Attributes"]["turn"]["N"]) - 1


class DynamoShifts(EntityStore[OnCallShift]):
    """On-call shifts, listed per schedule by level, then start."""

    def __init__(self, table: Table) -> None:
        super().__init__(
            table,
            keys.SHIFT,
            OnCallShift,
            lambda s: keys.shifts_of(s.schedule_id),
            lambda s: f"{s.level + 1_000_000:08d}#{s.start.isoformat()}#{s.id}",
        )

    def of_schedule(self, schedule_id: str | None) -> list[OnCallShift]:
        return self.listed(keys.shifts_of(schedule_id))
