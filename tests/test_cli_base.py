"""The CLI's shared behaviour: help, version, verbosity, error conversion, did-you-mean, JSON output."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from hwnat import __version__
from hwnat.cli.main import COMMANDS, cli
from hwnat.cli.options import HwnatGroup, echo_table, json_option
from hwnat.errors import ConfigError


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_lists_every_registered_command(runner: CliRunner, flag: str) -> None:
    result = runner.invoke(cli, [flag])
    assert result.exit_code == 0, result.output
    assert "Usage: hwnat" in result.output
    for name in COMMANDS:
        assert name in result.output


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help(runner: CliRunner, name: str) -> None:
    result = runner.invoke(cli, [name, "-h"])
    assert result.exit_code == 0, result.output
    assert f"Usage: hwnat {name}" in result.output


def test_version(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"hwnat {__version__}\n"


def test_python_dash_m_runs_the_same_cli() -> None:  # what `torchrun -m hwnat train-supernet ...` relies on
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "hwnat", "--version"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout == f"hwnat {__version__}\n"


def test_unknown_command_suggests_the_closest(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["targts"])
    assert result.exit_code == 2
    assert "No such command 'targts'" in result.output
    assert "did you mean 'targets'?" in result.output


def test_unknown_command_without_close_match(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["zzzzzz"])
    assert result.exit_code == 2
    assert "No such command 'zzzzzz'." in result.output
    assert "did you mean" not in result.output


def _group_with_failing_command() -> click.Group:
    @click.group(cls=HwnatGroup)
    def group() -> None:
        """A throwaway group."""

    @group.command()
    def boom() -> None:
        raise ConfigError("key 'x' = 3 is not allowed; allowed values: 1, 2")

    return group


def test_hwnat_errors_become_clean_messages(runner: CliRunner) -> None:
    result = runner.invoke(_group_with_failing_command(), ["boom"])
    assert result.exit_code == 1
    assert "Error: key 'x' = 3 is not allowed; allowed values: 1, 2" in result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


def test_errors_of_nested_groups_are_converted(runner: CliRunner) -> None:
    @click.group(cls=HwnatGroup)
    def outer() -> None:
        """Outer."""

    outer.add_command(_group_with_failing_command(), "inner")
    result = runner.invoke(outer, ["inner", "boom"])
    assert result.exit_code == 1
    assert "Error: key 'x'" in result.output


def test_other_exceptions_are_not_hidden(runner: CliRunner) -> None:
    @click.group(cls=HwnatGroup)
    def group() -> None:
        """Group."""

    @group.command()
    def bug() -> None:
        raise ZeroDivisionError("a real bug")

    result = runner.invoke(group, ["bug"])
    assert isinstance(result.exception, ZeroDivisionError)


def test_lazy_commands_load_on_demand(runner: CliRunner) -> None:
    group = HwnatGroup(name="g", lazy_commands={"targets": "hwnat.cli.targets_cmd:targets"})
    assert group.commands == {}
    assert group.list_commands(click.Context(group)) == ["targets"]
    assert group.get_command(click.Context(group), "targets").name == "targets"


def test_json_option_sets_as_json(runner: CliRunner) -> None:
    @click.command()
    @json_option
    def show(as_json: bool) -> None:
        click.echo(json.dumps({"as_json": as_json}))

    assert json.loads(runner.invoke(show, ["--json"]).output) == {"as_json": True}
    assert json.loads(runner.invoke(show, []).output) == {"as_json": False}


def test_echo_table_aligns_columns(capsys: pytest.CaptureFixture[str]) -> None:
    echo_table(["a", "long header", "ok"], [["xyz", 1, "✅"], ["q", 22, "❌"]])
    lines = capsys.readouterr().out.splitlines()
    assert [line.index("ok") if i == 0 else line.index("✅❌"[i - 1]) for i, line in enumerate(lines)] == [18, 18, 18]


@pytest.fixture
def hwnat_logger() -> Iterator[logging.Logger]:
    logger = logging.getLogger("hwnat")
    level, handlers = logger.level, list(logger.handlers)
    yield logger
    logger.setLevel(level)
    logger.handlers[:] = handlers


@pytest.mark.parametrize(("flags", "level"), [([], logging.WARNING), (["-v"], logging.INFO), (["-vv"], logging.DEBUG)])
def test_verbose_sets_the_log_level(
    runner: CliRunner, hwnat_logger: logging.Logger, flags: list[str], level: int
) -> None:
    result = runner.invoke(cli, [*flags, "targets", "--json"])
    assert result.exit_code == 0, result.output
    assert hwnat_logger.level == level
    assert len(hwnat_logger.handlers) == 1
