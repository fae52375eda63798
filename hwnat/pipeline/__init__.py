"""`hwnat build` as a library: target + budget → table, super-network, search, choice, fine-tuning, export, report."""

from hwnat.pipeline.api import build
from hwnat.pipeline.report import BuildReport
from hwnat.pipeline.request import BUILD_PRESETS, BuildRequest

__all__ = ["BUILD_PRESETS", "BuildReport", "BuildRequest", "build"]
