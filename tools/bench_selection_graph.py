"""Benchmark: does the graph a build's selection times run at the speed of the graph the build delivers?

    python tools/bench_selection_graph.py runs/bench-build/builds/ort-cpu/latency-1p152ms --reps 3 --rounds 9

The select stage times each candidate as a freshly initialised static subnet exported by the latency code
(hwnat.latency.networks.export_networks); the benchmark stage times the fine-tuned model's delivered file
(hwnat.export). For each build directory given, this exports the chosen subnet as the selection does and times
it against the delivered primary file in one interleaved measurement (hwnat.export.runners.time_artifacts, both
compiled afresh each round in a shuffled order), paired with the table's reference subnet and scaled to the
table's speed as `timing = "table-speed"` builds check budgets — `--reps` times. Per rep it prints the host's
slowdown, both p50s and their ratio (delivered / selection); per build the median ratio, and the two graphs'
node counts by op type.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def op_counts(model_file: Path) -> dict[str, int]:
    """How many nodes of each op type an ONNX file holds (a model directory or other format: empty)."""
    import onnx

    if model_file.suffix != ".onnx":
        return {}
    return dict(sorted(Counter(n.op_type for n in onnx.load(str(model_file)).graph.node).items()))


def delivered_file(build: Path, report: dict[str, Any]) -> tuple[dict[str, Any], str, Path]:
    """The primary format's entry, family and model file of a build's report, resolved inside the build
    directory."""
    from hwnat.errors import ConfigError
    from hwnat.export import get_format

    primary = next((f for f in report["formats"] if f.get("primary") and f.get("ok")), None)
    if primary is None:
        raise ConfigError(f"{build}: the build delivered no primary format (report.json 'formats')")
    recorded = Path(primary["model_file"])
    try:
        file = build / recorded.relative_to(report["request"]["out"])
    except ValueError:
        file = recorded
    return primary, get_format(primary["format"]).family, file


def compare_build(build: Path, reps: int, rounds: int, seed: int) -> dict[str, Any]:
    """The chosen subnet's selection graph against the delivered file, timed `reps` times at the table's speed."""
    from hwnat.config.targets import load_target
    from hwnat.errors import ConfigError
    from hwnat.export.runners import time_artifacts
    from hwnat.latency.calm import host_slowdown
    from hwnat.latency.networks import export_networks, export_reference
    from hwnat.latency.table import LatencyTable
    from hwnat.space import SearchSpace
    from hwnat.space.genome import parse_arch_id

    report_file = build / "report.json"
    if not report_file.is_file():
        raise ConfigError(f"{build}: no report.json — not a finished hwnat build directory")
    report = json.loads(report_file.read_text())
    request = report["request"]
    target = load_target(request["target"])
    space = SearchSpace.from_dict(request["space"])
    arch_id = report["chosen"]["arch_id"]
    primary, family, delivered = delivered_file(build, report)
    scale = LatencyTable.load(report["table"]["path"]).reference_speed_ms()
    arch = parse_arch_id(space, arch_id)
    resolution = arch.resolution
    reps_out = []
    with tempfile.TemporaryDirectory(prefix="hwnat-selection-graph-") as tmp:
        source, = export_networks(space, [arch], Path(tmp), target.batch, progress=False)
        selection = Path(str(source.onnx_path))
        (Path(tmp) / "reference").mkdir()
        reference = export_reference(space, Path(tmp) / "reference", target.batch)
        artifacts = [("onnx", selection, resolution), (family, delivered, resolution)]
        for rep in range(reps):
            timed = time_artifacts(target, artifacts, rounds, seed=seed + rep, reference=reference, scale_ms=scale)
            sel, dlv = timed.scaled
            reps_out.append({"host_slowdown": host_slowdown(timed), "selection_p50_ms": sel.p50_ms,
                             "delivered_p50_ms": dlv.p50_ms, "ratio": dlv.p50_ms / sel.p50_ms,
                             "selection_raw_p50_ms": timed.raw[0].p50_ms, "delivered_raw_p50_ms": timed.raw[1].p50_ms})
        ops = {"selection": op_counts(selection), "delivered": op_counts(delivered)}
    return {"build": str(build), "target": target.name, "arch_id": arch_id, "delivered": str(delivered),
            "rounds": rounds, "reps": reps_out, "median_ratio": float(np.median([r["ratio"] for r in reps_out])),
            "recorded": {"select_p50_ms": report["chosen"].get("measured_p50_ms"),
                         "build_p50_ms": primary["p50_ms"]},
            "ops": ops}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("builds", type=Path, nargs="+", help="hwnat build run directories (with report.json)")
    ap.add_argument("--reps", type=int, default=3, help="interleaved measurements per build")
    ap.add_argument("--rounds", type=int, default=9, help="timing rounds per measurement")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)

    from hwnat.errors import HwnatError

    results = []
    try:
        for build in args.builds:
            result = compare_build(build, args.reps, args.rounds, args.seed)
            results.append(result)
            print(f"{build} ({result['target']}, {result['arch_id']}): recorded select "
                  f"{result['recorded']['select_p50_ms']:.3f} ms, build {result['recorded']['build_p50_ms']:.3f} ms")
            for i, rep in enumerate(result["reps"]):
                print(f"  rep {i}: host {rep['host_slowdown']:.2f}x; at the table's speed selection graph "
                      f"{rep['selection_p50_ms']:.3f} ms, delivered {rep['delivered_p50_ms']:.3f} ms "
                      f"(ratio {rep['ratio']:.3f})")
            print(f"  median ratio delivered / selection over {args.reps} reps of {args.rounds} rounds: "
                  f"{result['median_ratio']:.3f}")
            ops = result["ops"]
            for name in sorted(set(ops["selection"]) | set(ops["delivered"])):
                a, b = ops["selection"].get(name, 0), ops["delivered"].get(name, 0)
                if a != b:
                    print(f"  op {name}: selection {a}, delivered {b}")
    except HwnatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        args.json.write_text(json.dumps({"builds": results}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
