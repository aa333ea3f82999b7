"""Use cases of escalation chains and their steps (OnCall's escalation policies).

Everyone reads every chain; editors change the chains of their teams or of no team (admins: all), and moving a
chain to another team needs the right in both. A step belongs to its chain's team: adding, changing, moving or
deleting one is changing the chain (:mod:`oncall.services.policy`). Deleting a chain deletes its steps and leaves
the routes that used it without a chain, as OnCall does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Final

from oncall import ids
from oncall.directory import EscalationChain, EscalationPolicy, StepType
from oncall.errors import NotFound
from oncall.schemas import ChainIn, ChainPatch, PolicyIn, PolicyPatch
from oncall.services import Ports, naming, ordering
from oncall.services.patching import patched
from oncall.services.policy import Action, Principal, Resource, authorize, existing
from oncall.services.references import require_known

DEFAULT_WAIT_SECONDS: Final = 300

# The fields each step type uses, besides its id, chain, position and type (OnCall returns only those).
STEP_FIELDS: Final[Mapping[StepType, tuple[str, ...]]] = {
    "wait": ("duration",),
    "notify_persons": ("persons_to_notify", "important"),
    "notify_person_next_each_time": ("persons_to_notify_next_each_time", "important"),
    "notify_on_call_from_schedule": ("notify_on_call_from_schedule", "important"),
    "notify_team_members": ("team_to_notify", "important"),
    "trigger_webhook": ("action_to_trigger",),
    "resolve": (),
    "notify_if_time_from_to": ("notify_if_time_from", "notify_if_time_to"),
    "notify_if_num_alerts_in_window": ("num_alerts_in_window", "num_minutes_in_window"),
    "repeat_escalation": (),
}
_ORDER_FIELDS: Final = ("position", "manual_order")  # placement, not stored fields of a step


# --- chains -------------------------------------------------------------------------------------------------------


def list_chains(ports: Ports, caller: Principal, *, name: str | None = None) -> list[EscalationChain]:
    authorize(caller, Resource.ESCALATION_CHAINS, Action.READ)
    return list(naming.filtered(ports.store.chains, name, lambda c: c.name))


def get_chain(ports: Ports, caller: Principal, chain_id: str) -> EscalationChain:
    authorize(caller, Resource.ESCALATION_CHAINS, Action.READ)
    chain = ports.store.chains.get(chain_id)
    if chain is None:
        raise NotFound()
    return chain


def _chain_for_change(ports: Ports, caller: Principal, chain_id: str, action: Action) -> EscalationChain:
    """The chain, once the caller may do ``action`` to it (a step's change is the chain's update)."""
    chain = existing(ports.store.chains.get(chain_id), caller, Resource.ESCALATION_CHAINS, action)
    authorize(caller, Resource.ESCALATION_CHAINS, action, teams=[chain.team_id])
    return chain


def create_chain(ports: Ports, caller: Principal, body: ChainIn) -> EscalationChain:
    authorize(caller, Resource.ESCALATION_CHAINS, Action.CREATE, teams=[body.team_id])
    naming.check(ports.store.chains, body.name)
    require_known("team_id", [body.team_id], ports.store.teams.get)
    chain = EscalationChain(id=ids.new_id(ids.ESCALATION_CHAIN), name=body.name, team_id=body.team_id)
    naming.put(ports.store.chains, chain, new=True)
    return chain


def update_chain(ports: Ports, caller: Principal, chain_id: str, body: ChainPatch) -> EscalationChain:
    chain = _chain_for_change(ports, caller, chain_id, Action.UPDATE)
    if "team_id" in body.model_fields_set:  # moving it: the caller needs the right in the new team too
        authorize(caller, Resource.ESCALATION_CHAINS, Action.UPDATE, teams=[body.team_id])
    changed = patched(chain, body)
    if changed.name != chain.name:
        naming.check(ports.store.chains, changed.name, exclude=chain.id)
    if changed.team_id != chain.team_id:
        require_known("team_id", [changed.team_id], ports.store.teams.get)
    naming.put(ports.store.chains, changed)
    return changed


def delete_chain(ports: Ports, caller: Principal, chain_id: str) -> EscalationChain:
    """The chain as it was; its steps go with it, and the routes that used it are left without a chain."""
    chain = _chain_for_change(ports, caller, chain_id, Action.DELETE)
    for route in ports.store.integrations.routes():
        if route.escalation_chain_id == chain_id:
            unrouted = replace(route, escalation_chain_id=None)
            ports.store.integrations.save_routes(route.integration_id, [unrouted])
    for policy in ports.store.policies.of_chain(chain_id):
        ports.store.policies.delete(policy.id)
    ports.store.chains.delete(chain_id)
    return chain


# --- steps (escalation policies) ------------------------------------------------------------------------------------


def list_policies(ports: Ports, caller: Principal, *, chain_id: str | None = None) -> list[EscalationPolicy]:
    """The steps of one chain, or of every chain (chain by chain, each in order)."""
    authorize(caller, Resource.ESCALATION_CHAINS, Action.READ)
    chains = [chain_id] if chain_id else [c.id for c in ports.store.chains.list()]
    return [p for cid in chains for p in ports.store.policies.of_chain(cid)]


def get_policy(ports: Ports, caller: Principal, policy_id: str) -> EscalationPolicy:
    authorize(caller, Resource.ESCALATION_CHAINS, Action.READ)
    policy = ports.store.policies.get(policy_id)
    if policy is None:
        raise NotFound()
    return policy


def _policy_for_change(ports: Ports, caller: Principal, policy_id: str, chain_id: str | None) -> EscalationPolicy:
    """The step, once the caller may change its chain; ``chain_id``: only a step of that chain (a form's address)."""
    policy = existing(ports.store.policies.get(policy_id), caller, Resource.ESCALATION_CHAINS, Action.UPDATE)
    chain = ports.store.chains.get(policy.escalation_chain_id)
    authorize(caller, Resource.ESCALATION_CHAINS, Action.UPDATE, teams=[chain.team_id if chain else None])
    if chain_id is not None and policy.escalation_chain_id != chain_id:
        raise NotFound()
    return policy


def _one_queue(policy: EscalationPolicy, given: set[str]) -> EscalationPolicy:
    """OnCall keeps one list of persons for both person steps, so either field of a request names it (its Terraform
    provider sends ``persons_to_notify`` for a ``notify_person_next_each_time`` step): the list goes to the type's
    field, the type's own field winning when both are ``given``."""
    own = {"notify_persons": "persons_to_notify", "notify_person_next_each_time": "persons_to_notify_next_each_time"}
    field = own.get(policy.type)
    other = "persons_to_notify_next_each_time" if field == "persons_to_notify" else "persons_to_notify"
    if field is None or field in given or other not in given:
        return policy
    return policy.model_copy(update={field: getattr(policy, other), other: []})


def _check_policy(ports: Ports, policy: EscalationPolicy) -> None:
    """What it names exists. A step may lack what its type needs (a person, a schedule): OnCall saves those too,
    and the escalation skips them with a line on the timeline (:meth:`EscalationPolicy.unconfigured`)."""
    store = ports.store
    require_known("persons_to_notify", policy.persons_to_notify, store.users.get)
    require_known("persons_to_notify_next_each_time", policy.persons_to_notify_next_each_time, store.users.get)
    require_known("team_to_notify", [policy.team_to_notify], store.teams.get)
    require_known("action_to_trigger", [policy.action_to_trigger], store.webhooks.get)
    require_known("notify_on_call_from_schedule", [policy.notify_on_call_from_schedule], store.schedules.get)


def _place(ports: Ports, policy: EscalationPolicy, position: int | None, *, swap: bool = False) -> EscalationPolicy:
    """Store ``policy`` at ``position`` of its chain (last when None), renumbering the steps after it, or trading
    places with the step there (``swap``: OnCall's ``manual_order``)."""
    chain = ports.store.policies.of_chain(policy.escalation_chain_id)
    siblings = [p for p in chain if p.id != policy.id]
    ordered = ordering.renumber(chain, policy, position, swap=swap)
    for step in ordering.changed(siblings, ordered):
        ports.store.policies.put(step)
    return next(p for p in ordered if p.id == policy.id)


def create_policy(ports: Ports, caller: Principal, body: PolicyIn) -> EscalationPolicy:
    _chain_for_change(ports, caller, body.escalation_chain_id, Action.UPDATE)
    fields = body.model_dump(exclude=set(_ORDER_FIELDS), exclude_none=True)
    policy = EscalationPolicy(id=ids.new_id(ids.ESCALATION_POLICY), **fields)
    if policy.type == "wait" and policy.duration is None:
        policy = policy.model_copy(update={"duration": DEFAULT_WAIT_SECONDS})
    policy = _one_queue(policy, body.model_fields_set)
    _check_policy(ports, policy)
    return _place(ports, policy, body.position, swap=bool(body.manual_order))


def update_policy(ports: Ports, caller: Principal, policy_id: str, body: PolicyPatch) -> EscalationPolicy:
    policy = _policy_for_change(ports, caller, policy_id, None)
    changed = _one_queue(patched(policy, body, skip=_ORDER_FIELDS), body.model_fields_set)
    _check_policy(ports, changed)
    if body.position is None:
        return _place(ports, changed, policy.position)
    return _place(ports, changed, body.position, swap=bool(body.manual_order))


def move_policy(
    ports: Ports, caller: Principal, policy_id: str, offset: int, *, chain_id: str | None = None
) -> EscalationPolicy | None:
    """Move a step ``offset`` places (-1: up one); None when that would take it out of its chain (it stays)."""
    policy = _policy_for_change(ports, caller, policy_id, chain_id)
    others = [p for p in ports.store.policies.of_chain(policy.escalation_chain_id) if p.id != policy.id]
    position = sum(1 for p in others if p.position < policy.position) + offset
    if not 0 <= position <= len(others):
        return None
    return _place(ports, policy, position)


def delete_policy(ports: Ports, caller: Principal, policy_id: str, *, chain_id: str | None = None) -> None:
    policy = _policy_for_change(ports, caller, policy_id, chain_id)
    ports.store.policies.delete(policy_id)
    siblings = ports.store.policies.of_chain(policy.escalation_chain_id)
    for step in ordering.changed(siblings, ordering.renumber(siblings)):
        ports.store.policies.put(step)
