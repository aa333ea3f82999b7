"""``/api/v1/users``: OnCall's users API over :mod:`oncall.services.people` (``current`` is the caller; Tocsin
also creates, changes and deletes users, and keeps their phone number and personal webhook)."""

from __future__ import annotations

from typing import Annotated, Any, Final

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from oncall import schemas
from oncall.api.pagination import paginate_list
from oncall.api.request import current
from oncall.directory import User
from oncall.services import people

PATH = "/api/v1/users"
PAGE_SIZE = 100
CURRENT: Final = "current"  # OnCall's name of the caller in ``/users/{id}``


def user_out(user: User) -> schemas.UserOut:
    return schemas.UserOut(
        id=user.id,
        email=user.email,
        username=user.username,
        role=user.role,
        timezone=user.timezone,
        teams=user.teams,
        phone_number=user.phone_number,
        webhook_url=user.webhook_url,
        webhook_format=user.webhook_format,
    )


def _json(user: User) -> dict[str, Any]:
    return user_out(user).model_dump(mode="json")


def router() -> APIGatewayHttpRouter:
    api = APIGatewayHttpRouter()

    @api.get(PATH)
    def list_users() -> schemas.UserPage:
        request = current(api)
        found = people.list_users(
            request.ports, request.principal, email=request.first("email"), username=request.first("username")
        )
        return schemas.UserPage.model_validate(paginate_list(request.info, found, PAGE_SIZE, _json))

    @api.post(PATH)
    def create_user(body: Annotated[schemas.UserIn, Body()]) -> Response[schemas.UserOut]:
        request = current(api)
        return Response(201, "application/json", user_out(people.create_user(request.ports, request.principal, body)))

    @api.get(f"{PATH}/<user_id>")
    def get_user(user_id: str) -> schemas.UserOut:
        request = current(api)
        user_id = request.principal.user_id if user_id == CURRENT else user_id
        return user_out(people.get_user(request.ports, request.principal, user_id))

    @api.route(f"{PATH}/<user_id>", method=["PUT", "PATCH"])
    def update_user(user_id: str, body: Annotated[schemas.UserPatch, Body()]) -> schemas.UserOut:
        request = current(api)
        return user_out(people.update_user(request.ports, request.principal, user_id, body))

    @api.delete(f"{PATH}/<user_id>")
    def delete_user(user_id: str) -> Response[None]:
        request = current(api)
        people.delete_user(request.ports, request.principal, user_id)
        return Response(204)

    return api
