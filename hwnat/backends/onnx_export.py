"""Export a static torch module to a single-file ONNX model (TorchScript exporter, fixed input shape)."""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn

ONNX_OPSET = 17


def export_onnx(module: nn.Module, input_shape: tuple[int, ...], path: str | os.PathLike[str],
                opset: int = ONNX_OPSET) -> Path:
    """Write `module` (in eval mode) to `path` atomically; never export an elastic super-network."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    was_training = module.training
    module.eval()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(module, (torch.zeros(input_shape),), tmp, dynamo=False, opset_version=opset,
                              input_names=["input"], output_names=["output"], do_constant_folding=True)
        os.replace(tmp, path)
    finally:
        module.train(was_training)
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
