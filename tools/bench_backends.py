"""Benchmark: per-call p50 latency of each CPU backend on min/random/max subnets, and each runtime's overhead."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hwnat.backends.base import Backend, CompiledModel, ModelSource, TimingStats, create_backend
from hwnat.backends.onnx_export import export_onnx
from hwnat.backends.registry import target_availability
from hwnat.config.targets import TimingSpec, load_target
from hwnat.models import build_static
from hwnat.space import get_space, max_arch, min_arch, sample_archs

TARGETS = {"ort": "ort-cpu", "openvino": "openvino-cpu", "torch": "torch-cpu"}


class Tiny(torch.nn.Module):
    """x + 1: what a runtime costs per call when the model does almost nothing."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 1.0


class Baseline(CompiledModel):
    """A call without hwnat's binding, to show what the binding saves."""

    def __init__(self, input_shape: tuple[int, ...], make_call: Callable[[np.ndarray], Callable[[], object]]) -> None:
        self.input_shape = input_shape
        self.make_call = make_call

    def bind(self, x: np.ndarray) -> Callable[[], object]:
        return self.make_call(x)

    def run(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.make_call(x)())


def baselines(runtime: str, compiled: CompiledModel) -> dict[str, CompiledModel]:
    """ort: session.run with a feed dict; openvino: compiled_model(x), which takes a new request's path per call."""
    if runtime == "ort":
        session, name = compiled.session, compiled.input_name
        return {"ort run(dict)": Baseline(compiled.input_shape, lambda x: lambda: session.run(None, {name: x}))}
    if runtime == "openvino":
        model = compiled.compiled
        return {"openvino model(x)": Baseline(compiled.input_shape, lambda x: lambda: model(x))}
    return {}


def models(args: argparse.Namespace, folder: Path) -> dict[str, ModelSource]:
    space = get_space(args.space)
    archs = {
        "min": min_arch(space, args.width),
        "random": sample_archs(space, 1, seed=args.seed, width_mult=args.width)[0],
        "max": max_arch(space, args.width),
    }
    shape = (1, 3, args.resolution, args.resolution)
    torch.manual_seed(args.seed)
    modules: dict[str, torch.nn.Module] = {"tiny": Tiny()}
    modules.update({k: build_static(space, dataclasses.replace(a, resolution=args.resolution)).eval()
                    for k, a in archs.items()})
    return {k: ModelSource(shape, onnx_path=export_onnx(m, shape, folder / f"{k}.onnx"), module=m)
            for k, m in modules.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--space", default="mbv3-small-input")
    parser.add_argument("--width", type=float, default=0.5)
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds over every (runtime, model)")
    parser.add_argument("--min-time", type=float, default=0.2, help="seconds timed per (runtime, model) per round")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    timing = TimingSpec(warmup=20, min_runs=20, min_time_s=args.min_time)

    with tempfile.TemporaryDirectory() as tmp:
        sources = models(args, Path(tmp))
        compiled: dict[tuple[str, str], CompiledModel] = {}
        backends: dict[str, Backend] = {}
        for runtime, target in TARGETS.items():
            spec = dataclasses.replace(load_target(target), threads=args.threads, timing=timing)
            ok, reason = target_availability(spec)
            if not ok:
                print(f"skipping {runtime}: {reason}", file=sys.stderr)
                continue
            backends[runtime] = backend = create_backend(spec)
            for name, source in sources.items():
                compiled[runtime, name] = model = backend.compile(source)
                for label, base in baselines(runtime, model).items():
                    compiled[label, name] = base
        samples: dict[tuple[str, str], list[float]] = {key: [] for key in compiled}
        x = np.random.default_rng(args.seed).standard_normal(next(iter(sources.values())).input_shape)
        x = x.astype(np.float32)
        for r in range(args.rounds):
            print(f"round {r + 1}/{args.rounds}", file=sys.stderr)
            for key, model in compiled.items():
                samples[key] += model.time_calls(x, timing)

    stats = {key: TimingStats.from_seconds(s) for key, s in samples.items()}
    labels = list(dict.fromkeys(k[0] for k in compiled))
    names = list(sources)
    result: dict[str, Any] = {
        "space": args.space, "width": args.width, "resolution": args.resolution, "threads": args.threads,
        "rounds": args.rounds, "min_time_s": args.min_time,
        "versions": {rt: b.runtime_version() for rt, b in backends.items()},
        "device": next(iter(backends.values())).device_name() if backends else "",
        "rows": [{"runtime": label, "model": name, **stats[label, name].to_dict()}
                 for label in labels for name in names],
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{result['device']}, threads={args.threads}, {args.rounds} interleaved rounds, "
          f"{args.space} w{args.width} r{args.resolution}")
    print(f"{'runtime':20}" + "".join(f"{n + ' p50':>14}" for n in names) + f"{'max p90':>14}")
    for label in labels:
        cells = "".join(f"{stats[label, n].p50_ms * 1e3:>11.1f} µs" for n in names)
        print(f"{label:20}{cells}{stats[label, 'max'].p90_ms * 1e3:>11.1f} µs")
    print("tiny = x + 1 on the same input: the runtime's per-call overhead")


if __name__ == "__main__":
    main()
