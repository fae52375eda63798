"""The package's own exception types; the CLI turns them into clean messages."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class HwnatError(Exception):
    """Base class of every error hwnat raises on purpose (bad input, missing runtime, ...)."""


class ConfigError(HwnatError, ValueError):
    """A setting, file or flag holds a value that is not allowed."""


class DataError(HwnatError):
    """A dataset cannot be read: a missing path, no classes, a corrupt image, ..."""


class SpaceError(HwnatError, ValueError):
    """A search space, architecture, genome or subnet file is invalid."""


class CheckpointError(HwnatError):
    """A checkpoint does not fit the network it is loaded into."""


class RuntimeUnavailableError(HwnatError):
    """A runtime (onnxruntime, openvino, tensorrt, ...) is not installed or cannot run here."""


def did_you_mean(value: str, allowed: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the closest allowed name, or '' when nothing is close."""
    close = difflib.get_close_matches(str(value), [str(a) for a in allowed], n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown_name(kind: str, value: str, allowed: Iterable[str]) -> str:
    """Message for an unknown registry name: the value, the allowed names and a hint."""
    allowed = sorted(str(a) for a in allowed)
    return f"unknown {kind} {value!r}{did_you_mean(value, allowed)}; allowed: {', '.join(allowed)}"
