"""The ``tocsin`` command line against the real local stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from local.stack import LocalStack
from tests.support.processes import HTTP_TIMEOUT
from tocsin_cli.main import cli


def run(stack: LocalStack, *args: str, key: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--url", stack.base_url, "--api-key", key or stack.api_key, *args])
    return result.exit_code, result.output


def run_json(stack: LocalStack, *args: str) -> Any:
    result = CliRunner().invoke(cli, ["--url", stack.base_url, "--api-key", stack.api_key, "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # warnings go to stderr


@pytest.mark.e2e
def test_integrations_groups_and_actions(stack: LocalStack) -> None:
    code, output = run(stack, "integrations", "create", "--name", "cli hook", "--type", "formatted_webhook")
    assert code == 0 and "Send alerts to: http://127.0.0.1" in output
    link = output.split("Send alerts to: ")[1].split()[0]
    integration = next(i for i in run_json(stack, "integrations", "list")["results"] if i["name"] == "cli hook")
    assert (
        httpx.post(link, json={"alert_uid": "cli", "title": "CLI test alert"}, timeout=HTTP_TIMEOUT).status_code == 200
    )

    code, output = run(stack, "groups", "list", "--integration", integration["id"])
    assert code == 0 and output.splitlines()[0].split() == ["ID", "STATE", "ALERTS_COUNT", "CREATED_AT", "TITLE"]
    group_id = output.splitlines()[1].split()[0]
    assert "firing" in output and "CLI test alert" in output
    assert run(stack, "groups", "ack", group_id)[1].strip() == f"{group_id}  acknowledged"
    code, output = run(stack, "groups", "ack", group_id)
    assert code == 1 and "Can't acknowledge an acknowledged alert group" in output
    assert run(stack, "groups", "resolve", group_id)[0] == 0
    code, output = run(stack, "groups", "show", group_id)
    assert "Acknowledged by admin" not in output and "Resolved by UADMIN" in output

    route = run_json(stack, "routes", "create", "--integration", integration["id"], "--filter", "database")
    assert route["routing_regex"] == "database" and route["position"] == 0
    assert run(stack, "routes", "delete", route["id"])[0] == 0

    started = run_json(stack, "maintenance", "start", integration["id"], "--mode", "debug", "--duration", "600")
    assert started["maintenance_mode"] == "debug"
    assert run(stack, "maintenance", "stop", integration["id"])[0] == 0
    code, output = run(stack, "heartbeat", "status", integration["id"])
    assert code == 0 and "inactive" in output


@pytest.mark.e2e
def test_paging_and_the_outbox(stack: LocalStack) -> None:
    user = httpx.post(
        f"{stack.base_url}/api/v1/users/",
        headers={"Authorization": stack.api_key},
        json={"username": "cli-pager", "email": "pager@example.com"},
        timeout=HTTP_TIMEOUT,
    ).json()
    group = run_json(stack, "page", "--user", user["id"], "--title", "Help from the CLI")
    assert group["title"] == "Help from the CLI"

    def mailed() -> bool:
        return any(r.get("to") == "pager@example.com" for r in run_json(stack, "outbox")["records"])

    import time

    deadline = time.monotonic() + 15
    while not mailed() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert mailed()


@pytest.mark.e2e
def test_clear_errors(stack: LocalStack) -> None:
    code, output = run(stack, "integrations", "list", key="wrong")
    assert code == 1 and "401: Invalid token." in output
    result = CliRunner().invoke(cli, ["--url", "http://127.0.0.1:9", "integrations", "list"])
    assert result.exit_code == 2 and "cannot reach Tocsin" in result.output
    code, output = run(stack, "groups", "list", "--state", "sleepy")
    assert code == 2 and "Invalid value" in output


@pytest.mark.e2e
def test_the_installed_command(stack: LocalStack) -> None:
    env = {**os.environ, "TOCSIN_URL": stack.base_url, "TOCSIN_API_KEY": stack.api_key}
    done = subprocess.run([sys.executable, "-m", "tocsin_cli", "--json", "integrations", "list"], env=env,
                          capture_output=True, text=True, timeout=30, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "results" in json.loads(done.stdout)
