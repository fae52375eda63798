"""Export (ONNX, OpenVINO IR, TensorRT) with parity checks; importing this package loads only the formats table."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from hwnat.export.formats import ExportFormat, format_names, get_format, parse_formats, register_format
from hwnat.export.options import ExportOptions, make_options

if TYPE_CHECKING:
    from hwnat.export.api import ExportResult, export_subnet
    from hwnat.export.benchmark import BenchmarkRow, benchmark_subnet
    from hwnat.export.data import ExportData, dataset_data, random_data
    from hwnat.export.metadata import read_metadata
    from hwnat.export.sources import SubnetSource, load_source

__all__ = ["BenchmarkRow", "ExportData", "ExportFormat", "ExportOptions", "ExportResult", "SubnetSource",
           "benchmark_subnet", "dataset_data", "export_subnet", "format_names", "get_format", "load_source",
           "make_options", "parse_formats", "random_data", "read_metadata", "register_format"]

_WHERE = {"ExportResult": "api", "export_subnet": "api", "BenchmarkRow": "benchmark",
          "benchmark_subnet": "benchmark", "ExportData": "data", "dataset_data": "data", "random_data": "data",
          "read_metadata": "metadata", "SubnetSource": "sources", "load_source": "sources"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"hwnat.export.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
