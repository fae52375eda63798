"""Declarative field checks for TOML tables, with errors naming the file, the key and the allowed values."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hwnat.errors import ConfigError, did_you_mean

REQUIRED: Any = object()

_TYPE_NAMES: dict[type, str] = {
    bool: "true or false",
    int: "an integer",
    float: "a number",
    str: "a string",
}


@dataclass(frozen=True)
class Field:
    """One key of a table: its type, default (REQUIRED if none) and the values it may take."""

    type: type
    default: Any = REQUIRED
    choices: tuple[Any, ...] | None = None
    min: float | None = None
    max: float | None = None
    pattern: str | None = None
    help: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def check(self, value: Any, *, key: str, source: str) -> Any:
        """The value, converted (int → float for float fields), or ConfigError."""
        value = self._check_type(value, key=key, source=source)
        if self.choices is not None and value not in self.choices:
            allowed = ", ".join(map(_show, self.choices))
            hint = did_you_mean(value, map(str, self.choices)) if isinstance(value, str) and len(value) > 3 else ""
            raise ConfigError(f"{source}: key {key!r} = {_show(value)} is not allowed{hint}; allowed values: {allowed}")
        if self.min is not None and value < self.min:
            raise ConfigError(f"{source}: key {key!r} must be >= {_show(self.min)}, got {_show(value)}")
        if self.max is not None and value > self.max:
            raise ConfigError(f"{source}: key {key!r} must be <= {_show(self.max)}, got {_show(value)}")
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            raise ConfigError(f"{source}: key {key!r} = {_show(value)} must match {self.pattern}")
        return value

    def _check_type(self, value: Any, *, key: str, source: str) -> Any:
        is_bool = isinstance(value, bool)
        if self.type is float and isinstance(value, int) and not is_bool:
            return float(value)
        if isinstance(value, self.type) and (self.type is bool or not is_bool):
            return value
        raise ConfigError(
            f"{source}: key {key!r} must be {_TYPE_NAMES.get(self.type, self.type.__name__)}, "
            f"got {_show(value)} ({_toml_type(value)})"
        )


def check_table(
    data: Any,
    fields: Mapping[str, Field],
    *,
    source: str,
    prefix: str = "",
    tables: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Validate a TOML table against `fields`, fill defaults; keys in `tables` are passed through unchecked."""
    where = prefix.rstrip(".") or "the top level"
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: key {where!r} must be a table, got {_show(data)} ({_toml_type(data)})")
    known = [*fields, *tables]
    for key in data:
        if key not in known:
            raise ConfigError(
                f"{source}: unknown key {prefix + key!r} in {where}{did_you_mean(key, known)}; "
                f"allowed keys: {', '.join(sorted(known))}"
            )
    out: dict[str, Any] = {}
    for key, field in fields.items():
        if key in data:
            out[key] = field.check(data[key], key=prefix + key, source=source)
        elif field.required:
            raise ConfigError(f"{source}: missing required key {prefix + key!r}")
        else:
            out[key] = field.default
    out.update({key: data[key] for key in tables if key in data})
    return out


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def _toml_type(value: Any) -> str:
    names = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array", dict: "table"}
    return next((name for cls, name in names.items() if isinstance(value, cls)), type(value).__name__)
