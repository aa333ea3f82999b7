"""The ``tocsin`` command tree (issue #18.7): every command explains itself and takes ``--json`` after its name."""

from __future__ import annotations

from collections.abc import Iterator

import click
from click.testing import CliRunner

from tocsin_cli.main import cli


def commands(group: click.Group, path: str = "tocsin") -> Iterator[tuple[str, click.Command]]:
    for name, command in sorted(group.commands.items()):
        yield f"{path} {name}", command
        if isinstance(command, click.Group):
            yield from commands(command, f"{path} {name}")


def test_every_command_has_help_and_every_leaf_takes_json_after_its_name() -> None:
    found = dict(commands(cli))
    for expected in ("tocsin users create", "tocsin chains add-step", "tocsin routes set-chain",
                     "tocsin schedules oncall", "tocsin integrations demo", "tocsin insights"):  # fmt: skip
        assert expected in found
    for path, command in found.items():
        assert (command.help or "").strip(), f"{path} has no help"
        if not isinstance(command, click.Group):
            assert any("--json" in p.opts for p in command.params), f"{path} takes no --json"
            result = CliRunner().invoke(cli, [*path.split()[1:], "--help"])
            assert result.exit_code == 0 and "--json" in result.output, path


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("tocsin ")
