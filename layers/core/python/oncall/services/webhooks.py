"""Use cases of outgoing webhooks: what an escalation step (``trigger_webhook``) calls.

Everyone reads every webhook; editors change those of their teams or of no team (admins: all), and moving a
webhook to another team needs the right in both (:mod:`oncall.services.policy`). Its URL and headers were checked
by the request model (:mod:`oncall.schemas`): a public https URL, headers that are valid HTTP fields.
"""

from __future__ import annotations

from oncall import ids
from oncall.errors import InvalidInput, NotFound
from oncall.models import OutgoingWebhook
from oncall.schemas import WebhookIn, WebhookPatch
from oncall.services import Ports
from oncall.services.patching import patched
from oncall.services.policy import Action, Principal, Resource, authorize


def _unique_name(ports: Ports, name: str, exclude: str | None = None) -> None:
    if any(w.name == name and w.id != exclude for w in ports.store.webhooks.list()):
        raise InvalidInput.field("name", "An object with this name already exists.")


def _known_team(ports: Ports, team_id: str | None) -> None:
    if team_id and ports.store.teams.get(team_id) is None:
        raise InvalidInput.field("team_id", f"Unknown ids: {team_id}")


def list_webhooks(ports: Ports, caller: Principal, *, name: str | None = None) -> list[OutgoingWebhook]:
    authorize(caller, Resource.WEBHOOKS, Action.READ)
    return [w for w in ports.store.webhooks.list() if name is None or w.name == name]


def get_webhook(ports: Ports, caller: Principal, webhook_id: str) -> OutgoingWebhook:
    authorize(caller, Resource.WEBHOOKS, Action.READ)
    hook = ports.store.webhooks.get(webhook_id)
    if hook is None:
        raise NotFound()
    return hook


def _for_change(ports: Ports, caller: Principal, webhook_id: str, action: Action) -> OutgoingWebhook:
    hook = ports.store.webhooks.get(webhook_id)
    if hook is None:
        authorize(caller, Resource.WEBHOOKS, action)  # who may not change webhooks at all: 403, not 404
        raise NotFound()
    authorize(caller, Resource.WEBHOOKS, action, teams=[hook.team_id])
    return hook


def create_webhook(ports: Ports, caller: Principal, body: WebhookIn) -> OutgoingWebhook:
    authorize(caller, Resource.WEBHOOKS, Action.CREATE, teams=[body.team_id])
    _unique_name(ports, body.name)
    _known_team(ports, body.team_id)
    hook = OutgoingWebhook.model_validate({**body.model_dump(), "id": ids.new_id(ids.WEBHOOK)})
    ports.store.webhooks.put(hook, new=True)
    return hook


def update_webhook(ports: Ports, caller: Principal, webhook_id: str, body: WebhookPatch) -> OutgoingWebhook:
    hook = _for_change(ports, caller, webhook_id, Action.UPDATE)
    if "team_id" in body.model_fields_set:  # moving it: the caller needs the right in the new team too
        authorize(caller, Resource.WEBHOOKS, Action.UPDATE, teams=[body.team_id])
    changed = patched(hook, body)
    _unique_name(ports, changed.name, exclude=hook.id)
    if changed.team_id != hook.team_id:
        _known_team(ports, changed.team_id)
    ports.store.webhooks.put(changed)
    return changed


def delete_webhook(ports: Ports, caller: Principal, webhook_id: str) -> None:
    """Steps that trigger it stay; when they run, the group's timeline says the webhook does not exist."""
    _for_change(ports, caller, webhook_id, Action.DELETE)
    ports.store.webhooks.delete(webhook_id)
