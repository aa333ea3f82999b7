"""What every page of the web console shares: the request, responses, the page renderer, and which forms to show
(:func:`may_change`, by the policy table; the use cases decide again when a form is posted).

A :class:`Request` carries the handler's :class:`~oncall.container.Container`, so pages reach the store, executor
and scheduler of their execution environment without module state of their own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, Final, TypeVar
from urllib.parse import urlencode

from oncall.api.request import RequestInfo
from oncall.container import Container
from oncall.errors import InvalidInput, TocsinError, field_errors, messages_of
from oncall.services import policy
from oncall.services.policy import Action, Principal, Resource
from oncall.web import session, views
from pydantic import ValidationError

UI: Final = "/ui"
# Where the deployment's CloudWatch alarms go (infra/observability.py); "none": they reach nobody, say so loudly.
Response = dict[str, Any]
View = Callable[..., Response]
Route = tuple[str, str, View]
T = TypeVar("T")  # method, path pattern below /ui, view(request, *groups)


@dataclass
class Request:
    event: dict[str, Any]
    method: str
    path: str  # below /ui, without trailing slash ("" for the home page)
    query: dict[str, list[str]]
    base_url: str
    container: Container
    actor: Principal | None = None  # the signed-in caller
    token: str = ""  # the session token
    key_id: str = ""  # the API key the session was signed in with
    key_hash: str = ""  # ... and its hash (calendar feed URLs stand for it)
    form: dict[str, str] = field(default_factory=dict)  # the first value of each posted field
    form_lists: dict[str, list[str]] = field(default_factory=dict)  # every value (multiple selects)

    @cached_property
    def now(self) -> datetime:
        """When this request is served, read once from the environment's clock."""
        return self.container.clock.now()

    @property
    def ports(self) -> Container:
        """This environment's ports, for the use cases (:mod:`oncall.services`)."""
        return self.container

    @property
    def principal(self) -> Principal:
        """The signed-in caller (signed-in pages only)."""
        assert self.actor is not None, "signed-in pages only"
        return self.actor

    @property
    def store(self) -> Any:  # DynamoStore, imported lazily by the container
        return self.container.store

    @property
    def secure(self) -> bool:
        """Secure cookies, except on plain http to the local stack (127.0.0.1 / localhost)."""
        return not re.match(r"^http://(127\.0\.0\.1|localhost)(:\d+)?$", self.base_url)

    @property
    def htmx(self) -> bool:
        return (self.event.get("headers") or {}).get("hx-request") == "true"

    @property
    def user_id(self) -> str:
        assert self.actor is not None, "signed-in pages only"
        return self.actor.user_id

    def optional(self, name: str) -> str | None:
        """A posted field, stripped; None when empty or missing."""
        return (self.form.get(name) or "").strip() or None

    def values(self, name: str) -> list[str]:
        """Every non-blank value of a posted field (a multiple select)."""
        return [value for value in self.form_lists.get(name, []) if value.strip()]

    def flash(self) -> tuple[str | None, str | None]:
        """The (notice, error) a redirect passed on, only if we signed them: a crafted link shows nothing."""
        notice, error = self.first("notice"), self.first("error")
        if (notice or error) and session.check_flash(
            notice or "", error or "", self.first("sig"), self.container.signing_key()
        ):
            return notice, error
        return None, None

    def first(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def info(self, path: str = "", query: dict[str, list[str]] | None = None) -> RequestInfo:
        return RequestInfo(
            base_url=self.base_url,
            path=path,
            query=query or {},
            now=self.now,
            inbound_domain=self.container.settings.inbound_email_domain,
        )

    def csrf(self) -> str:
        return session.csrf_token(self.token, self.container.signing_key()) if self.token else ""

    def local_target(self, name: str, default: str) -> str:
        """A form's return address, only when it stays inside the console (no open redirect, no header injection)."""
        return local_path(self.form.get(name) or "", default)


# Scripts and styles only from the console's own files: no inline script, style or handler, no eval (htmx is
# configured by its meta tag, not inline); forms post only here; no page may frame the console.
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


_LOCAL_PATH: Final = re.compile(rf"{UI}/[!-\[\]-~]*")  # printable ASCII but space and backslash


def local_path(target: str, default: str) -> str:
    """``target`` if it is a path of the console in plain printable ASCII (no line break, space or backslash that
    could end a header or turn into another host), else ``default``."""
    return target if _LOCAL_PATH.fullmatch(target) else default


def response(status: int, body: str = "", content_type: str = "text/html; charset=utf-8", **headers: str) -> Response:
    return {
        "statusCode": status,
        "headers": {
            "Content-Type": content_type,
            "Cache-Control": "no-store",
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "same-origin",
            **headers,
        },
        "body": body,
    }


def redirect(location: str, cookies: list[str] | None = None) -> Response:
    result = response(303, Location=location)
    if cookies:
        result["cookies"] = cookies
    return result


def page(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    notice, error = request.flash()
    body = views.render(
        template,
        actor=request.actor,
        csrf=request.csrf(),
        notice=notice,
        error=error,
        can_page_someone=bool(request.actor and policy.allows(request.actor, Resource.PAGING, Action.CREATE)),
        alarms_reach_nobody=request.container.settings.alarms_reach_nobody,
        now=request.now,  # relative times ("12 min ago")
        section=request.path.split("/")[1] if "/" in request.path else "",  # the nav's current entry
        **context,
    )
    return response(status, body)


def flash_url(request: Request, path: str, *, notice: str | None = None, error: str | None = None) -> str:
    """``/ui<path>`` carrying a message for the next page, signed (see :meth:`Request.flash`)."""
    params = {k: v for k, v in (("notice", notice), ("error", error)) if v}
    if params:
        params["sig"] = session.flash_signature(notice or "", error or "", request.container.signing_key())
    return f"{UI}{path}" + (f"?{urlencode(params)}" if params else "")


def back(request: Request, path: str, *, notice: str | None = None, error: str | None = None) -> Response:
    return redirect(flash_url(request, path, notice=notice, error=error))


def error_text(error: TocsinError) -> str:
    body = error.body()
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])
    return json.dumps(body)


def problem_text(error: TocsinError | ValidationError, names: dict[str, str] | None = None) -> str:
    """A refused input as one line for a page: ``"<field>: <message>"`` per problem, fields named by ``names``."""
    names = names or {}
    if isinstance(error, ValidationError):
        fields: dict[str, Any] = field_errors(error.errors())
    elif "detail" not in (body := error.body()):
        fields = body
    else:
        return error_text(error)
    return " ".join(
        f"{names.get(str(name), name)}: {' '.join(messages_of(messages))}" for name, messages in fields.items()
    )


def run(change: Callable[[], T]) -> T:
    """Run a use case. A refusal (nothing stored) is raised with the API's status and a readable message: the
    console's handler sends the browser back to the form's page with it, and audits nothing."""
    try:
        return change()
    except ValidationError as error:
        raise InvalidInput(problem_text(error)) from error
    except InvalidInput as error:
        if error.fields:
            raise InvalidInput(problem_text(error)) from error
        raise


def attempt(request: Request, path: str, notice: str, change: Callable[[], Any]) -> Response:
    """Run a use case, then back to ``path`` with ``notice``."""
    run(change)
    return back(request, path, notice=notice)


def may_change(request: Request, resource: Resource, team_id: str | None) -> bool:
    """Whether a page shows the forms that change a thing of ``team_id``: what the policy table lets the caller do
    (the use case decides again when the form is posted)."""
    actor = request.actor
    return actor is not None and policy.allows(actor, resource, Action.UPDATE, teams=[team_id])
