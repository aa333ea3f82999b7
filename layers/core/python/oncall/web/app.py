"""The web console as one function of an API Gateway (HTTP API v2) event: ``GET /`` (-> ``/ui/``), ``/ui`` and
``/ui/{proxy+}``, server-rendered pages with htmx.

Sign-in with an API key sets a signed, expiring session cookie (:mod:`oncall.web.session`); every form carries
the session's CSRF token, checked on every POST. Roles are the API's: viewers read, editors act on alert groups
and configure their teams' integrations, admins everything. Pages read and write through the API's use cases
(:mod:`oncall.services`), which decide who may, so the console and the API cannot disagree; every change goes to
the same audit log.
"""

from __future__ import annotations

import importlib
import logging
import re
from typing import Any, Final
from urllib.parse import parse_qs, urlencode

from oncall import http
from oncall.container import Container
from oncall.errors import InvalidInput, NotAuthenticated, PermissionDenied, TocsinError
from oncall.ports import StoreError
from oncall.services import api_keys
from oncall.web import session, signin, views
from oncall.web.base import (
    UI,
    Request,
    Response,
    Route,
    back,
    error_text,
    local_path,
    page,
    problem_text,
    redirect,
    response,
)
from pydantic import ValidationError

logger = logging.getLogger(__name__)
# The console's page modules (of oncall.web.pages), in the order their routes are tried, each with the first segments
# (below /ui) of its paths: a module is imported on the first request for one of them, so a cold start pays for the
# page its first request shows, not for all of them.
PAGES: Final[dict[str, tuple[str, ...]]] = {
    "groups": ("groups",),
    "integrations": ("integrations",),
    "people": ("users", "keys"),
    "profile": ("profile", "users"),
    "routes": ("integrations",),
    "chains": ("chains",),
    "webhooks": ("webhooks",),
    "paging": ("page", "groups"),
    "schedules": ("schedules",),
    "insights": ("insights",),
}
HOME: Final[list[Route]] = [("GET", r"", lambda request: redirect(f"{UI}/groups"))]


def routes_for(path: str) -> list[Route]:
    """The routes that may serve ``path`` (below /ui): those of the page modules of its first segment."""
    if not path:
        return HOME
    segment = path.split("/", 2)[1]
    return [route for name, segments in PAGES.items() if segment in segments for route in page_routes(name)]


def all_routes() -> list[Route]:
    """Every route of the console, in the order they are tried."""
    return [*HOME, *(route for name in PAGES for route in page_routes(name))]


def page_routes(name: str) -> list[Route]:
    """The routes of the page module ``name`` of :data:`PAGES`, importing it."""
    routes: list[Route] = importlib.import_module(f"oncall.web.pages.{name}").ROUTES
    return routes


def _static(request: Request) -> Response:
    found = views.static_file(request.path.removeprefix("/static/"))
    if found is None or request.method != "GET":
        return response(404, "Not found.", "text/plain; charset=utf-8")
    content, content_type = found
    result = response(200, content.decode("utf-8"), content_type)
    result["headers"]["Cache-Control"] = "public, max-age=3600"
    return result


def dispatch(request: Request) -> Response:
    if request.path.startswith("/static/"):
        return _static(request)
    if request.path == "/signin":
        return signin.signin(request) if request.method == "POST" else signin.signin_page(request)
    if not signin.load_session(request):
        if request.method == "GET":  # back to this page, filters included, once signed in
            query = request.event.get("rawQueryString") or ""
            target = f"{UI}{request.path}" + (f"?{query}" if query else "")
            return redirect(f"{UI}/signin?{urlencode({'next': target})}")
        return response(401, views.render("error.html", code=401, message="Sign in first."))
    if request.method == "POST" and not session.check_csrf(
        request.token, request.form.get("csrf_token"), request.container.signing_key()
    ):
        return response(403, views.render("error.html", code=403, message="The form expired; reload the page."))
    if request.path == "/signout" and request.method == "POST":
        return signin.signout(request)
    for method, pattern, view in routes_for(request.path):
        if method == request.method and (match := re.fullmatch(pattern, request.path)):
            result = view(request, *match.groups())
            if request.method == "POST" and result["statusCode"] < 400 and request.actor is not None:
                api_keys.audit(
                    request.store, request.actor, "POST", f"{UI}{request.path}", result["statusCode"], request.now
                )
            return result
    return page(request, "error.html", 404, code=404, message="Not found.")


def handle(event: dict[str, Any], container: Container) -> Response:
    raw_path = event.get("rawPath") or "/"
    method = (event.get("requestContext", {}).get("http", {}).get("method") or "GET").upper()
    if raw_path in ("/", ""):
        return redirect(f"{UI}/")
    if raw_path != UI and not raw_path.startswith(f"{UI}/"):
        return response(404, "Not found.", "text/plain; charset=utf-8")
    request = Request(
        event=event,
        method="GET" if method == "HEAD" else method,
        path=raw_path.removeprefix(UI).rstrip("/"),
        query=parse_qs(event.get("rawQueryString") or "", keep_blank_values=False),
        base_url=http.base_url(event),
        container=container,
    )
    try:
        try:
            if request.method == "POST":
                request.form_lists = views.form_lists(event)
                request.form = {name: values[0] for name, values in request.form_lists.items()}
            return dispatch(request)
        except ValidationError as invalid:  # a form value the use case's model refuses: the same as its 400
            raise InvalidInput(problem_text(invalid)) from invalid
    except (NotAuthenticated, PermissionDenied) as denied:
        status = http.status_of(denied)
        return page(request, "error.html", status, code=status, message=str(denied))
    except StoreError:
        logger.exception("storage failed")
        return page(request, "error.html", 503, code=503, message="Storage is unavailable; retry.")
    except TocsinError as error:
        status = http.status_of(error)
        if request.method == "POST" and status < 500 and request.actor is not None:
            referer = (event.get("headers") or {}).get("referer", "")
            path_part = referer.split(UI, 1)[1].split("?", 1)[0] if UI in referer else "/groups"
            return back(
                request, local_path(f"{UI}{path_part}", f"{UI}/groups").removeprefix(UI), error=error_text(error)
            )
        return page(request, "error.html", status, code=status, message=error_text(error))
