"""The ``tocsin`` command alone sets up on-call from nothing against the real local stack (issue #18.7): a user, an
integration, an escalation chain and its step, the route's chain, a schedule with who is on call now, a demo
alert that reaches the user's outbox; warnings when nobody would be notified; secrets shown once in the table.

The command runs as people run it (``python -m tocsin_cli``, a subprocess) and finds the stack by itself: its URL
from the running stack's ``.local/url`` (or ``PORT``) and its admin key from ``.local/api_key``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from local.stack import LocalStack
from tests.support.processes import HTTP_TIMEOUT

pytestmark = pytest.mark.e2e


def tocsin(stack: LocalStack, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("TOCSIN_URL", "TOCSIN_API_KEY", "PORT")}
    done = subprocess.run(
        [sys.executable, "-m", "tocsin_cli", *args],
        env={**clean, "TOCSIN_LOCAL_DIR": str(stack.local_dir), **env},
        capture_output=True,
        text=True,
        timeout=HTTP_TIMEOUT,
        check=False,
    )
    return done


def ok(stack: LocalStack, *args: str) -> Any:
    """Run with ``--json`` after the subcommand, as scripts may; the JSON answer."""
    done = tocsin(stack, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_from_nothing_to_a_page_in_the_outbox_with_the_cli_alone(stack: LocalStack) -> None:
    carol = ok(stack, "users", "create", "--username", "cli-carol", "--email", "carol@cli.test")

    made = tocsin(stack, "integrations", "create", "--name", "cli setup", "--type", "alertmanager")
    assert made.returncode == 0, made.stderr
    assert "warning: no escalation chain: nobody is notified" in made.stderr
    header, row = made.stdout.splitlines()[:2]
    assert header.split()[:3] == ["ID", "NAME", "TYPE"] and "LINK" in header
    integration_id = row.split()[0]
    assert f"{stack.base_url}/integrations/v1/alertmanager/" in row  # the URL, shown once, in the table

    chain = ok(stack, "chains", "create", "--name", "cli primary")
    step = ok(stack, "chains", "add-step", chain["id"], "--notify", carol["id"])
    assert step["type"] == "notify_persons" and step["persons_to_notify"] == [carol["id"]]
    [route] = ok(stack, "routes", "list", "--integration", integration_id)["results"]
    set_chain = tocsin(stack, "routes", "set-chain", route["id"], chain["id"])
    assert set_chain.returncode == 0 and "warning" not in set_chain.stderr, set_chain.stderr
    assert ok(stack, "integrations", "show", integration_id)["warnings"] == []

    demo = tocsin(stack, "integrations", "demo", integration_id)
    assert demo.returncode == 0 and "warning" not in demo.stderr, demo.stderr
    group_id = demo.stdout.strip()

    deadline = time.monotonic() + 30
    mailed: list[dict[str, Any]] = []
    while not mailed and time.monotonic() < deadline:
        mailed = [r for r in ok(stack, "outbox")["records"] if r.get("to") == "carol@cli.test"]
        time.sleep(0.3)
    assert mailed, "the demo alert did not reach carol's outbox"
    shown = tocsin(stack, "groups", "show", group_id)
    assert shown.returncode == 0 and "cli-carol" in shown.stdout

    schedule = ok(stack, "schedules", "create", "--name", "cli rota")
    start = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")  # the stack's own clock
    ok(stack, "schedules", "add-shift", schedule["id"], "--user", carol["id"], "--start", start, "--hours", "24")
    on_call = tocsin(stack, "schedules", "oncall", schedule["id"])
    assert on_call.returncode == 0, on_call.stderr
    assert on_call.stdout.splitlines()[1].split() == ["cli", "rota", schedule["id"], "cli-carol"]


def test_warnings_go_to_stderr_and_the_exit_status_stays_0(stack: LocalStack) -> None:
    dave = ok(stack, "users", "create", "--username", "cli-dave")  # no contact point
    paged = tocsin(stack, "page", "--user", dave["id"], "--title", "Anyone?")
    assert paged.returncode == 0, paged.stderr
    assert "warning: user cli-dave has no contact point: they are not notified" in paged.stderr
    assert "Anyone?" in paged.stdout

    me = tocsin(stack, "integrations", "create", "--name", "cli notify me", "--type", "webhook", "--notify-me")
    assert me.returncode == 0 and "no escalation chain" not in me.stderr
    assert "warning: user admin has no contact point" in me.stderr  # the chain notifies admin, who has no address


def test_secrets_shown_once_are_in_the_table(stack: LocalStack) -> None:
    pagerduty = tocsin(stack, "integrations", "create", "--name", "cli pd", "--type", "pagerduty")
    assert pagerduty.returncode == 0, pagerduty.stderr
    header, row = pagerduty.stdout.splitlines()[:2]
    assert "ROUTING_KEY" in header
    key = row.split()[-1]
    assert len(key) >= 20 and f"Routing key: {key}" in pagerduty.stderr

    email = tocsin(stack, "integrations", "create", "--name", "cli mail", "--type", "inbound_email")
    assert email.returncode == 0, email.stderr
    header, row = email.stdout.splitlines()[:2]
    assert "INBOUND_EMAIL" in header and f"@{stack.inbound_domain}" in row


def test_the_stack_is_found_by_port_and_the_version_is_shown(stack: LocalStack, tmp_path: Any) -> None:
    # no .local/url here: PORT names the stack, TOCSIN_API_KEY its key
    found = tocsin(stack, "integrations", "list", "--json", TOCSIN_LOCAL_DIR=str(tmp_path), PORT=str(stack.port),
                   TOCSIN_API_KEY=stack.api_key)  # fmt: skip
    assert found.returncode == 0 and "results" in json.loads(found.stdout)
    version = tocsin(stack, "--version")
    assert version.returncode == 0 and version.stdout.strip().startswith("tocsin ")
