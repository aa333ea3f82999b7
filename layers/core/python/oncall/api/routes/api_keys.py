"""``/api/v1/api_keys`` (Tocsin): list, create and revoke API keys over :mod:`oncall.services.api_keys`."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from oncall import schemas
from oncall.api.pagination import paginate_list
from oncall.api.request import current
from oncall.directory import ApiKey
from oncall.services import api_keys

PATH = "/api/v1/api_keys"
PAGE_SIZE = 50


def api_key_out(key: ApiKey, secret: str | None = None) -> schemas.ApiKeyOut:
    """A key as its readers see it; ``secret`` only in the answer that made it."""
    return schemas.ApiKeyOut(
        id=key.id, name=key.name, user_id=key.user_id, prefix=key.prefix, created_at=key.created_at, key=secret
    )


def _json(key: ApiKey) -> dict[str, Any]:
    return api_key_out(key).model_dump(mode="json")


def router() -> APIGatewayHttpRouter:
    api = APIGatewayHttpRouter()

    @api.get(PATH)
    def list_api_keys() -> schemas.ApiKeyPage:
        request = current(api)
        found = api_keys.list_keys(request.ports, request.principal, user_id=request.first("user_id"))
        return schemas.ApiKeyPage.model_validate(paginate_list(request.info, found, PAGE_SIZE, _json))

    @api.post(PATH)
    def create_api_key(body: Annotated[schemas.ApiKeyIn, Body()]) -> Response[schemas.ApiKeyOut]:
        request = current(api)
        made = api_keys.create_key(request.ports, request.principal, body)
        return Response(201, "application/json", api_key_out(made.key, made.secret))

    @api.delete(f"{PATH}/<key_id>")
    def revoke_api_key(key_id: str) -> Response[None]:
        request = current(api)
        api_keys.revoke_key(request.ports, request.principal, key_id)
        return Response(204)

    return api
