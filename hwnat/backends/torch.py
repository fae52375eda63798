"""PyTorch eager backend: the source module in eval mode under inference_mode, the target's thread count."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import numpy as np

from hwnat.backends.base import Backend, CompiledModel, ModelSource
from hwnat.errors import ConfigError, RuntimeUnavailableError

if TYPE_CHECKING:
    import torch
    from torch import nn

    from hwnat.config.targets import TimingSpec


@contextlib.contextmanager
def num_threads(n: int) -> Iterator[None]:
    """torch.set_num_threads(n) inside the block, the previous count restored after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _first(out: object) -> torch.Tensor:
    while isinstance(out, (list, tuple)):
        out = out[0]
    return out  # type: ignore[return-value]


class TorchCompiled(CompiledModel):
    """A private eval-mode copy of the module on the target's device and memory format."""

    def __init__(self, module: nn.Module, input_shape: tuple[int, ...], threads: int, device: str,
                 channels_last: bool) -> None:
        self.module = module
        self.input_shape = input_shape
        self.threads = threads
        self.device = device
        self.channels_last = channels_last

    def _tensor(self, x: np.ndarray) -> torch.Tensor:
        import torch

        if tuple(x.shape) != self.input_shape:
            raise ConfigError(f"input of shape {tuple(x.shape)}, the model takes {self.input_shape}")
        t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(self.device)
        return t.contiguous(memory_format=torch.channels_last) if self.channels_last and t.dim() == 4 else t

    def bind(self, x: np.ndarray) -> Callable[[], object]:
        import torch

        t = self._tensor(x)
        sync = torch.cuda.synchronize if self.device == "cuda" else None

        def call() -> object:
            with torch.inference_mode():
                out = self.module(t)
            if sync is not None:
                sync()
            return out

        return call

    def run(self, x: np.ndarray) -> np.ndarray:
        import torch

        with num_threads(self.threads), torch.inference_mode():
            out = _first(self.module(self._tensor(x)))
        return out.float().cpu().numpy()

    def time_calls(self, x: np.ndarray, timing: TimingSpec) -> list[float]:
        with num_threads(self.threads):
            return super().time_calls(x, timing)


class TorchBackend(Backend):
    runtime = "torch"

    def compile(self, source: ModelSource) -> TorchCompiled:
        import torch

        if source.module is None:
            raise ConfigError("the torch runtime runs the torch module itself: ModelSource.module is not set")
        device = "cuda" if self.spec.device == "gpu" else "cpu"
        if device == "cuda" and not torch.cuda.is_available():
            raise RuntimeUnavailableError(
                f"target {self.spec.name!r}: this torch build ({torch.__version__}) has no CUDA"
            )
        module = copy.deepcopy(source.module).eval().to(device)
        channels_last = bool(self.spec.options["channels_last"])
        if channels_last:
            module = module.to(memory_format=torch.channels_last)
        return TorchCompiled(module, tuple(source.input_shape), self.spec.threads, device, channels_last)

    def runtime_version(self) -> str:
        import torch

        return torch.__version__

    def device_name(self) -> str:
        import torch

        if self.spec.device == "gpu" and torch.cuda.is_available():
            return torch.cuda.get_device_name()
        return super().device_name()
