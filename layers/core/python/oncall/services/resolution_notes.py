"""Use cases of resolution notes: what responders write about an alert group (the cause, the fix), as OnCall's
``resolution_notes``. Everyone reads them; editors add, change and delete them (:mod:`oncall.services.policy`).
A note belongs to its group: it is deleted with it, and a note for an unknown group is refused."""

from __future__ import annotations

from dataclasses import replace

from oncall import ids
from oncall.errors import InvalidInput, NotFound
from oncall.models import ResolutionNote
from oncall.schemas import ResolutionNoteIn, ResolutionNotePatch
from oncall.services import Ports
from oncall.services.policy import Action, Principal, Resource, authorize


def _note(ports: Ports, note_id: str) -> ResolutionNote:
    note = ports.store.resolution_notes.get(note_id)
    if note is None:
        raise NotFound()
    return note


def list_notes(ports: Ports, caller: Principal, *, alert_group_id: str | None = None) -> list[ResolutionNote]:
    """A group's notes, or every note, oldest first."""
    authorize(caller, Resource.RESOLUTION_NOTES, Action.READ)
    notes = ports.store.resolution_notes
    return notes.of_group(alert_group_id) if alert_group_id else notes.list()


def get_note(ports: Ports, caller: Principal, note_id: str) -> ResolutionNote:
    authorize(caller, Resource.RESOLUTION_NOTES, Action.READ)
    return _note(ports, note_id)


def add_note(ports: Ports, caller: Principal, body: ResolutionNoteIn, *, source: str = "api") -> ResolutionNote:
    """``source``: ``"web"`` from the console, ``"api"`` from the API."""
    authorize(caller, Resource.RESOLUTION_NOTES, Action.CREATE)
    if ports.store.groups.get(body.alert_group_id) is None:
        raise InvalidInput.field("alert_group_id", f'Invalid pk "{body.alert_group_id}" - object does not exist.')
    note = ResolutionNote(
        id=ids.new_id(ids.RESOLUTION_NOTE),
        alert_group_id=body.alert_group_id,
        author=caller.user_id,
        source="web" if source == "web" else "api",
        created_at=ports.clock.now(),
        text=body.text.strip() or body.text,
    )
    ports.store.resolution_notes.put(note)
    return note


def update_note(ports: Ports, caller: Principal, note_id: str, body: ResolutionNotePatch) -> ResolutionNote:
    authorize(caller, Resource.RESOLUTION_NOTES, Action.UPDATE)
    note = replace(_note(ports, note_id), text=body.text)
    ports.store.resolution_notes.put(note)
    return note


def delete_note(ports: Ports, caller: Principal, note_id: str) -> ResolutionNote:
    authorize(caller, Resource.RESOLUTION_NOTES, Action.DELETE)
    note = _note(ports, note_id)
    ports.store.resolution_notes.delete(note)
    return note
