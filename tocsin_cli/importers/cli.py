"""``tocsin import oncall|pagerduty|opsgenie``: read a vendor's API, create what is missing in Tocsin."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click
import httpx

from tocsin_cli.importers import oncall, opsgenie, pagerduty
from tocsin_cli.importers.base import ImportFailed, Refused, Run


def _run(api: Any, dry_run: bool, source: httpx.Client, work: Callable[[httpx.Client, Run], None]) -> None:
    headers = {"Authorization": api.key} if api.key else {}
    with httpx.Client(base_url=api.url, headers=headers, timeout=30) as tocsin, source:
        run = Run(tocsin, dry_run=dry_run)
        try:
            work(source, run)
        except ImportFailed as error:
            raise click.ClickException(str(error)) from error
        except Refused as error:
            raise click.ClickException(f"Tocsin refused a read: {error}") from error
        except httpx.HTTPError as error:
            exc = click.ClickException(f"cannot reach Tocsin at {api.url} ({error}); is it running (make run)?")
            exc.exit_code = 2
            raise exc from error
    report(run, api.as_json)
    if run.refused:
        raise click.ClickException(f"Tocsin refused {run.refused} object(s): see the plan")


def report(run: Run, as_json: bool) -> None:
    from tocsin_cli.client import table

    if as_json:
        click.echo(json.dumps(run.as_json(), indent=2))
        return
    click.echo("Plan (dry run: nothing was created)" if run.dry_run else "Done")
    table(
        [
            {"kind": e.kind, "source_id": e.source_id, "name": e.name, "action": e.action, "reason": e.reason}
            for e in run.entries
        ],
        ["kind", "source_id", "name", "action", "reason"],
    )
    counts = run.counts()
    click.echo(
        f"\n{counts['create']} to create, {counts['reuse']} reused, {counts['skip']} skipped"
        if run.dry_run
        else f"\n{counts['create']} created, {counts['reuse']} reused, {counts['skip']} skipped"
    )
    if run.urls:
        click.echo("\nIngest URLs (old -> new; new URLs are shown only once: keep them)")
        table([url.__dict__ for url in run.urls], ["name", "old", "new"])


@click.group("import")
def import_group() -> None:
    """Import configuration from Grafana OnCall, PagerDuty or Opsgenie (idempotent; --dry-run to preview)."""


dry_run_option = click.option("--dry-run", is_flag=True, help="Print the plan; create nothing")


@import_group.command("oncall")
@click.option(
    "--url",
    "source_url",
    envvar="ONCALL_API_URL",
    required=True,
    help="Grafana OnCall base URL (ONCALL_API_URL), e.g. https://oncall-prod-us-central-0.grafana.net/oncall",
)
@click.option("--token", envvar="ONCALL_API_TOKEN", required=True, help="OnCall API token (ONCALL_API_TOKEN)")
@dry_run_option
@click.pass_obj
def import_oncall(api: Any, source_url: str, token: str, dry_run: bool) -> None:
    """Teams, users, webhooks, schedules and shifts, escalation chains, integrations and routes."""
    _run(api, dry_run, oncall.client(source_url, token), oncall.import_all)


@import_group.command("pagerduty")
@click.option("--token", envvar="PAGERDUTY_TOKEN", required=True, help="REST API key (PAGERDUTY_TOKEN)")
@click.option("--api-url", default=pagerduty.API_URL, show_default=True, envvar="PAGERDUTY_API_URL")
@dry_run_option
@click.pass_obj
def import_pagerduty(api: Any, token: str, api_url: str, dry_run: bool) -> None:
    """Teams, users, schedules (layers, overrides), escalation policies, services as pagerduty integrations."""
    _run(api, dry_run, pagerduty.client(token, api_url), lambda http, run: pagerduty.import_all(http, run, api.url))


@import_group.command("opsgenie")
@click.option("--token", envvar="OPSGENIE_API_KEY", required=True, help="API key (OPSGENIE_API_KEY)")
@click.option(
    "--api-url",
    default=opsgenie.API_URL,
    show_default=True,
    envvar="OPSGENIE_API_URL",
    help="https://api.eu.opsgenie.com for EU accounts",
)
@dry_run_option
@click.pass_obj
def import_opsgenie(api: Any, token: str, api_url: str, dry_run: bool) -> None:
    """Teams, users, schedules (rotations, overrides), escalations, integrations."""
    _run(api, dry_run, opsgenie.client(token, api_url), opsgenie.import_all)
