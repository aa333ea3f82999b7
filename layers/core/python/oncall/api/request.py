"""What the management API's routers know of the request they serve: the caller, the environment's ports, where the
deployment is reachable and the query. The app's authentication middleware makes it; routers read it with
:func:`current`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from oncall.errors import InvalidInput

if TYPE_CHECKING:
    from oncall.container import Container
    from oncall.directory import ApiKey
    from oncall.services.policy import Principal


@dataclass(frozen=True)
class RequestInfo:
    """What use cases need of the HTTP request: where the deployment is reachable, and the query."""

    base_url: str  # e.g. https://abc.execute-api.eu-west-1.amazonaws.com
    path: str
    query: dict[str, list[str]]
    now: datetime  # when the request is served, from the handler's clock
    inbound_domain: str | None = None  # the deployment's domain of inbound e-mail integrations

    def first(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass(frozen=True)
class ApiRequest:
    ports: Container
    principal: Principal
    key: ApiKey  # the API key the caller signed the request with (calendar feed URLs stand for it)
    base_url: str  # e.g. https://abc.execute-api.eu-west-1.amazonaws.com
    path: str
    query: dict[str, list[str]]
    now: datetime

    def first(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    @property
    def info(self) -> RequestInfo:
        """For pagination links and the OnCall shapes that hold URLs."""
        return RequestInfo(
            base_url=self.base_url,
            path=self.path,
            query=self.query,
            now=self.now,
            inbound_domain=self.ports.settings.inbound_email_domain,
        )


REQUEST = "request"  # the keys of the resolver's context: the authenticated request ...
PORTS = "ports"  # ... and the environment's ports, also for the routes anyone may call (signed action links)


def ports_of(router: Any) -> Container:
    """The environment's ports, whoever calls (routes without a caller: signed action links)."""
    ports: Container = router.context[PORTS]
    return ports


def current(router: Any) -> ApiRequest:
    """The request a router's route serves (a Powertools router or the app: both share the app's context)."""
    request: ApiRequest = router.context[REQUEST]
    return request


def json_body(raw: str | None) -> Any:
    """A request's JSON body (None without one); a 400 for one that is not JSON."""
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError as error:
        raise InvalidInput(f"JSON parse error - {error}") from error
