"""Export options, their ranges, and the check that every option given is one the chosen formats accept."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from hwnat.errors import ConfigError, unknown_name
from hwnat.export.formats import ExportFormat, format_names, get_format

OPSETS = (13, 20)  # the TorchScript exporter's range that ONNX Runtime's QDQ quantiser and TensorRT 10 both read


@dataclass(frozen=True)
class ExportOptions:
    """Settings shared by every format; each format accepts the subset named in its `options`.

    opset: ONNX opset of the exported graph. simplify: run onnxslim on it. calib_images: training images that
    calibrate INT8 quantisation. max_drop: largest accuracy drop (points) an fp16/INT8 export may show against
    PyTorch before it fails. atol: largest |Δlogit| an fp32 export may show (top-1 agreement must be ≥
    min_agreement). parity_images: validation images each export is checked on (0: all).
    """

    opset: int = 17
    simplify: bool = True
    calib_images: int = 300
    max_drop: float = 1.0
    atol: float = 1e-4
    min_agreement: float = 0.995
    parity_images: int = 1000

    def __post_init__(self) -> None:
        if not OPSETS[0] <= self.opset <= OPSETS[1]:
            raise ConfigError(f"opset must lie in [{OPSETS[0]}, {OPSETS[1]}], got {self.opset}")
        if self.calib_images < 1:
            raise ConfigError(f"calib_images must be ≥ 1, got {self.calib_images}")
        if not 0 <= self.max_drop <= 100:
            raise ConfigError(f"max_drop must lie in [0, 100] accuracy points, got {self.max_drop}")
        if self.atol <= 0:
            raise ConfigError(f"atol must be positive, got {self.atol}")
        if not 0 <= self.min_agreement <= 1:
            raise ConfigError(f"min_agreement must lie in [0, 1], got {self.min_agreement}")
        if self.parity_images < 0:
            raise ConfigError(f"parity_images must be ≥ 0 (0: all), got {self.parity_images}")

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


FORMAT_OPTIONS = ("opset", "simplify", "calib_images", "max_drop", "atol")  # the ones formats opt into
GENERAL_OPTIONS = ("min_agreement", "parity_images")                        # every format takes these


def option_flag(name: str) -> str:
    """The CLI flag of an option: calib_images -> --calib-images."""
    return "--" + name.replace("_", "-")


def formats_taking(option: str) -> list[str]:
    return [n for n in format_names() if option in get_format(n).options]


def make_options(formats: Iterable[ExportFormat], given: Mapping[str, Any] | None = None) -> ExportOptions:
    """ExportOptions from the values the user set explicitly; each applies to the chosen formats that take it.

    An option that none of the chosen formats accepts is a ConfigError naming the option, the formats and the
    options they take, and the formats that do take it.
    """
    given = dict(given or {})
    chosen = list(formats)
    known = (*FORMAT_OPTIONS, *GENERAL_OPTIONS)
    for name in given:
        if name not in known:
            raise ConfigError(unknown_name("export option", name, known))
        if name in GENERAL_OPTIONS or any(name in fmt.options for fmt in chosen):
            continue
        takes = "; ".join(f"{fmt.name} takes {', '.join(option_flag(o) for o in sorted(fmt.options)) or 'none'}"
                          for fmt in chosen)
        names = ", ".join(repr(f.name) for f in chosen)
        raise ConfigError(f"format{'s' if len(chosen) > 1 else ''} {names} do{'es' if len(chosen) == 1 else ''} "
                          f"not support {option_flag(name)} ({takes}); formats that take {option_flag(name)}: "
                          f"{', '.join(formats_taking(name))}")
    return replace(ExportOptions(), **given)
