"""Use cases of personal notification rules: the ordered steps (notify by e-mail, SMS or webhook, or wait) that
escalation follows when it notifies a person, one list for default and one for important notifications.

Everyone reads every rule; editors change their own, admins anyone's (:mod:`oncall.services.policy`).
"""

from __future__ import annotations

from typing import Any, Final

from oncall import ids
from oncall.directory import NotificationRule
from oncall.errors import NotFound
from oncall.escalation import DEFAULT_WAIT_SECONDS
from oncall.schemas import NotificationRuleIn, NotificationRulePatch, RuleType
from oncall.services import Ports
from oncall.services.policy import Action, Principal, Resource, authorize

# OnCall's rule type -> the channel it notifies on
CHANNELS: Final = {
    "notify_by_email": "email",
    "notify_by_sms": "sms",
    "notify_by_phone_call": "phone_call",
    "notify_by_webhook": "webhook",
}


def kind(rule: NotificationRule) -> str:
    """The rule's OnCall type: ``wait``, ``notify_by_email``, ``notify_by_sms``, ``notify_by_phone_call`` or
    ``notify_by_webhook``."""
    return "wait" if rule.type == "wait" else f"notify_by_{rule.channel}"


def _fields(rule_type: RuleType | str, duration: int | None) -> dict[str, Any]:
    if rule_type == "wait":
        return {"type": "wait", "channel": None, "duration": duration or DEFAULT_WAIT_SECONDS}
    return {"type": "notify", "channel": CHANNELS[rule_type], "duration": None}


def _rule(ports: Ports, rule_id: str) -> NotificationRule:
    rule = ports.store.rules.get(rule_id)
    if rule is None:
        raise NotFound()
    return rule


def _changeable(ports: Ports, caller: Principal, rule_id: str, action: Action) -> NotificationRule:
    """The rule, once the caller may ``action`` it. An unknown one is 404 for those who may do it to their own rules,
    403 for the rest (as for a rule that exists)."""
    rule = ports.store.rules.get(rule_id)
    authorize(caller, Resource.NOTIFICATION_RULES, action, owner=caller.user_id if rule is None else rule.user_id)
    if rule is None:
        raise NotFound()
    return rule


def _siblings(ports: Ports, rule: NotificationRule) -> list[NotificationRule]:
    """The rules of the same list (the user's default or important ones)."""
    return [r for r in ports.store.rules.of_user(rule.user_id) if r.important == rule.important]


def _renumber(
    rules: list[NotificationRule], moved: NotificationRule | None, position: int | None
) -> list[NotificationRule]:
    """Positions 0..n-1 with ``moved`` placed at ``position`` (appended when None)."""
    ordered = sorted((r for r in rules if moved is None or r.id != moved.id), key=lambda r: r.position)
    if moved is not None:
        ordered.insert(len(ordered) if position is None else min(position, len(ordered)), moved)
    return [r.model_copy(update={"position": n}) for n, r in enumerate(ordered)]


def _save_ordered(ports: Ports, before: list[NotificationRule], after: list[NotificationRule]) -> None:
    """Write the rules that are new or moved."""
    old = {r.id: r.position for r in before}
    for rule in after:
        if old.get(rule.id) != rule.position or rule.id not in old:
            ports.store.rules.put(rule)


def list_rules(
    ports: Ports, caller: Principal, *, user_id: str | None = None, important: bool | None = None
) -> list[NotificationRule]:
    """Rules of one user or of everyone: each user's default ones first, then important ones, each in order."""
    authorize(caller, Resource.NOTIFICATION_RULES, Action.READ)
    users = [user_id] if user_id else [u.id for u in ports.store.users.list()]
    rules = [r for uid in users for r in ports.store.rules.of_user(uid)]
    return [r for r in rules if important is None or r.important == important]


def get_rule(ports: Ports, caller: Principal, rule_id: str) -> NotificationRule:
    authorize(caller, Resource.NOTIFICATION_RULES, Action.READ)
    return _rule(ports, rule_id)


def create_rule(ports: Ports, caller: Principal, body: NotificationRuleIn) -> NotificationRule:
    authorize(caller, Resource.NOTIFICATION_RULES, Action.CREATE, owner=body.user_id)
    if ports.store.users.get(body.user_id) is None:
        raise NotFound()
    rule = NotificationRule(
        id=ids.new_id(ids.NOTIFICATION_RULE),
        user_id=body.user_id,
        important=body.important,
        **_fields(body.type, body.duration),
    )
    siblings = _siblings(ports, rule)
    ordered = _renumber(siblings, rule, body.position)
    _save_ordered(ports, siblings, ordered)
    return next(r for r in ordered if r.id == rule.id)


def update_rule(ports: Ports, caller: Principal, rule_id: str, body: NotificationRulePatch) -> NotificationRule:
    """Change a rule's type or wait, or move it in its list (``position``)."""
    rule = _changeable(ports, caller, rule_id, Action.UPDATE)
    if body.type is not None or body.duration is not None:
        duration = body.duration if body.duration is not None else rule.duration
        rule = rule.model_copy(update=_fields(body.type or kind(rule), duration))
    siblings = _siblings(ports, rule)
    ordered = _renumber(siblings, rule, body.position if body.position is not None else rule.position)
    _save_ordered(ports, [s for s in siblings if s.id != rule.id], ordered)
    return next(r for r in ordered if r.id == rule.id)


def move_rule(ports: Ports, caller: Principal, rule_id: str, by: int) -> bool:
    """Move a rule ``by`` places in its list (-1: up, 1: down); False if it is already first or last."""
    rule = _changeable(ports, caller, rule_id, Action.UPDATE)
    siblings = sorted(_siblings(ports, rule), key=lambda r: r.position)
    position = [r.id for r in siblings].index(rule.id) + by
    if not 0 <= position < len(siblings):
        return False
    _save_ordered(ports, siblings, _renumber(siblings, rule, position))
    return True


def delete_rule(ports: Ports, caller: Principal, rule_id: str) -> None:
    rule = _changeable(ports, caller, rule_id, Action.DELETE)
    ports.store.rules.delete(rule_id)
    siblings = _siblings(ports, rule)
    _save_ordered(ports, siblings, _renumber(siblings, None, None))
