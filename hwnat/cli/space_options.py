"""Shared `--space`, `--variant` and `--classes` options that resolve to a SearchSpace."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from hwnat.errors import SpaceError

if TYPE_CHECKING:
    from hwnat.space import SearchSpace

F = TypeVar("F", bound=Callable[..., Any])


def resolve_space(name: str, variant: str | None, classes: int | None, param_hint: str = "'--space'") -> SearchSpace:
    """The preset `name` as `variant` with `classes`; a bad value is a click error naming the option."""
    from hwnat.space import get_space

    try:
        get_space(name)
    except SpaceError as exc:
        raise click.BadParameter(str(exc), param_hint=param_hint) from exc
    try:
        return get_space(name, variant=variant, num_classes=classes)
    except SpaceError as exc:
        raise click.BadParameter(str(exc), param_hint="'--variant'") from exc


def variant_option(func: F) -> F:
    return click.option("--variant", default=None, metavar="NAME",
                        help="OFAv2 variant: base, dense, parallel, dense-parallel, or ee-… for early exits "
                             "(default: the preset's, base).")(func)


def classes_option(func: F) -> F:
    return click.option("--classes", type=click.IntRange(min=1), default=None, metavar="N",
                        help="Number of output classes (default: the preset's).")(func)
