"""A deterministic fake runtime: latency simulated from the ONNX graph, so CI can run the whole pipeline.

Simulated time per call = us_per_call + Σ over nodes (us_per_node + ns_per_mac · MACs of the node). The
per-call term is what makes block sums non-additive, as on real runtimes. Outputs are zeros of the right shape.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import numpy as np

from hwnat.backends.base import Backend, CompiledModel, ModelSource, onnx_file
from hwnat.errors import ConfigError

if TYPE_CHECKING:
    import onnx

    from hwnat.config.targets import TimingSpec


def _shape(value_info: onnx.ValueInfoProto) -> tuple[int, ...]:
    return tuple(d.dim_value for d in value_info.type.tensor_type.shape.dim)


def graph_cost(model: onnx.ModelProto) -> tuple[int, int]:
    """(MACs of Conv/Gemm/MatMul nodes, number of nodes) of a shape-inferred ONNX model."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    g = inferred.graph
    shapes = {v.name: _shape(v) for v in (*g.input, *g.output, *g.value_info)}
    shapes.update({t.name: tuple(t.dims) for t in g.initializer})
    macs = 0
    for node in g.node:
        if node.op_type == "Conv":
            out = shapes.get(node.output[0], ())
            w = shapes.get(node.input[1], ())
            if len(out) == 4 and len(w) == 4:
                macs += out[0] * out[1] * out[2] * out[3] * w[1] * w[2] * w[3]
        elif node.op_type in ("Gemm", "MatMul"):
            a, b = shapes.get(node.input[0], ()), shapes.get(node.input[1], ())
            if len(a) == 2 and len(b) == 2:
                macs += a[0] * a[1] * (b[0] if node.op_type == "Gemm" and b[1] == a[1] else b[1])
    return macs, len(g.node)


class FakeCompiled(CompiledModel):
    def __init__(self, input_shape: tuple[int, ...], output_shape: tuple[int, ...], seconds: float, key: bytes) -> None:
        self.input_shape = input_shape
        self.output_shape = output_shape
        self.seconds = seconds
        self.key = key

    def run(self, x: np.ndarray) -> np.ndarray:
        return np.zeros(self.output_shape, dtype=np.float32)

    def time_calls(self, x: np.ndarray, timing: TimingSpec) -> list[float]:
        """Simulated samples with ±2% deterministic jitter (seeded by the graph), no real waiting."""
        rng = np.random.default_rng(int.from_bytes(self.key[:8], "little"))
        n = max(timing.min_runs, 1)
        return list(self.seconds * (1 + 0.02 * rng.standard_normal(n)))


class FakeBackend(Backend):
    runtime = "fake"

    def compile(self, source: ModelSource) -> FakeCompiled:
        import onnx

        path = onnx_file(source, self.runtime)
        try:
            model = onnx.load(str(path))
        except Exception as exc:  # protobuf raises DecodeError and others for a corrupt file
            raise ConfigError(f"ONNX file {str(path)!r} cannot be read: {exc}") from exc
        macs, nodes = graph_cost(model)
        opt = self.spec.options
        seconds = (opt["us_per_call"] + nodes * opt["us_per_node"]) * 1e-6 + macs * opt["ns_per_mac"] * 1e-9
        out_shape = _shape(onnx.shape_inference.infer_shapes(model).graph.output[0])
        key = hashlib.sha256(model.SerializeToString()).digest()
        return FakeCompiled(tuple(source.input_shape), out_shape, seconds / max(1, self.spec.threads) ** 0.5, key)

    def runtime_version(self) -> str:
        from hwnat import __version__

        return f"fake-{__version__}"

    def device_name(self) -> str:
        return "simulated device"
