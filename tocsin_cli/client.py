"""The API client of the ``tocsin`` commands: where Tocsin is, its key, calls with clear errors, tables and JSON.

Exit codes: 0 done (warnings, such as "nobody is notified", go to stderr), 1 refused by Tocsin (the message says
why), 2 Tocsin could not be reached or the command was wrong.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PORT = 8080


def local_dir() -> Path:
    """The local stack's state directory (``TOCSIN_LOCAL_DIR``, else ``.local/`` of this checkout)."""
    return Path(os.environ.get("TOCSIN_LOCAL_DIR") or REPO_ROOT / ".local")


def default_url() -> str:
    """The local stack's URL: on ``PORT`` when it is set (as ``make run`` reads it), else the one the running local
    stack wrote to ``.local/url``, else port 8080."""
    port = os.environ.get("PORT")
    if port:
        return f"http://127.0.0.1:{port}"
    written = local_dir() / "url"
    if written.exists():
        return written.read_text().strip()
    return f"http://127.0.0.1:{DEFAULT_PORT}"


def default_key() -> str | None:
    """``TOCSIN_API_KEY``, else the local stack's admin key (``.local/api_key``)."""
    key = os.environ.get("TOCSIN_API_KEY")
    stored = local_dir() / "api_key"
    if not key and stored.exists():
        key = stored.read_text().strip()
    return key


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


class Client:
    def __init__(self, url: str, key: str | None, as_json: bool) -> None:
        self.url, self.key, self.as_json = url.rstrip("/"), key, as_json

    def call(self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None,
             auth: bool = True) -> Any:  # fmt: skip
        """The answer's JSON; its ``warnings`` (why nobody would be notified) are printed on stderr."""
        headers = {"Authorization": self.key} if auth and self.key else {}
        try:
            response = httpx.request(method, f"{self.url}{path}", json=body, params=params, headers=headers, timeout=15)
        except httpx.HTTPError as error:
            raise Unreachable(f"cannot reach Tocsin at {self.url} ({error}); is it running (make run)?") from error
        if response.status_code >= 400:
            raise Refused(response)
        data = response.json() if response.content else None
        if isinstance(data, dict):
            for warning in data.get("warnings") or []:
                click.echo(f"warning: {warning}", err=True)
        return data

    def all(self, path: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every item of a paginated listing."""
        found: list[dict[str, Any]] = []
        page: dict[str, Any] | None = self.call("GET", path, params=params)
        while page is not None:
            found += page["results"]
            following = urlsplit(page["next"]) if page.get("next") else None
            page = self.call("GET", f"{following.path}?{following.query}") if following else None
        return found

    def show(self, data: Any, columns: list[str] | None = None) -> None:
        if self.as_json or columns is None:
            click.echo(json.dumps(data, indent=2))
            return
        rows = data["results"] if isinstance(data, dict) and "results" in data else data
        rows = rows if isinstance(rows, list) else [rows]
        table(rows, columns)
        if isinstance(data, dict) and data.get("next"):
            click.echo(f"... {data['count']} in all; narrow the filters or use --json for scripts", err=True)


def table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    def cell(row: dict[str, Any], column: str) -> str:
        value: Any = row
        for part in column.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, list):
            return ",".join(str(v) for v in value)
        return "" if value is None else str(value)

    cells = [[cell(row, c) for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row_cells in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row_cells, widths, strict=True)).rstrip())


def json_flag(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """``--json`` after a subcommand: the same as before it."""
    if value:
        ctx.find_object(Client).as_json = True  # type: ignore[union-attr]


def add_json_option(command: click.Command) -> None:
    """Give ``command`` and every command under it a ``--json`` of their own."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            add_json_option(sub)
        return
    if not any(p.name == "late_json" for p in command.params):
        command.params.append(
            click.Option(
                ["--json", "late_json"],
                is_flag=True,
                expose_value=False,
                callback=json_flag,
                help="Print JSON (for scripts).",
            )
        )
