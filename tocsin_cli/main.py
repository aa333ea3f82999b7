"""The ``tocsin`` commands: set up on-call from nothing (users, escalation chains and their steps, integrations,
routes, schedules), then see and act on alert groups, page people, and read what the local stack sent.

Tables for people, ``--json`` for scripts (before or after the subcommand). Exit codes: 0 done (warnings on
stderr), 1 refused by Tocsin, 2 Tocsin could not be reached or the command was wrong.
"""

from __future__ import annotations

import json
import sys
import tomllib
from typing import Any

import click

from tocsin_cli.client import REPO_ROOT, Client, add_json_option, default_key, default_url, table


def version() -> str:
    """The project's version (one definition: pyproject.toml)."""
    with (REPO_ROOT / "pyproject.toml").open("rb") as file:
        return str(tomllib.load(file)["project"]["version"])


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--url",
    envvar="TOCSIN_URL",
    default=None,
    help="Tocsin base URL (default: TOCSIN_URL, else the local stack's: on PORT, else from .local/url, else :8080)",
)
@click.option(
    "--api-key", envvar="TOCSIN_API_KEY", default=None, help="API key (default: TOCSIN_API_KEY, or the local stack's)"
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts); also accepted after the subcommand")
@click.version_option(version(), "--version", "-V", prog_name="tocsin", message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context, url: str | None, api_key: str | None, as_json: bool) -> None:
    """Tocsin on-call alerting from the command line.

    \b
    From nothing to a page that reaches a person:
      tocsin users create --username alice --email alice@example.com
      tocsin integrations create --name Prometheus --type alertmanager --notify-me
      tocsin chains create --name Primary
      tocsin chains add-step <chain id> --notify <alice's id>
      tocsin integrations set-chain <integration id> <chain id>
      tocsin integrations demo <integration id>
      tocsin outbox
    """
    ctx.obj = Client(url or default_url(), api_key or default_key(), as_json)


def _drop_none(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v is not None}


# --- users -------------------------------------------------------------------------------------------------------

USER_COLUMNS = ["id", "username", "role", "email", "phone_number", "teams"]


@cli.group()
def users() -> None:
    """People: who can be notified, and how (their contact points)."""


@users.command("list")
@click.option("--username", help="only this username")
@click.pass_obj
def users_list(api: Client, username: str | None) -> None:
    """List users."""
    api.show(api.call("GET", "/api/v1/users/", params=_drop_none({"username": username})), USER_COLUMNS)


@users.command("create")
@click.option("--username", required=True)
@click.option("--email", help="e-mail address (the default notification rule mails it)")
@click.option("--phone", "phone_number", help="E.164 phone number, for SMS")
@click.option("--role", type=click.Choice(["admin", "editor", "viewer"]), default="editor", show_default=True)
@click.option("--team", "teams", multiple=True, help="team id (repeatable)")
@click.pass_obj
def users_create(api: Client, username: str, email: str | None, phone_number: str | None, role: str,
                 teams: tuple[str, ...]) -> None:  # fmt: skip
    """Create a user. Without an e-mail address or phone number nobody can notify them (a warning says so
    wherever they are paged)."""
    body = _drop_none({"username": username, "email": email, "phone_number": phone_number, "role": role})
    api.show(api.call("POST", "/api/v1/users/", {**body, "teams": list(teams)}), USER_COLUMNS)


@users.command("update")
@click.argument("user_id")
@click.option("--email")
@click.option("--phone", "phone_number")
@click.option("--role", type=click.Choice(["admin", "editor", "viewer"]))
@click.pass_obj
def users_update(api: Client, user_id: str, email: str | None, phone_number: str | None, role: str | None) -> None:
    """Change a user's contact points or role."""
    body = _drop_none({"email": email, "phone_number": phone_number, "role": role})
    api.show(api.call("PATCH", f"/api/v1/users/{user_id}/", body), USER_COLUMNS)


@users.command("delete")
@click.argument("user_id")
@click.pass_obj
def users_delete(api: Client, user_id: str) -> None:
    """Delete a user."""
    api.call("DELETE", f"/api/v1/users/{user_id}/")
    click.echo(f"deleted {user_id}")


# --- escalation chains and their steps --------------------------------------------------------------------------

CHAIN_COLUMNS = ["id", "name", "team_id"]
STEP_COLUMNS = ["id", "position", "type", "duration", "persons_to_notify", "notify_on_call_from_schedule",
                "team_to_notify", "important"]  # fmt: skip


@cli.group()
def chains() -> None:
    """Escalation chains: the steps that notify people when an alert group starts."""


@chains.command("list")
@click.pass_obj
def chains_list(api: Client) -> None:
    """List escalation chains."""
    api.show(api.call("GET", "/api/v1/escalation_chains/"), CHAIN_COLUMNS)


@chains.command("create")
@click.option("--name", required=True)
@click.option("--team", "team_id", help="team id")
@click.pass_obj
def chains_create(api: Client, name: str, team_id: str | None) -> None:
    """Create an escalation chain (it notifies nobody until it has a step: see add-step)."""
    api.show(api.call("POST", "/api/v1/escalation_chains/", _drop_none({"name": name, "team_id": team_id})),
             CHAIN_COLUMNS)  # fmt: skip


@chains.command("delete")
@click.argument("chain_id")
@click.pass_obj
def chains_delete(api: Client, chain_id: str) -> None:
    """Delete an escalation chain (routes that used it are left without one)."""
    api.call("DELETE", f"/api/v1/escalation_chains/{chain_id}/")
    click.echo(f"deleted {chain_id}")


@chains.command("steps")
@click.argument("chain_id")
@click.pass_obj
def chains_steps(api: Client, chain_id: str) -> None:
    """List a chain's steps, in order."""
    data = api.call("GET", "/api/v1/escalation_policies/", params={"escalation_chain_id": chain_id})
    api.show(data, STEP_COLUMNS)


@chains.command("add-step")
@click.argument("chain_id")
@click.option("--notify", "user_ids", multiple=True, help="notify this user id (repeatable)")
@click.option("--notify-schedule", "schedule_id", help="notify whoever is on call in this schedule")
@click.option("--notify-team", "team_id", help="notify every member of this team")
@click.option("--wait", "wait_seconds", type=click.IntRange(60, 86400), help="wait this many seconds")
@click.option("--resolve", is_flag=True, help="resolve the alert group")
@click.option("--important", is_flag=True, help="notify with the people's important rules")
@click.option("--position", type=click.IntRange(0), help="0 first (default: last)")
@click.pass_obj
def chains_add_step(api: Client, chain_id: str, user_ids: tuple[str, ...], schedule_id: str | None,
                    team_id: str | None, wait_seconds: int | None, resolve: bool, important: bool,
                    position: int | None) -> None:  # fmt: skip
    """Add one step to a chain: --notify, --notify-schedule, --notify-team, --wait or --resolve."""
    kinds = [bool(user_ids), bool(schedule_id), bool(team_id), wait_seconds is not None, resolve]
    if sum(kinds) != 1:
        raise click.UsageError("give exactly one of --notify, --notify-schedule, --notify-team, --wait, --resolve")
    if user_ids:
        step: dict[str, Any] = {"type": "notify_persons", "persons_to_notify": list(user_ids)}
    elif schedule_id:
        step = {"type": "notify_on_call_from_schedule", "notify_on_call_from_schedule": schedule_id}
    elif team_id:
        step = {"type": "notify_team_members", "team_to_notify": team_id}
    elif wait_seconds is not None:
        step = {"type": "wait", "duration": wait_seconds}
    else:
        step = {"type": "resolve"}
    if important and step["type"].startswith("notify"):
        step["important"] = True
    body = _drop_none({"escalation_chain_id": chain_id, **step, "position": position})
    api.show(api.call("POST", "/api/v1/escalation_policies/", body), STEP_COLUMNS)


@chains.command("remove-step")
@click.argument("step_id")
@click.pass_obj
def chains_remove_step(api: Client, step_id: str) -> None:
    """Remove a step from its chain."""
    api.call("DELETE", f"/api/v1/escalation_policies/{step_id}/")
    click.echo(f"deleted {step_id}")


# --- integrations and routes -------------------------------------------------------------------------------------

INTEGRATION_COLUMNS = ["id", "name", "type", "team_id", "default_route.escalation_chain_id", "maintenance_mode",
                       "heartbeat.status"]  # fmt: skip
SHOWN_ONCE = {"link": "Send alerts to", "routing_key": "Routing key", "inbound_email": "E-mail alerts to"}


@cli.group()
def integrations() -> None:
    """Integrations: where monitors send alerts."""


@integrations.command("list")
@click.option("--name", help="only this name")
@click.pass_obj
def integrations_list(api: Client, name: str | None) -> None:
    """List integrations."""
    api.show(api.call("GET", "/api/v1/integrations/", params=_drop_none({"name": name})), INTEGRATION_COLUMNS)


@integrations.command("create")
@click.option("--name", required=True)
@click.option("--type", "kind", required=True, help="alertmanager, grafana_alerting, webhook, pagerduty, ...")
@click.option("--team", "team_id", help="team id")
@click.option("--chain", "chain_id", help="escalation chain of the default route")
@click.option("--notify-me", is_flag=True, help="make the default route's chain one that notifies you")
@click.pass_obj
def integrations_create(api: Client, name: str, kind: str, team_id: str | None, chain_id: str | None,
                        notify_me: bool) -> None:  # fmt: skip
    """Create an integration. Its URL (or routing key, or e-mail address) is shown once: the token is stored
    hashed."""
    body: dict[str, Any] = {"name": name, "type": kind, "team_id": team_id}
    if chain_id:
        body["default_route"] = {"escalation_chain_id": chain_id}
    if notify_me:
        body["default_chain_notifies_me"] = True
    created = api.call("POST", "/api/v1/integrations/", body)
    shown = [column for column in SHOWN_ONCE if created.get(column)]
    api.show(created, [*INTEGRATION_COLUMNS, *shown])
    if not api.as_json and shown:
        lines = "\n".join(f"{SHOWN_ONCE[column]}: {created[column]}" for column in shown)
        click.echo(f"\n{lines}\n(shown once: the token is stored hashed)", err=True)


@integrations.command("show")
@click.argument("integration_id")
@click.pass_obj
def integrations_show(api: Client, integration_id: str) -> None:
    """Show an integration (as JSON)."""
    api.show(api.call("GET", f"/api/v1/integrations/{integration_id}/"))


@integrations.command("set-chain")
@click.argument("integration_id")
@click.argument("chain_id")
@click.pass_obj
def integrations_set_chain(api: Client, integration_id: str, chain_id: str) -> None:
    """Set the escalation chain of an integration's default route ("none": no chain)."""
    chain = None if chain_id.lower() == "none" else chain_id
    body = {"default_route": {"escalation_chain_id": chain}}
    api.show(api.call("PATCH", f"/api/v1/integrations/{integration_id}/", body), INTEGRATION_COLUMNS)


@integrations.command("demo")
@click.argument("integration_id")
@click.pass_obj
def integrations_demo(api: Client, integration_id: str) -> None:
    """Send a demo alert (the type's example payload): a new alert group that escalates as a real one."""
    sent = api.call("POST", f"/api/v1/integrations/{integration_id}/send_demo_alert/")
    if api.as_json:
        api.show(sent)
        return
    for group_id in sent["alert_group_ids"]:
        api.call("GET", f"/api/v1/alert_groups/{group_id}/")  # its warnings, if it notifies nobody
        click.echo(group_id)


@integrations.command("delete")
@click.argument("integration_id")
@click.pass_obj
def integrations_delete(api: Client, integration_id: str) -> None:
    """Delete an integration (its URL stops working)."""
    api.call("DELETE", f"/api/v1/integrations/{integration_id}/")
    click.echo(f"deleted {integration_id}")


ROUTE_COLUMNS = ["id", "integration_id", "position", "routing_type", "routing_regex", "escalation_chain_id"]


@cli.group()
def routes() -> None:
    """Routes of an integration, checked in order before its default route; each picks an escalation chain."""


@routes.command("list")
@click.option("--integration", "integration_id")
@click.pass_obj
def routes_list(api: Client, integration_id: str | None) -> None:
    """List routes (the default route is the last of its integration)."""
    params = _drop_none({"integration_id": integration_id})
    api.show(api.call("GET", "/api/v1/routes/", params=params), [*ROUTE_COLUMNS, "is_the_last_route"])


@routes.command("create")
@click.option("--integration", "integration_id", required=True)
@click.option("--filter", "term", required=True, help="regex over the JSON payload, or a Jinja2 condition")
@click.option("--type", "routing_type", type=click.Choice(["regex", "jinja2"]), default="regex", show_default=True)
@click.option("--position", type=int)
@click.option("--chain", "chain_id")
@click.pass_obj
def routes_create(api: Client, integration_id: str, term: str, routing_type: str, position: int | None,
                  chain_id: str | None) -> None:  # fmt: skip
    """Add a route to an integration."""
    body = {"integration_id": integration_id, "routing_regex": term, "routing_type": routing_type,
            "position": position, "escalation_chain_id": chain_id}  # fmt: skip
    api.show(api.call("POST", "/api/v1/routes/", _drop_none(body)), ROUTE_COLUMNS)


@routes.command("set-chain")
@click.argument("route_id")
@click.argument("chain_id")
@click.pass_obj
def routes_set_chain(api: Client, route_id: str, chain_id: str) -> None:
    """Set a route's escalation chain ("none": no chain)."""
    chain = None if chain_id.lower() == "none" else chain_id
    api.show(api.call("PATCH", f"/api/v1/routes/{route_id}/", {"escalation_chain_id": chain}), ROUTE_COLUMNS)


@routes.command("delete")
@click.argument("route_id")
@click.pass_obj
def routes_delete(api: Client, route_id: str) -> None:
    """Delete a route (not the default one)."""
    api.call("DELETE", f"/api/v1/routes/{route_id}/")
    click.echo(f"deleted {route_id}")


# --- schedules ---------------------------------------------------------------------------------------------------

SCHEDULE_COLUMNS = ["id", "name", "type", "time_zone", "team_id", "on_call_now"]


@cli.group()
def schedules() -> None:
    """On-call schedules: who is on call when."""


@schedules.command("list")
@click.pass_obj
def schedules_list(api: Client) -> None:
    """List schedules with who is on call now."""
    api.show(api.call("GET", "/api/v1/schedules/"), SCHEDULE_COLUMNS)


@schedules.command("create")
@click.option("--name", required=True)
@click.option("--team", "team_id")
@click.option("--time-zone", default="UTC", show_default=True)
@click.pass_obj
def schedules_create(api: Client, name: str, team_id: str | None, time_zone: str) -> None:
    """Create a schedule (add who is on call with add-shift)."""
    body = _drop_none({"name": name, "type": "web", "team_id": team_id, "time_zone": time_zone})
    api.show(api.call("POST", "/api/v1/schedules/", body), SCHEDULE_COLUMNS)


@schedules.command("add-shift")
@click.argument("schedule_id")
@click.option("--user", "user_ids", multiple=True, required=True, help="user id, in turn (repeatable)")
@click.option("--start", required=True, help="first shift's start, wall clock of the schedule: 2026-12-07T09:00:00")
@click.option("--hours", type=click.IntRange(1, 24 * 31), default=24, show_default=True, help="shift length")
@click.option("--every", "frequency", type=click.Choice(["daily", "weekly"]), default="daily", show_default=True,
              help="a new shift (of the next user) every day or week")  # fmt: skip
@click.option("--name", help="the shift's name (default: the users, in turn)")
@click.pass_obj
def schedules_add_shift(api: Client, schedule_id: str, user_ids: tuple[str, ...], start: str, hours: int,
                        frequency: str, name: str | None) -> None:  # fmt: skip
    """Add a rotation to a schedule: the users take turns, one shift each."""
    body = {
        "schedule_id": schedule_id,
        "name": name or f"rotation of {', '.join(user_ids)}",
        "type": "rolling_users",
        "start": start,
        "duration": hours * 3600,
        "frequency": frequency,
        "rolling_users": [[user] for user in user_ids],
    }
    api.show(api.call("POST", "/api/v1/on_call_shifts/", body), ["id", "name", "type", "start", "duration"])


@schedules.command("oncall")
@click.argument("schedule_id", required=False)
@click.pass_obj
def schedules_oncall(api: Client, schedule_id: str | None) -> None:
    """Who is on call now: in one schedule, or in each."""
    found = [api.call("GET", f"/api/v1/schedules/{schedule_id}/")] if schedule_id else api.all("/api/v1/schedules/")
    names = {u["id"]: u["username"] for u in api.all("/api/v1/users/")}
    rows = [
        {"schedule": s["name"], "id": s["id"], "on_call_now": [names.get(u, u) for u in s["on_call_now"]] or None}
        for s in found
    ]
    if api.as_json:
        api.show(rows)
        return
    table(rows, ["schedule", "id", "on_call_now"])


# --- alert groups ------------------------------------------------------------------------------------------------

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
    """List alert groups, newest first."""
    params = {k: v for k, v in {"state": state, "integration_id": integration_id, "perpage": limit}.items() if v}
    api.show(api.call("GET", "/api/v1/alert_groups/", params=params), GROUP_COLUMNS)


@groups.command("show")
@click.argument("group_id")
@click.pass_obj
def groups_show(api: Client, group_id: str) -> None:
    """Show an alert group and its timeline."""
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
    """Silence: no notifications for a while."""
    group = api.call("POST", f"/api/v1/alert_groups/{group_id}/silence/", {"delay": delay})
    click.echo(json.dumps(group) if api.as_json else f"{group['id']}  {group['state']}")


# --- paging, maintenance, heartbeat, insights, outbox --------------------------------------------------------------


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
    """Page a team or people (or add responders to an alert group). A person with no contact point is paged
    all the same, with a warning: nobody can reach them."""
    body: dict[str, Any] = {"title": title, "message": message, "team": team_id, "alert_group_id": group_id,
                            "users": [{"id": u, "important": important} for u in user_ids] or None,
                            "important_team_escalation": important and bool(team_id)}  # fmt: skip
    group = api.call("POST", "/api/v1/escalation/", _drop_none(body))
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
    """Start a maintenance window: alerts are collected, nobody is notified."""
    shown = api.call(
        "POST", f"/api/v1/integrations/{integration_id}/maintenance_start/", {"mode": mode, "duration": duration}
    )
    api.show(shown, ["id", "name", "maintenance_mode", "maintenance_end_at"])


@maintenance.command("stop")
@click.argument("integration_id")
@click.pass_obj
def maintenance_stop(api: Client, integration_id: str) -> None:
    """Stop a maintenance window now."""
    shown = api.call("POST", f"/api/v1/integrations/{integration_id}/maintenance_stop/")
    api.show(shown, ["id", "name", "maintenance_mode"])


@cli.group()
def heartbeat() -> None:
    """Heartbeats of integrations."""


@heartbeat.command("status")
@click.argument("integration_id", required=False)
@click.pass_obj
def heartbeat_status(api: Client, integration_id: str | None) -> None:
    """Heartbeat of one integration, or of each that has one."""
    if integration_id:
        data = api.call("GET", f"/api/v1/integrations/{integration_id}/")
    else:
        data = api.call("GET", "/api/v1/integrations/")
        data["results"] = [i for i in data["results"] if i.get("heartbeat")]
    api.show(data, ["id", "name", "heartbeat.status", "heartbeat.timeout_seconds", "heartbeat.last_heartbeat_time"])


@cli.command()
@click.option("--period", type=click.Choice(["24h", "7d", "30d"]), default="7d", show_default=True)
@click.pass_obj
def insights(api: Client, period: str) -> None:
    """MTTA, MTTR, alert groups per integration, the noisiest groups and notifications per person."""
    data = api.call("GET", "/api/v1/insights/", params={"period": period})
    if api.as_json:
        api.show(data)
        return

    def minutes(seconds: float | None) -> str:
        return "-" if seconds is None else f"{seconds / 60:.1f} min"

    click.echo(f"{data['alert_groups']} alert groups over {period}; MTTA {minutes(data['mtta_seconds'])}, "
               f"MTTR {minutes(data['mttr_seconds'])}\n")  # fmt: skip
    table(data["per_integration"], ["name", "count"])
    click.echo("")
    table(data["noisiest"], ["id", "alerts_count", "integration_name", "title"])
    click.echo("")
    table(data["notifications"], ["name", "count"])


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
add_json_option(cli)


def main() -> None:
    cli(prog_name="tocsin")


if __name__ == "__main__":
    sys.exit(main())
