"""``/api/v1/audit_log`` (Tocsin): the changes of one day (``?date=YYYY-MM-DD``, default today, UTC), newest first,
over :mod:`oncall.services.api_keys`."""

from __future__ import annotations

from datetime import date
from typing import Any

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from oncall import schemas
from oncall.api.pagination import paginate_list
from oncall.api.request import current
from oncall.directory import AuditEntry
from oncall.errors import InvalidInput
from oncall.services import api_keys

PATH = "/api/v1/audit_log"
PAGE_SIZE = 100


def _json(entry: AuditEntry) -> dict[str, Any]:
    return schemas.AuditEntryOut.model_validate(entry.model_dump()).model_dump(mode="json")


def _day(raw: str | None) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as error:
        message = "Date has wrong format. Use one of these formats instead: YYYY-MM-DD."
        raise InvalidInput.field("date", message) from error


def router() -> APIGatewayHttpRouter:
    api = APIGatewayHttpRouter()

    @api.get(PATH)
    def audit_log() -> schemas.AuditEntryPage:
        request = current(api)
        entries = api_keys.audit_log(request.ports, request.principal, _day(request.first("date")))
        return schemas.AuditEntryPage.model_validate(paginate_list(request.info, entries, PAGE_SIZE, _json))

    return api
