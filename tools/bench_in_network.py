"""Diagnostic: each unit's time inside a whole network against its time in the profiler's context job (OpenVINO).

Both are read from OpenVINO's own per-layer counters (PERF_COUNT), median over calls, one thread, f32: a unit's
in-network time is the sum of the layers named after its position in the network, its context-job time the sum
of the layers of the job's body (between the 1×1 prefix and suffix). Units whose weights are large run slower in
the network than alone when the network's weights outgrow the cache: they stream from memory on every call
(what the `weights` calibration model charges).

    python tools/bench_in_network.py                                    # a large width-1.0 subnet at 32 px
    python tools/bench_in_network.py --arch r32-w0.5-11-11-11-11-11 --calls 300
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np


def layer_times(onnx_path: Path, shape: tuple[int, ...], calls: int) -> dict[str, float]:
    """Median real time (ms) per OpenVINO node over `calls` inferences (after 50 warm-up calls)."""
    import openvino as ov

    compiled = ov.Core().compile_model(str(onnx_path), "CPU", {
        "INFERENCE_NUM_THREADS": 1, "INFERENCE_PRECISION_HINT": "f32", "PERF_COUNT": "YES",
        "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1})
    request = compiled.create_infer_request()
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    samples: dict[str, list[float]] = {}
    for i in range(50 + calls):
        request.infer({0: x})
        if i >= 50:
            for info in request.get_profiling_info():
                samples.setdefault(info.node_name, []).append(info.real_time.total_seconds() * 1e3)
    return {name: float(np.median(v)) for name, v in samples.items()}


def summed(times: dict[str, float], prefix: str) -> float:
    return sum(t for name, t in times.items() if name.startswith(prefix))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="r32-w1.0-4669-938-648-872-69")
    parser.add_argument("--space", default="mbv3-small-input")
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()

    import torch

    from hwnat.backends.onnx_export import export_onnx
    from hwnat.complexity import complexity
    from hwnat.latency.blocks import units_of
    from hwnat.latency.jobs import plan_jobs
    from hwnat.models.config import net_config
    from hwnat.space import get_space, parse_arch_id

    torch.set_num_threads(1)
    space = get_space(args.space)
    arch = parse_arch_id(space, args.arch)
    units = units_of(net_config(space, arch), 1)
    shape = units[0].input_shape
    with tempfile.TemporaryDirectory() as tmp:
        network = torch.nn.Sequential(*[u.build(i) for i, u in enumerate(units)]).eval()
        in_net = layer_times(export_onnx(network, shape, Path(tmp) / "net.onnx"), shape, args.calls)
        plan = plan_jobs(units, "context")
        alone: dict[str, float] = {}
        for job in plan.jobs:
            if job.key.startswith("ctx:"):
                times = layer_times(job.export(Path(tmp) / "job.onnx"), job.input_shape, args.calls)
                body = "/0/" if job.key.split(":", 1)[1].startswith("stem") else "/1/"
                alone[job.key[4:]] = summed(times, body)
    print(f"{args.arch}: {complexity(space, arch).params / 1e6:.2f} M parameters; whole network "
          f"{sum(in_net.values()):.3f} ms (sum of OpenVINO's layer counters)")
    print(f"{'#':>2} {'unit':58} {'params':>8} {'alone ms':>9} {'in net ms':>9} {'ratio':>6}")
    for i, unit in enumerate(units):
        params = sum(p.numel() for p in unit.build().parameters())
        a, n = alone[unit.key], summed(in_net, f"/{i}/")
        print(f"{i:>2} {unit.key:58} {params:>8,} {a:>9.4f} {n:>9.4f} {n / a if a else float('nan'):>6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
