"""Parity of an export with PyTorch: fp32 by logits and top-1 agreement, fp16/INT8 by the accuracy change."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from torch import nn

    from hwnat.export.options import ExportOptions


@dataclass(frozen=True)
class ParityReport:
    """How an export's outputs compare with PyTorch's on the same images.

    accuracy / reference_accuracy are top-1 on labelled images; without labels (random images) PyTorch's own
    predictions are the labels, so reference_accuracy is 1 and accuracy equals top1_agreement.
    change_points = 100 · (accuracy − reference_accuracy); negative is a drop.
    """

    precision: str
    images: int
    labelled: bool
    max_abs_diff: float
    top1_agreement: float
    reference_accuracy: float
    accuracy: float
    change_points: float
    passed: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def torch_logits(model: nn.Module, images: np.ndarray, batch: int = 256) -> np.ndarray:
    """PyTorch's float32 logits for preprocessed images, in eval mode."""
    import torch

    model.eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(images), batch):
            out.append(model(torch.from_numpy(images[start:start + batch])).float().numpy())
    return np.concatenate(out)


def compare(precision: str, reference: np.ndarray, logits: np.ndarray, labels: np.ndarray | None,
            options: ExportOptions) -> ParityReport:
    """fp32: max |Δlogit| ≤ atol and agreement ≥ min_agreement; fp16/INT8: accuracy drop ≤ max_drop points."""
    ref_top, top = reference.argmax(1), logits.argmax(1)
    truth = labels if labels is not None else ref_top
    max_abs = float(np.abs(reference - logits).max())
    agreement = float((ref_top == top).mean())
    ref_acc, acc = float((ref_top == truth).mean()), float((top == truth).mean())
    change = 100.0 * (acc - ref_acc)
    if precision == "fp32":
        fails = []
        if not max_abs <= options.atol:
            fails.append(f"max |Δlogit| {max_abs:.3g} > {options.atol:g}")
        if agreement < options.min_agreement:
            fails.append(f"top-1 agreement {100 * agreement:.2f}% < {100 * options.min_agreement:g}%")
        reason = "; ".join(fails) or f"max |Δlogit| {max_abs:.3g}, top-1 agreement {100 * agreement:.2f}%"
        passed = not fails
    else:
        passed = -change <= options.max_drop + 1e-9
        what = "accuracy" if labels is not None else "agreement with PyTorch (no labels)"
        reason = (f"{what} {100 * acc:.2f}% vs {100 * ref_acc:.2f}% in PyTorch ({change:+.2f} points"
                  f"{'' if passed else f'; the limit is a {options.max_drop:g}-point drop, raise it with --max-drop'})")
    return ParityReport(precision, len(logits), labels is not None, max_abs, agreement, ref_acc, acc, change,
                        passed, reason)
