"""Why nobody would be notified: the warnings the use cases attach to integrations, routes, alert groups and pages.

An alert that notifies nobody is the worst failure of an on-call tool, and the quietest: a new integration's
default route has no escalation chain, a chain has no step that notifies anyone, a person has no address for the
channels of their notification rules. Each is a configuration the API accepts (OnCall does too), so instead of
refusing it the use cases say what is wrong, in words a responder understands, wherever the configuration shows.

:class:`Checker` reads what it needs once per request (chains, their steps, people and their rules), so a listing
pays a handful of reads, not a handful per item.
"""

from __future__ import annotations

from functools import cached_property
from typing import Final

from oncall.directory import EscalationChain, EscalationPolicy, User
from oncall.models import AlertGroup, Route
from oncall.ports import Store

NO_CHAIN: Final = "no escalation chain: nobody is notified"
NOTIFYING_STEPS: Final = frozenset(
    {"notify_persons", "notify_person_next_each_time", "notify_on_call_from_schedule", "notify_team_members"}
)


def no_contact_point(user: User) -> str:
    return f"user {user.username} has no contact point: they are not notified"


class Checker:
    """The warnings of one request's answers (reads cached for the request)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._chains: dict[str, list[str]] = {}
        self._users: dict[tuple[str, bool], list[str]] = {}

    @cached_property
    def _people(self) -> dict[str, User]:
        return {u.id: u for u in self.store.users.list()}

    def user(self, user: User, important: bool = False) -> list[str]:
        """A person none of whose notification rules (of that importance) has an address to send to."""
        key = (user.id, important)
        if key not in self._users:
            from oncall.escalation import rules_for

            channels = {r["channel"] for r in rules_for(self.store, user, important) if r["type"] == "notify"}
            reachable = any(user.contact(channel) for channel in channels if channel)
            self._users[key] = [] if reachable else [no_contact_point(user)]
        return self._users[key]

    def _step(self, step: EscalationPolicy) -> tuple[bool, list[str]]:
        """Whether ``step`` notifies someone, and the warnings about the people it names."""
        if step.type in ("notify_persons", "notify_person_next_each_time"):
            ids = step.persons_to_notify if step.type == "notify_persons" else step.persons_to_notify_next_each_time
            people = [self._people[i] for i in ids if i in self._people]
            return bool(people), [w for person in people for w in self.user(person, step.important)]
        if step.type == "notify_team_members":
            members = [u for u in self._people.values() if step.team_to_notify and step.team_to_notify in u.teams]
            return bool(members), [w for person in members for w in self.user(person, step.important)]
        if step.type == "notify_on_call_from_schedule":  # who is on call changes: the schedule's page tells
            return bool(step.notify_on_call_from_schedule), []
        return False, []

    def chain(self, chain_id: str | None) -> list[str]:
        if chain_id is None:
            return [NO_CHAIN]
        if chain_id not in self._chains:
            chain = self.store.chains.get(chain_id)
            self._chains[chain_id] = self._of_chain(chain) if chain else [NO_CHAIN]
        return self._chains[chain_id]

    def _of_chain(self, chain: EscalationChain) -> list[str]:
        notifies, warnings = False, []
        for step in self.store.policies.of_chain(chain.id):
            if step.type in NOTIFYING_STEPS:
                step_notifies, step_warnings = self._step(step)
                notifies |= step_notifies
                warnings += step_warnings
        if not notifies:
            return [f"escalation chain {chain.name} has no step that notifies anyone: nobody is notified"]
        return list(dict.fromkeys(warnings))

    def route(self, route: Route) -> list[str]:
        if route.escalation_chain_id is None and not route.is_default:
            return [f"route #{route.position + 1} has no escalation chain: the alerts it matches notify nobody"]
        return self.chain(route.escalation_chain_id)

    def routes(self, routes: list[Route]) -> list[str]:
        """An integration's warnings: those of each route (the default route's as is, the others' named)."""
        found: list[str] = []
        for route in routes:
            for warning in self.route(route):
                if warning not in found:
                    found.append(warning)
        return found

    def group(self, group: AlertGroup, integration_type: str | None) -> list[str]:
        """A group escalates by the chain its route had when it was created; a direct page of people has none
        (its people are the page: :meth:`user` speaks for them)."""
        if integration_type == "direct_paging" and group.escalation_chain_id is None:
            return []
        if group.resolved or group.is_maintenance:
            return []
        return self.chain(group.escalation_chain_id)
