"""Web console Lambda: ``GET /`` (-> ``/ui/``), ``/ui`` and ``/ui/{proxy+}``, server-rendered pages with htmx.

Sign-in with an API key (verified by :class:`oncall.access.Authenticator`) sets a signed, expiring session cookie
(:mod:`oncall.web.session`); every form carries the session's CSRF token, checked on every POST. Roles are the
API's: viewers read, editors act on alert groups and configure their teams' integrations, admins everything.
Every page reads and writes through the API's use cases (:mod:`oncall.api`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from oncall import http, links
from oncall.access import AccessDenied, Actor, Permission
from oncall.api import directory, logic, schemas
from oncall.api import schedules as schedules_api
from oncall.container import Container
from oncall.ingest import demo_payload
from oncall.models import User
from oncall.ports import GroupFilter, StoreError
from oncall.schedules import store as schedule_store
from oncall.web import session, views

logger = Logger()
UI = "/ui"
GROUP_ACTIONS = ("acknowledge", "unacknowledge", "resolve", "unresolve", "silence", "unsilence")
_container = Container()  # this environment's store, authenticator, executor and scheduler
store = _container.store
authenticator = _container.authenticator
executor = _container.executor
scheduler = _container.scheduler


def now() -> datetime:
    return datetime.now(UTC)


# --- requests and responses -------------------------------------------------------------------------------------


@dataclass
class Request:
    event: dict[str, Any]
    method: str
    path: str  # below /ui, without trailing slash ("" for the home page)
    query: dict[str, list[str]]
    base_url: str
    actor: Actor | None = None
    token: str = ""  # the session token
    form: dict[str, str] = field(default_factory=dict)

    @property
    def secure(self) -> bool:
        """Secure cookies, except on plain http to the local stack (127.0.0.1 / localhost)."""
        return not re.match(r"^http://(127\.0\.0\.1|localhost)(:\d+)?$", self.base_url)

    @property
    def htmx(self) -> bool:
        return (self.event.get("headers") or {}).get("hx-request") == "true"

    def first(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def info(self, path: str = "", query: dict[str, list[str]] | None = None) -> logic.RequestInfo:
        return logic.RequestInfo(base_url=self.base_url, path=path, query=query or {})

    def csrf(self) -> str:
        return session.csrf_token(self.token, links.signing_key()) if self.token else ""


def response(
    status: int, body: str = "", content_type: str = "text/html; charset=utf-8", **headers: str
) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {
            "Content-Type": content_type,
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "same-origin",
            **headers,
        },
        "body": body,
    }


def redirect(location: str, cookies: list[str] | None = None) -> dict[str, Any]:
    result = response(303, Location=location)
    if cookies:
        result["cookies"] = cookies
    return result


def page(request: Request, template: str, status: int = 200, **context: Any) -> dict[str, Any]:
    body = views.render(
        template,
        actor=request.actor,
        csrf=request.csrf(),
        notice=request.first("notice"),
        error=request.first("error"),
        can_act=bool(request.actor and request.actor.has("act")),
        can_configure=bool(request.actor and request.actor.has("configure")),
        **context,
    )
    return response(status, body)


def back(path: str, *, notice: str | None = None, error: str | None = None) -> dict[str, Any]:
    params = {k: v for k, v in (("notice", notice), ("error", error)) if v}
    return redirect(f"{UI}{path}" + (f"?{urlencode(params)}" if params else ""))


def _error_text(error: logic.ApiError) -> str:
    body = error.body
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])
    return json.dumps(body)


def require(request: Request, permission: Permission) -> None:
    assert request.actor is not None
    if not request.actor.has(permission):
        raise AccessDenied(403, "You do not have permission to perform this action.")


# --- sign-in ----------------------------------------------------------------------------------------------------


def signin_page(request: Request, status: int = 200, message: str | None = None) -> dict[str, Any]:
    return page(request, "signin.html", status, message=message, next=request.first("next") or "")


def signin(request: Request) -> dict[str, Any]:
    secret = request.form.get("api_key", "")
    try:
        actor, key = authenticator().authenticate(secret)
        authenticator().throttle(key)
    except AccessDenied as denied:
        return signin_page(request, denied.status if denied.status == 429 else 401, "That API key is not valid.")
    token = session.issue(key.key_hash, actor.user_id, now(), links.signing_key())
    target = request.form.get("next") or ""
    if not target.startswith(f"{UI}/") or target.startswith("//"):
        target = f"{UI}/groups"
    return redirect(target, [session.cookie(token, secure=request.secure)])


def signout(request: Request) -> dict[str, Any]:
    return redirect(f"{UI}/signin", [session.cleared_cookie(secure=request.secure)])


def load_session(request: Request) -> bool:
    token = session.read_cookie(request.event.get("cookies"))
    try:
        claims = session.verify(token, links.signing_key(), now())
    except session.InvalidSession:
        return False
    key = store().get_api_key(claims.key_hash)
    if key is None or key.user_id != claims.user_id:
        return False  # the key was revoked
    user = store().get_entity("USER", key.user_id, User)
    if user is None:
        return False
    request.actor = Actor(user.id, user.username, user.role, tuple(user.teams))
    request.token = token or ""
    return True


# --- alert groups -----------------------------------------------------------------------------------------------


def _group_query(request: Request) -> dict[str, list[str]]:
    query: dict[str, list[str]] = {"perpage": ["100"]}
    for name in ("state", "integration_id"):
        if value := request.first(name):
            query[name] = [value]
    return query


def groups_context(request: Request) -> dict[str, Any]:
    query = _group_query(request)
    listing = logic.list_groups(store(), request.info(f"{UI}/groups", query))
    integration_id = request.first("integration_id")
    counts = {
        state: store().count_groups(GroupFilter(state=state, integration_id=integration_id)) for state in views.STATES
    }
    integrations = logic.list_integrations(store(), request.info(query={"perpage": ["100"]}))["results"]
    names = {i["id"]: i["name"] for i in integrations}
    return {
        "groups": listing["results"],
        "total": listing["count"],
        "counts": counts,
        "integrations": integrations,
        "names": names,
        "state": request.first("state") or "",
        "integration_id": integration_id or "",
        "refresh_query": urlencode({k: v[0] for k, v in query.items() if k != "perpage"}),
    }


def groups(request: Request) -> dict[str, Any]:
    context = groups_context(request)
    if request.first("fragment") == "table":
        return page(request, "groups_table.html", **context)
    return page(request, "groups.html", **context)


def group_detail(request: Request, group_id: str) -> dict[str, Any]:
    group = logic.get_group(store(), request.info(), group_id)
    timeline = logic.group_timeline(store(), group_id)
    alerts = logic.list_alerts(store(), request.info(query={"alert_group_id": [group_id], "perpage": ["100"]}))
    integration = store().load_config(group["integration_id"])
    return page(
        request,
        "group.html",
        group=group,
        timeline=timeline,
        alerts=alerts["results"],
        alerts_count=alerts["count"],
        integration_name=integration.integration.name if integration else group["integration_id"],
    )


def group_action(request: Request, group_id: str, action: str) -> dict[str, Any]:
    require(request, "act")
    body = {"delay": int(request.form.get("delay") or 3600)} if action == "silence" else None
    logic.act_on_group(
        store(), executor(), scheduler(), request.info(), group_id, action, request.actor.user_id, now(), body
    )  # type: ignore[union-attr]
    target = request.form.get("return") or ""
    if not target.startswith(f"{UI}/") or target.startswith("//"):
        target = f"{UI}/groups/{quote(group_id)}"
    return redirect(target)


# --- integrations -----------------------------------------------------------------------------------------------


def _guard_integration(request: Request, integration_id: str) -> None:
    require(request, "configure")
    config = store().load_config(integration_id)
    if config is None:
        raise logic.not_found()
    request.actor.check_team(config.integration.team_id)  # type: ignore[union-attr]


def integrations(request: Request, created: dict[str, Any] | None = None, status: int = 200) -> dict[str, Any]:
    listing = logic.list_integrations(store(), request.info(query={"perpage": ["100"]}))
    from oncall import integration_types

    creatable = sorted(name for name, kind in integration_types.TYPES.items() if kind.creatable)
    chains = directory.list_all(store(), directory.CHAINS, "CHAINS")
    return page(
        request,
        "integrations.html",
        status,
        integrations=listing["results"],
        types=creatable,
        created=created,
        chains={c.id: c.name for c in chains},
    )


def create_integration(request: Request) -> dict[str, Any]:
    require(request, "configure")
    body = schemas.IntegrationIn(name=request.form.get("name", "").strip(), type=request.form.get("type", "webhook"))
    created = logic.create_integration(store(), request.info(), body, now())
    return integrations(request, created=created, status=201)


def integration_action(request: Request, integration_id: str, action: str) -> dict[str, Any]:
    _guard_integration(request, integration_id)
    assert request.actor is not None
    if action == "send_demo_alert":
        result = logic.send_demo_alert(store(), executor(), integration_id, None, now())
        ids = result["alert_group_ids"]
        return back("/integrations", notice=f"Demo alert sent (alert group {', '.join(ids)}).")
    if action == "maintenance_start":
        body = schemas.MaintenanceIn(
            mode=request.form.get("mode", "maintenance"), duration=int(request.form.get("duration") or 3600)
        )
        logic.start_maintenance(
            store(), scheduler(), request.info(), integration_id, body, request.actor.user_id, now()
        )
        return back("/integrations", notice="Maintenance started.")
    if action == "maintenance_stop":
        logic.stop_maintenance(
            store(), scheduler(), executor(), request.info(), integration_id, request.actor.user_id, now()
        )
        return back("/integrations", notice="Maintenance stopped.")
    raise logic.not_found()


def _latest_payload(integration_id: str, integration_type: str) -> Any:
    latest = store().list_groups(GroupFilter(integration_id=integration_id), 1, None).items
    if latest and latest[0].last_alert_id:
        alerts = store().get_alerts([(latest[0].id, latest[0].last_alert_id)])
        if alert := alerts.get(latest[0].last_alert_id):
            return alert.payload
    return demo_payload(integration_type, None)


def template_editor(request: Request, integration_id: str, status: int = 200, **extra: Any) -> dict[str, Any]:
    config = store().load_config(integration_id)
    if config is None:
        raise logic.not_found()
    texts = extra.pop("texts", None) or views.effective_templates(config)
    payload = extra.pop("payload", None)
    if payload is None:
        payload = _latest_payload(integration_id, config.integration.type)
    routes = [logic.route_out(r) for r in config.routes]
    return page(
        request,
        "templates.html",
        status,
        integration=config.integration,
        fields=views.TEMPLATE_FIELDS,
        texts=texts,
        payload_text=json.dumps(payload, indent=2, ensure_ascii=False),
        preview=views.preview(config, texts, payload),
        routes=routes,
        **extra,
    )


def _posted_templates(request: Request) -> tuple[dict[str, str], Any, str | None]:
    texts = {name: request.form.get(name, "") for name, _ in views.TEMPLATE_FIELDS}
    try:
        payload = json.loads(request.form.get("payload") or "null")
    except ValueError as error:
        return texts, None, f"The payload is not valid JSON: {error}"
    return texts, payload, None


def template_preview(request: Request, integration_id: str) -> dict[str, Any]:
    config = store().load_config(integration_id)
    if config is None:
        raise logic.not_found()
    texts, payload, problem = _posted_templates(request)
    if not request.htmx and problem is None:  # the no-JavaScript preview button: the whole editor page
        return template_editor(request, integration_id, texts=texts, payload=payload)
    result = views.preview(config, texts, payload) if problem is None else None
    return page(request, "preview.html", preview=result, payload_problem=problem)


def template_save(request: Request, integration_id: str) -> dict[str, Any]:
    _guard_integration(request, integration_id)
    texts, payload, _ = _posted_templates(request)
    config = store().load_config(integration_id)
    assert config is not None
    kind_defaults = {
        name: config.integration.model_copy(update={"templates": type(config.integration.templates)()}).template(name)
        or ""
        for name, _ in views.TEMPLATE_FIELDS
    }  # type: ignore[arg-type]

    def value(name: str) -> str | None:
        text = texts[name].replace("\r\n", "\n")
        return None if not text.strip() or text == kind_defaults[name].replace("\r\n", "\n") else text

    body = schemas.IntegrationPatch(
        templates=schemas.TemplatesIn(
            grouping_key=value("grouping_id"),
            resolve_signal=value("resolve_condition"),
            acknowledge_signal=value("acknowledge_condition"),
            source_link=value("source_link"),
            web=schemas.AppearanceTemplates(title=value("title"), message=value("message")),
        )
    )
    try:
        logic.update_integration(store(), request.info(), integration_id, body)
    except logic.ApiError as error:
        return template_editor(
            request, integration_id, 400, texts=texts, payload=payload, save_error=_error_text(error)
        )
    return back(f"/integrations/{quote(integration_id)}/templates", notice="Templates saved.")


# --- schedules, users, API keys ---------------------------------------------------------------------------------


def schedules(request: Request) -> dict[str, Any]:
    moment = now()
    users = {u.id: u.username for u in store().list_entities("USERS", User)}
    start = moment.date()
    end = start + timedelta(days=13)
    rows = []
    for schedule in schedule_store.list_schedules(store()):
        on_call = schedules_api.on_call_now(store(), schedule.id, moment)
        query = {"start_date": [start.isoformat()], "end_date": [end.isoformat()], "perpage": ["100"]}
        shifts = schedules_api.final_shifts(store(), request.info(query=query), schedule.id, moment)["results"]
        rows.append({"schedule": schedule, "on_call": [users.get(u, u) for u in on_call], "shifts": shifts})
    return page(request, "schedules.html", schedules=rows, start=start, end=end)


def users_page(request: Request) -> dict[str, Any]:
    users = directory.list_all(store(), directory.USERS, "USERS")
    teams = {t.id: t.name for t in directory.list_all(store(), directory.TEAMS, "TEAMS")}
    team_names = {u.id: ", ".join(teams.get(t, t) for t in u.teams) for u in users}
    return page(request, "users.html", users=sorted(users, key=lambda u: u.username), team_names=team_names)


def keys_page(request: Request) -> dict[str, Any]:
    assert request.actor is not None
    mine = [directory.api_key_out(k) for k in store().list_api_keys() if k.user_id == request.actor.user_id]
    return page(request, "keys.html", keys=sorted(mine, key=lambda k: k["created_at"]))


# --- dispatch ---------------------------------------------------------------------------------------------------

Route = tuple[str, str, Callable[..., dict[str, Any]]]
ROUTES: list[Route] = [
    ("GET", r"", lambda r: redirect(f"{UI}/groups")),
    ("GET", r"/groups", groups),
    ("GET", r"/groups/([\w-]+)", group_detail),
    ("POST", r"/groups/([\w-]+)/(" + "|".join(GROUP_ACTIONS) + ")", group_action),
    ("GET", r"/integrations", integrations),
    ("POST", r"/integrations", create_integration),
    ("POST", r"/integrations/([\w-]+)/(send_demo_alert|maintenance_start|maintenance_stop)", integration_action),
    ("GET", r"/integrations/([\w-]+)/templates", template_editor),
    ("POST", r"/integrations/([\w-]+)/templates", template_save),
    ("POST", r"/integrations/([\w-]+)/preview", template_preview),
    ("GET", r"/schedules", schedules),
    ("GET", r"/users", users_page),
    ("GET", r"/keys", keys_page),
    ("POST", r"/signout", signout),
]


def dispatch(request: Request) -> dict[str, Any]:
    if request.path.startswith("/static/"):
        found = views.static_file(request.path.removeprefix("/static/"))
        if found is None or request.method not in ("GET", "HEAD"):
            return response(404, "Not found.", "text/plain; charset=utf-8")
        content, content_type = found
        result = response(200, content.decode("utf-8"), content_type)
        result["headers"]["Cache-Control"] = "public, max-age=3600"
        return result
    if request.path == "/signin":
        if request.method == "POST":
            return signin(request)
        return signin_page(request)
    if not load_session(request):
        if request.method == "GET":
            target = f"{UI}{request.path}"
            return redirect(f"{UI}/signin?{urlencode({'next': target})}")
        return response(401, views.render("error.html", code=401, message="Sign in first."))
    if request.method == "POST" and not session.check_csrf(
        request.token, request.form.get("csrf_token"), links.signing_key()
    ):
        return response(403, views.render("error.html", code=403, message="The form expired; reload the page."))
    for method, pattern, view in ROUTES:
        if method == request.method and (match := re.fullmatch(pattern, request.path)):
            return view(request, *match.groups())
    return page(request, "error.html", 404, code=404, message="Not found.")


def handle(event: dict[str, Any]) -> dict[str, Any]:
    raw_path = event.get("rawPath") or "/"
    method = (event.get("requestContext", {}).get("http", {}).get("method") or "GET").upper()
    if raw_path in ("/", ""):
        return redirect(f"{UI}/")
    if raw_path != UI and not raw_path.startswith(f"{UI}/"):
        return response(404, "Not found.", "text/plain; charset=utf-8")
    path = raw_path.removeprefix(UI).rstrip("/")
    request = Request(
        event=event,
        method="GET" if method == "HEAD" else method,
        path=path,
        query=parse_qs(event.get("rawQueryString") or "", keep_blank_values=False),
        base_url=http.base_url(event),
    )
    if request.method == "POST":
        request.form = views.form_data(event)
    try:
        return dispatch(request)
    except AccessDenied as denied:
        return page(request, "error.html", denied.status, code=denied.status, message=str(denied))
    except logic.ApiError as error:
        if request.method == "POST" and error.status < 500 and request.actor is not None:
            referer = (event.get("headers") or {}).get("referer", "")
            path_part = referer.split(UI, 1)[1].split("?", 1)[0] if UI in referer else "/groups"
            return back(path_part, error=_error_text(error))
        return page(request, "error.html", error.status, code=error.status, message=_error_text(error))
    except StoreError:
        logger.exception("storage failed")
        return page(request, "error.html", 503, code=503, message="Storage is unavailable; retry.")


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event)
