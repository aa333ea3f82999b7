"""``/api/v1/resolution_notes``: OnCall's resolution notes API over :mod:`oncall.services.resolution_notes`
(list, filtered by ``alert_group_id``; create with ``alert_group_id`` and ``text``; read, change the text, delete)."""

from __future__ import annotations

from typing import Annotated, Any, Final

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from oncall import schemas
from oncall.api.pagination import paginate_list
from oncall.api.request import current
from oncall.models import ResolutionNote
from oncall.services import resolution_notes

PATH: Final = "/api/v1/resolution_notes"
PAGE_SIZE: Final = 50


def note_out(note: ResolutionNote) -> schemas.ResolutionNoteOut:
    return schemas.ResolutionNoteOut(
        id=note.id,
        alert_group_id=note.alert_group_id,
        author=note.author,
        source=note.source,
        created_at=note.created_at,
        text=note.text,
    )


def _json(note: ResolutionNote) -> dict[str, Any]:
    return note_out(note).model_dump(mode="json")


def router() -> APIGatewayHttpRouter:
    api = APIGatewayHttpRouter()

    @api.get(PATH)
    def list_resolution_notes() -> schemas.ResolutionNotePage:
        request = current(api)
        found = resolution_notes.list_notes(
            request.ports, request.principal, alert_group_id=request.first("alert_group_id")
        )
        return schemas.ResolutionNotePage.model_validate(paginate_list(request.info, found, PAGE_SIZE, _json))

    @api.post(PATH)
    def create_resolution_note(
        body: Annotated[schemas.ResolutionNoteIn, Body()],
    ) -> Response[schemas.ResolutionNoteOut]:
        request = current(api)
        note = resolution_notes.add_note(request.ports, request.principal, body)
        return Response(201, "application/json", note_out(note))

    @api.get(f"{PATH}/<note_id>")
    def get_resolution_note(note_id: str) -> schemas.ResolutionNoteOut:
        request = current(api)
        return note_out(resolution_notes.get_note(request.ports, request.principal, note_id))

    @api.route(f"{PATH}/<note_id>", method=["PUT", "PATCH"])
    def update_resolution_note(
        note_id: str, body: Annotated[schemas.ResolutionNotePatch, Body()]
    ) -> schemas.ResolutionNoteOut:
        request = current(api)
        return note_out(resolution_notes.update_note(request.ports, request.principal, note_id, body))

    @api.delete(f"{PATH}/<note_id>")
    def delete_resolution_note(note_id: str) -> Response[None]:
        request = current(api)
        resolution_notes.delete_note(request.ports, request.principal, note_id)
        return Response(204)

    return api
