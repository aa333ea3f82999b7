"""Use cases of outgoing webhooks: what an escalation step (``trigger_webhook``) and the alert group's state
changes call (:mod:`oncall.webhook_delivery` sends them).

Everyone reads every webhook; editors change those of their teams or of no team (admins: all), and moving a
webhook to another team needs the right in both (:mod:`oncall.services.policy`). Its URL, headers and templates
were checked by the request model (:mod:`oncall.schemas`).

Secrets are write-only (issue #16): ``authorization_header``, ``password`` and the values of headers whose name
says they carry a credential are returned as OnCall's mask, ``****************``, to everyone, whatever their
role. A write without the field, or with the mask, keeps the stored secret (so a read-modify-write client or
Terraform, which never reads ``authorization_header`` back, does not erase it); null clears it, as in OnCall.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from oncall import ids
from oncall.directory import OutgoingWebhook
from oncall.errors import InvalidInput, NotFound
from oncall.schemas import MASK, WebhookIn, WebhookPatch
from oncall.services import Ports, naming
from oncall.services.patching import patched
from oncall.services.policy import Action, Principal, Resource, authorize, existing
from oncall.services.references import require_known

SECRET_FIELDS: Final = ("authorization_header", "password")
# Header names that carry credentials: Authorization, Cookie, X-Api-Key, X-Auth-Token, X-Hub-Signature...
_SECRET_HEADER: Final = re.compile(r"auth|token|secret|key|pass|cookie|signature|session|credential", re.IGNORECASE)


def masked(hook: OutgoingWebhook) -> OutgoingWebhook:
    """``hook`` as anyone may see it: its secrets replaced by the mask."""
    changes: dict[str, Any] = {name: MASK for name in SECRET_FIELDS if getattr(hook, name)}
    if hook.headers:
        changes["headers"] = _masked_headers(hook.headers)
    return hook.model_copy(update=changes)


def _masked_headers(headers: str) -> str:
    fields = _header_object(headers)
    if fields is None:  # a template that is not a JSON object as written: hide it whole if it may hold a secret
        return MASK if _SECRET_HEADER.search(headers) else headers
    secret = [name for name in fields if _SECRET_HEADER.search(name)]
    if not secret:
        return headers  # as written, so a client that reads it back (Terraform) sees no change
    return json.dumps({name: MASK if name in secret else value for name, value in fields.items()})


def _header_object(headers: str) -> dict[str, Any] | None:
    try:
        fields = json.loads(headers)
    except ValueError:
        return None
    return fields if isinstance(fields, dict) else None


def _kept_secrets(stored: OutgoingWebhook, changed: OutgoingWebhook) -> OutgoingWebhook:
    """``changed`` with every secret sent back as the mask replaced by the stored one."""
    changes: dict[str, Any] = {name: getattr(stored, name) for name in SECRET_FIELDS if getattr(changed, name) == MASK}
    if changed.headers == MASK:
        changes["headers"] = stored.headers
    elif changed.headers and MASK in changed.headers:
        fields, before = _header_object(changed.headers), _header_object(stored.headers or "") or {}
        if fields is not None:
            kept = {name: before.get(name, value) if value == MASK else value for name, value in fields.items()}
            changes["headers"] = json.dumps(kept)
    return changed.model_copy(update=changes)


def _known_integrations(ports: Ports, integration_ids: list[str]) -> None:
    known = {integration.id for integration in ports.store.integrations.list()} if integration_ids else set()
    if any(integration_id not in known for integration_id in integration_ids):
        raise InvalidInput.field("integration_filter", "integration_filter must be a list of valid integration ids")


def list_webhooks(ports: Ports, caller: Principal, *, name: str | None = None) -> list[OutgoingWebhook]:
    authorize(caller, Resource.WEBHOOKS, Action.READ)
    return [masked(w) for w in naming.filtered(ports.store.webhooks, name, lambda w: w.name)]


def get_webhook(ports: Ports, caller: Principal, webhook_id: str) -> OutgoingWebhook:
    authorize(caller, Resource.WEBHOOKS, Action.READ)
    hook = ports.store.webhooks.get(webhook_id)
    if hook is None:
        raise NotFound()
    return masked(hook)


def _for_change(ports: Ports, caller: Principal, webhook_id: str, action: Action) -> OutgoingWebhook:
    hook = existing(ports.store.webhooks.get(webhook_id), caller, Resource.WEBHOOKS, action)
    authorize(caller, Resource.WEBHOOKS, action, teams=[hook.team_id])
    return hook


def create_webhook(ports: Ports, caller: Principal, body: WebhookIn) -> OutgoingWebhook:
    authorize(caller, Resource.WEBHOOKS, Action.CREATE, teams=[body.team_id])
    naming.check(ports.store.webhooks, body.name)
    require_known("team_id", [body.team_id], ports.store.teams.get)
    _known_integrations(ports, body.integration_filter or [])
    fields = body.model_dump(exclude={"preset"}, exclude_none=True)
    fields["forward_all"] = bool(body.forward_all) if "forward_all" in body.model_fields_set else True  # null: false
    hook = OutgoingWebhook.model_validate({**fields, "id": ids.new_id(ids.WEBHOOK)})
    if MASK in (hook.authorization_header, hook.password):
        raise InvalidInput.field("authorization_header", "Send the secret itself, not its mask.")
    naming.put(ports.store.webhooks, hook, new=True)
    return masked(hook)


def update_webhook(ports: Ports, caller: Principal, webhook_id: str, body: WebhookPatch) -> OutgoingWebhook:
    hook = _for_change(ports, caller, webhook_id, Action.UPDATE)
    if "team_id" in body.model_fields_set:  # moving it: the caller needs the right in the new team too
        authorize(caller, Resource.WEBHOOKS, Action.UPDATE, teams=[body.team_id])
    changed = patched(hook, body, skip={"preset", "forward_all", "integration_filter"})
    fields = body.model_fields_set
    if "forward_all" in fields:
        changed.forward_all = bool(body.forward_all)  # OnCall: null is false
    if "integration_filter" in fields:
        changed.integration_filter = body.integration_filter or []
        _known_integrations(ports, changed.integration_filter)
    changed = _kept_secrets(hook, changed)
    if changed.name != hook.name:
        naming.check(ports.store.webhooks, changed.name, exclude=hook.id)
    if changed.team_id != hook.team_id:
        require_known("team_id", [changed.team_id], ports.store.teams.get)
    naming.put(ports.store.webhooks, changed)
    return masked(changed)


def delete_webhook(ports: Ports, caller: Principal, webhook_id: str) -> None:
    """Steps that trigger it stay; when they run, the group's timeline says the webhook does not exist."""
    _for_change(ports, caller, webhook_id, Action.DELETE)
    ports.store.webhooks.delete(webhook_id)
