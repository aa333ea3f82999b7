"""The ``tocsin`` commands. Tables for people, ``--json`` for scripts, clear errors and exit codes:
0 done, 1 refused by Tocsin (the message says why), 2 Tocsin could not be reached or the command was wrong.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click
import httpx

DEFAULT_URL = "http://127.0.0.1:8080"
LOCAL_KEY = Path(__file__).resolve().parents[1] / ".local" / "api_key"


class Client:
    def __init__(self, url: str, key: str | None, as_json: bool) -> None:
        self.url, self.key, self.as_json = url.rstrip("/"), key, as_json

    def call(self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None,
             auth: bool = True) -> Any:  # fmt: skip
        headers = {"Authorization": self.key} if auth and self.key else {}
        try:
            response = httpx.request(method, f"{self.url}{path}", json=body, params=params, headers=headers, timeout=15)
        except httpx.HTTPError as error:
            raise Unreachable(f"cannot reach Tocsin at {self.url} ({error}); is it running (make run)?") from error
        if response.status_code >= 400:
            raise Refused(response)
        return response.json() if response.content else None

    def show(self, data: Any, columns: list[str] | None = None) -> None:
        if self.as_json or columns is None:
            click.echo(json.dumps(data, indent=2))
            return
        rows = data["results"] if isinstance(data, dict) and "results" in data else data
        rows = rows if isinstance(rows, list) else [rows]
        table(rows, columns)
        if isinstance(data, dict) and data.get("next"):
            click.echo(f"... {data['count']} in all; narrow the filters or use --json for scripts", err=True)


class Unreachable(click.ClickException):
    exit_code = 2


class Refused(click.ClickException):
    exit_code = 1

    def __init__(self, response: httpx.Response) -> None:
        try:
            body = response.json()
        except ValueError:
            body = response.text
        detail = body.get("detail") if isinstance(body, dict) and "detail" in body else body
        super().__init__(f"{response.status_code}: {detail if isinstance(detail, str) else json.dumps(detail)}")


def table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    def cell(row: dict[str, Any], column: str) -> str:
        value: Any = row
        for part in column.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return "" if value is None else str(value)

    cells = [[cell(row, c) for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row_cells in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row_cells, widths, strict=True)).rstrip())


def default_key() -> str | None:
    key = os.environ.get("TOCSIN_API_KEY")
    if not key and LOCAL_KEY.exists():  # the local stack's admin key
        key = LOCAL_KEY.read_text().strip()
    return key


@click.group()
@click.option("--url", envvar="TOCSIN_URL", default=DEFAULT_URL, show_default=True, help="Tocsin base URL")
@click.option(
    "--api-key", envvar="TOCSIN_API_KEY", default=None, help="API key (default: TOCSIN_API_KEY, or the local stack's)"
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts)")
@click.pass_context
def cli(ctx: click.Context, url: str, api_key: str | None, as_json: bool) -> None:
    """Tocsin on-call alerting from the command line."""
    ctx.obj = Client(url, api_key or default_key(), as_json)


# --- integrations and routes -----------------------------------------------------------------------------------------

INTEGRATION_COLUMNS = ["id", "name", "type", "team_id", "maintenance_mode", "heartbeat.status"]


@cli.group()
def integrations() -> None:
    """Integrations: where monitors send alerts."""


@integrations.command("list")
@click.option("--name")
@click.pass_obj
def integrations_list(api: Client, name: str | None) -> None:
    api.show(api.call("GET", "/api/v1/integrations/", params={"name": name} if name else None), INTEGRATION_COLUMNS)


@integrations.command("create")
@click.option("--name", required=True)
@click.option("--type", "kind", required=True, help="alertmanager, grafana_alerting, webhook, ...")
@click.option("--team", "team_id")
@click.option("--chain", "chain_id", help="escalation chain of the default route")
@click.pass_obj
def integrations_create(api: Client, name: str, kind: str, team_id: str | None, chain_id: str | None) -> None:
    body: dict[str, Any] = {"name": name, "type": kind, "team_id": team_id}
    if chain_id:
        body["default_route"] = {"escalation_chain_id": chain_id}
    created = api.call("POST", "/api/v1/integrations/", body)
    api.show(created, [*INTEGRATION_COLUMNS, "link"])
    if not api.as_json and created.get("link"):
        click.echo(f"\nSend alerts to: {created['link']}\n(shown once: the token is stored hashed)", err=True)


@integrations.command("show")
@click.argument("integration_id")
@click.pass_obj
def integrations_show(api: Client, integration_id: str) -> None:
    api.show(api.call("GET", f"/api/v1/integrations/{integration_id}/"))


@cli.group()
def routes() -> None:
    """Routes of an integration, checked in order before its default route."""


@routes.command("list")
@click.option("--integration", "integration_id")
@click.pass_obj
def routes_list(api: Client, integration_id: str | None) -> None:
    params = {"integration_id": integration_id} if integration_id else None
    api.show(api.call("GET", "/api/v1/routes/", params=params),
             ["id", "integration_id", "position", "routing_type", "routing_regex", "escalation_chain_id"])  # fmt: skip


@routes.command("create")
@click.option("--integration", "integration_id", required=True)
@click.option("--filter", "term", required=True, help="regex over the JSON payload, or a Jinja2 condition")
@click.option("--type", "routing_type", type=click.Choice(["regex", "jinja2"]), default="regex", show_default=True)
@click.option("--position", type=int)
@click.option("--chain", "chain_id")
@click.pass_obj
def routes_create(api: Client, integration_id: str, term: str, routing_type: str, position: int | None,
                  chain_id: str | None) -> None:  # fmt: skip
    body = {"integration_id": integration_id, "routing_regex": term, "routing_type": routing_type,
            "position": position, "escalation_chain_id": chain_id}  # fmt: skip
    api.show(api.call("POST", "/api/v1/routes/", {k: v for k, v in body.items() if v is not None}),
             ["id", "position", "routing_type", "routing_regex"])  # fmt: skip


@routes.command("delete")
@click.argument("route_id")
@click.pass_obj
def routes_delete(api: Client, route_id: str) -> None:
    api.call("DELETE", f"/api/v1/routes/{route_id}/")
    click.echo(f"deleted {route_id}")


# --- alert groups ----------------------------------------------------------------------------------------------------

GROUP_COLUMNS = ["id", "state", "alerts_count", "created_at", "title"]


@cli.group()
def groups() -> None:
    """Alert groups: list, show and act on them."""


@groups.command("list")
@click.option("--state", type=click.Choice(["firing", "acknowledged", "resolved", "silenced"]))
@click.option("--integration", "integration_id")
@click.option("--limit", type=click.IntRange(1, 100), default=25, show_default=True)
@click.pass_obj
def groups_list(api: Client, state: str | None, integration_id: str | None, limit: int) -> None:
    params = {k: v for k, v in {"state": state, "integration_id": integration_id, "perpage": limit}.items() if v}
    api.show(api.call("GET", "/api/v1/alert_groups/", params=params), GROUP_COLUMNS)


@groups.command("show")
@click.argument("group_id")
@click.pass_obj
def groups_show(api: Client, group_id: str) -> None:
    group = api.call("GET", f"/api/v1/alert_groups/{group_id}/")
    if api.as_json:
        api.show(group)
        return
    table([group], GROUP_COLUMNS)
    click.echo("")
    for entry in api.call("GET", f"/api/v1/alert_groups/{group_id}/timeline/"):
        click.echo(f"{entry['at']}  {entry['text']}")


def _act(action: str, help_text: str) -> None:
    @groups.command(action, help=help_text)
    @click.argument("group_ids", nargs=-1, required=True)
    @click.pass_obj
    def command(api: Client, group_ids: tuple[str, ...]) -> None:
        for group_id in group_ids:
            group = api.call("POST", f"/api/v1/alert_groups/{group_id}/{action}/")
            click.echo(json.dumps(group) if api.as_json else f"{group['id']}  {group['state']}")


for _name, _help in (("acknowledge", "Acknowledge: stops the escalation."), ("resolve", "Resolve."),
                     ("unacknowledge", "Unacknowledge: escalates again from the first step."),
                     ("unresolve", "Unresolve."), ("unsilence", "Unsilence.")):  # fmt: skip
    _act(_name, _help)
groups.add_command(groups.commands["acknowledge"], "ack")


@groups.command("silence")
@click.argument("group_id")
@click.option("--for", "delay", type=int, default=3600, show_default=True, help="seconds; -1 for ever")
@click.pass_obj
def groups_silence(api: Client, group_id: str, delay: int) -> None:
    group = api.call("POST", f"/api/v1/alert_groups/{group_id}/silence/", {"delay": delay})
    click.echo(json.dumps(group) if api.as_json else f"{group['id']}  {group['state']}")


# --- paging, maintenance, heartbeat, outbox --------------------------------------------------------------------------


@cli.command()
@click.option("--team", "team_id", help="team id to page")
@click.option("--user", "user_ids", multiple=True, help="user id to page (repeatable)")
@click.option("--title")
@click.option("--message")
@click.option("--important", is_flag=True)
@click.option("--group", "group_id", help="add the users as responders to this alert group")
@click.pass_obj
def page(api: Client, team_id: str | None, user_ids: tuple[str, ...], title: str | None, message: str | None,
         important: bool, group_id: str | None) -> None:  # fmt: skip
    """Page a team or people (or add responders to an alert group)."""
    body: dict[str, Any] = {"title": title, "message": message, "team": team_id, "alert_group_id": group_id,
                            "users": [{"id": u, "important": important} for u in user_ids] or None,
                            "important_team_escalation": important and bool(team_id)}  # fmt: skip
    group = api.call("POST", "/api/v1/escalation/", {k: v for k, v in body.items() if v is not None})
    api.show(group, GROUP_COLUMNS)


@cli.group()
def maintenance() -> None:
    """Maintenance windows of an integration."""


@maintenance.command("start")
@click.argument("integration_id")
@click.option("--mode", type=click.Choice(["maintenance", "debug"]), default="maintenance", show_default=True)
@click.option("--duration", type=click.IntRange(1), default=3600, show_default=True, help="seconds")
@click.pass_obj
def maintenance_start(api: Client, integration_id: str, mode: str, duration: int) -> None:
    shown = api.call(
        "POST", f"/api/v1/integrations/{integration_id}/maintenance_start/", {"mode": mode, "duration": duration}
    )
    api.show(shown, ["id", "name", "maintenance_mode", "maintenance_end_at"])


@maintenance.command("stop")
@click.argument("integration_id")
@click.pass_obj
def maintenance_stop(api: Client, integration_id: str) -> None:
    shown = api.call("POST", f"/api/v1/integrations/{integration_id}/maintenance_stop/")
    api.show(shown, ["id", "name", "maintenance_mode"])


@cli.group()
def heartbeat() -> None:
    """Heartbeats of integrations."""


@heartbeat.command("status")
@click.argument("integration_id", required=False)
@click.pass_obj
def heartbeat_status(api: Client, integration_id: str | None) -> None:
    if integration_id:
        data = api.call("GET", f"/api/v1/integrations/{integration_id}/")
    else:
        data = api.call("GET", "/api/v1/integrations/")
        data["results"] = [i for i in data["results"] if i.get("heartbeat")]
    api.show(data, ["id", "name", "heartbeat.status", "heartbeat.timeout_seconds", "heartbeat.last_heartbeat_time"])


@cli.command()
@click.option("--since", type=int, default=0, help="skip the first N records")
@click.pass_obj
def outbox(api: Client, since: int) -> None:
    """What the local stack has sent (e-mail, SMS, webhooks)."""
    data = api.call("GET", "/local/outbox", params={"since": since}, auth=False)
    if api.as_json:
        api.show(data)
        return
    table(data["records"], ["at", "channel", "to", "subject"])


# --- configuration importers (tocsin_cli/importers) -------------------------------------------------------------------

from tocsin_cli.importers.cli import import_group  # noqa: E402

cli.add_command(import_group)


def main() -> None:
    cli(prog_name="tocsin")


if __name__ == "__main__":
    main()
