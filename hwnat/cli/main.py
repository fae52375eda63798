"""The `hwnat` entry point: the top-level group, global options and the table of subcommands."""

from __future__ import annotations

import logging
import sys

import click

from hwnat import __version__
from hwnat.cli.options import HwnatGroup

# One line per subcommand, "name": "module:attribute"; modules are imported only when needed,
# and must keep heavy imports (torch, runtimes) inside their command functions.
COMMANDS: dict[str, str] = {
    "targets": "hwnat.cli.targets_cmd:targets",
    "space": "hwnat.cli.space_cmd:space",
    "arch": "hwnat.cli.arch_cmd:arch",
    "train-supernet": "hwnat.cli.train_cmd:train_supernet_cmd",
    "profile": "hwnat.cli.profile_cmd:profile",
    "search": "hwnat.cli.search_cmd:search",
    "export": "hwnat.cli.export_cmd:export",
    "benchmark": "hwnat.cli.benchmark_cmd:benchmark",
    "finetune": "hwnat.cli.finetune_cmd:finetune_cmd",
    "build": "hwnat.cli.build_cmd:build",
}

_LEVELS = {0: logging.WARNING, 1: logging.INFO}


@click.group(
    "hwnat",
    cls=HwnatGroup,
    lazy_commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, "--version", prog_name="hwnat", message="%(prog)s %(version)s")
@click.option("-v", "--verbose", count=True, help="Log to stderr: -v for progress, -vv for debug detail.")
def cli(verbose: int) -> None:
    """hwnat: find, train and compile the most accurate image classifier that fits a target's budget."""
    _configure_logging(_LEVELS.get(verbose, logging.DEBUG))


def _configure_logging(level: int) -> None:
    logger = logging.getLogger("hwnat")
    for handler in [h for h in logger.handlers if getattr(h, "_hwnat_cli", False)]:
        logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler._hwnat_cli = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(level)
