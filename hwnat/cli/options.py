"""Shared CLI building blocks: the group class every group uses, option decorators and output helpers."""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import click

from hwnat.errors import HwnatError, did_you_mean

F = TypeVar("F", bound=Callable[..., Any])

log = logging.getLogger("hwnat.cli")


class HwnatGroup(click.Group):
    """A click group that loads its commands lazily, turns HwnatError into clean messages and suggests names."""

    def __init__(self, *args: Any, lazy_commands: Mapping[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands: dict[str, str] = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands and cmd_name not in self.commands:
            module_name, _, attr = self.lazy_commands[cmd_name].partition(":")
            self.add_command(getattr(importlib.import_module(module_name), attr), cmd_name)
        return super().get_command(ctx, cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            hint = did_you_mean(name, self.list_commands(ctx))
            raise click.UsageError(f"No such command {name!r}{hint}.", ctx)
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HwnatError as exc:
            log.debug("%s", type(exc).__name__, exc_info=True)
            raise click.ClickException(str(exc)) from exc


def json_option(func: F) -> F:
    """Add `--json`: print machine-readable JSON on stdout instead of a table (parameter `as_json`)."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout instead of a table.")(func)


def emit_json(data: Any) -> None:
    """Print `data` as indented JSON on stdout."""
    click.echo(json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False))


def echo_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print a left-aligned plain-text table on stdout; the last column is not padded."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(_width(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        padded = [c + " " * (w - _width(c)) for c, w in zip(row[:-1], widths[:-1])]
        click.echo("  ".join([*padded, row[-1]]).rstrip())


def _width(text: str) -> int:
    return sum(2 if ord(ch) >= 0x2600 else 1 for ch in text)
