"""Board bundles: the measurement jobs of a profile request's units (hwnat.latency.jobs), the speed probe, the
calibration/validation networks and the reference subnet they are timed against as ONNX, a manifest and the
self-contained runner (board_runner.py as run.py), in one .tar.gz to measure on a device hwnat cannot run on.

Layout: `hwnat-bundle-<target>-<id>/{manifest.json, run.py, README.md, models/j0000.onnx, models/n000.onnx,
models/probe.onnx, models/reference.onnx, ...}`. The manifest lists the units (enough to plan their jobs again
on import), the unit timing mode and the jobs it gives. The bundle id is a digest of the manifest (target
settings, space, units, mode, jobs, probe, networks, reference, timing, exporter), so the same request gives the
same id and a board-side journal of that id can be resumed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hwnat import __version__
from hwnat.errors import ConfigError
from hwnat.io import atomic_write_text
from hwnat.latency.blocks import check_coverage, enumerate_units
from hwnat.latency.build import DEFAULT_CALIBRATION_NETS, block_timing
from hwnat.latency.identity import SpaceIdentity
from hwnat.latency.jobs import plan_jobs
from hwnat.latency.networks import PAIRED_BURST, default_network_timing
from hwnat.latency.probe import probe_timing, probe_unit
from hwnat.latency.selection import calibration_archs, random_archs
from hwnat.space.arch import mid_arch
from hwnat.space.genome import arch_id, parse_arch_id

if TYPE_CHECKING:
    from hwnat.latency.blocks import Unit
    from hwnat.latency.build import ProfileRequest
    from hwnat.latency.jobs import JobPlan
    from hwnat.space.arch import Arch
    from hwnat.space.spec import SearchSpace

log = logging.getLogger(__name__)

BUNDLE_SCHEMA_VERSION = 3
BOARD_RUNTIMES = ("ort", "openvino", "tensorrt")
MANIFEST = "manifest.json"
RUNNER = "run.py"
README = "README.md"
RUNNER_SOURCE = Path(__file__).with_name("board_runner.py")
RUNTIME_PACKAGES = {"ort": "onnxruntime", "openvino": "openvino", "tensorrt": "tensorrt cuda-python"}
PROBE_FILE = "models/probe.onnx"
REFERENCE_FILE = "models/reference.onnx"
MANIFEST_KEYS = ("bundle_id", "target", "space", "widths", "resolutions", "timing", "unit_mode", "units", "jobs",
                 "probe", "networks", "reference")


class BundleError(ConfigError):
    """A bundle or the timings a board returned are missing, corrupt, incomplete or for another request."""


@dataclass(frozen=True)
class BundlePlan:
    """What a bundle holds, decided before anything is exported: the manifest, its units, its networks and the
    jobs that measure the units."""

    manifest: dict[str, Any]
    units: tuple[Unit, ...]
    networks: tuple[Arch, ...]
    job_plan: JobPlan

    @property
    def bundle_id(self) -> str:
        return str(self.manifest["bundle_id"])

    @property
    def folder(self) -> str:
        """The top-level folder inside the archive (and on the board)."""
        return bundle_folder(self.manifest)


def bundle_folder(manifest: dict[str, Any]) -> str:
    """`hwnat-bundle-<target>-<bundle id[:12]>`: the archive's top folder and the folder on the board."""
    return f"hwnat-bundle-{manifest['target']['settings']['name']}-{manifest['bundle_id'][:12]}"


def manifest_digest(manifest: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of the manifest without its own bundle_id."""
    body = {k: v for k, v in manifest.items() if k != "bundle_id"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _exporter() -> dict[str, Any]:
    import torch

    from hwnat.backends.onnx_export import ONNX_OPSET

    return {"torch": torch.__version__.split("+")[0], "opset": ONNX_OPSET}


def _check_runtime(req: ProfileRequest) -> None:
    runtime = req.target.runtime
    if runtime not in BOARD_RUNTIMES:
        raise BundleError(f"target {req.target.name!r} uses runtime {runtime!r}, which the board runner cannot run; "
                          f"bundles run: {', '.join(BOARD_RUNTIMES)}")


def _networks(req: ProfileRequest, widths: tuple[float, ...],
              resolutions: tuple[int, ...]) -> tuple[list[Arch], list[Arch]]:
    """Calibration subnets (spread by MACs, the board's timings being unknown yet) and held-out validation ones,
    from the same seeds as a local build."""
    from hwnat.complexity.vectorised import complexity_many

    space = req.space
    n_cal = DEFAULT_CALIBRATION_NETS if req.calibrate is None else req.calibrate
    cal_seed, val_seed = np.random.SeedSequence(req.seed).spawn(2)
    cal = calibration_archs(space, n_cal, lambda g: complexity_many(space, g)[0].astype(np.float64),
                            int(cal_seed.generate_state(1)[0]), widths, resolutions) if n_cal else []
    val = random_archs(space, req.validate, np.random.default_rng(val_seed), widths, resolutions,
                       exclude=[arch_id(space, a) for a in cal])
    return cal, val


def plan_bundle(req: ProfileRequest) -> BundlePlan:
    """The manifest of the bundle for `req` (cheap: nothing is exported)."""
    _check_runtime(req)
    spec, space = req.target, req.space
    widths, resolutions = check_coverage(space, req.widths, req.resolutions)
    units = enumerate_units(space, widths, resolutions, spec.batch)
    jobs = plan_jobs(units, req.unit_mode)
    probe = probe_unit(spec.batch)
    cal, val = _networks(req, widths, resolutions)
    network_timing = default_network_timing(spec.timing, req.rounds)
    reference = mid_arch(space)
    networks = [{"arch_id": arch_id(space, a), "role": role, "file": f"models/n{i:03d}.onnx",
                 "input_shape": [spec.batch, 3, a.resolution, a.resolution]}
                for i, (a, role) in enumerate([(a, "calibration") for a in cal] + [(a, "validation") for a in val])]
    manifest: dict[str, Any] = {
        "bundle_schema_version": BUNDLE_SCHEMA_VERSION,
        "hwnat_version": __version__,
        "target": {"settings": spec.settings(), "fingerprint": spec.fingerprint(), "remote": spec.remote is not None},
        "space": SpaceIdentity.of(space).to_dict(),
        "widths": list(widths),
        "resolutions": list(resolutions),
        "timing": {"units": {**asdict(block_timing(req)), "passes": req.passes, "seed": req.seed},
                   "networks": {"rounds": network_timing.rounds, "per_round": asdict(network_timing.per_round),
                                "seed": req.seed, "burst": PAIRED_BURST}},
        "exporter": _exporter(),
        "unit_mode": jobs.mode,
        "units": [u.to_dict() for u in jobs.units],
        "jobs": [{"key": j.key, "file": f"models/j{i:04d}.onnx", "input_shape": list(j.input_shape)}
                 for i, j in enumerate(jobs.jobs)],
        "probe": {"file": PROBE_FILE, "input_shape": list(probe.input_shape), "timing": asdict(probe_timing())},
        "networks": networks,
        "reference": {"arch_id": arch_id(space, reference), "file": REFERENCE_FILE,
                      "input_shape": [spec.batch, 3, reference.resolution, reference.resolution]},
    }
    manifest["bundle_id"] = manifest_digest(manifest)
    return BundlePlan(manifest, jobs.units, (*cal, *val), jobs)


def readme(manifest: dict[str, Any]) -> str:
    """The bundle's README: what it measures and the commands on the board and back home."""
    settings = manifest["target"]["settings"]
    runtime = settings["runtime"]
    return f"""# hwnat latency bundle {manifest['bundle_id'][:12]}

Target `{settings['name']}` ({runtime}, {settings['device']}, {settings['precision']}, {settings['threads']} thread(s),
batch {settings['batch']}), space `{manifest['space']['name']}` (variant {manifest['space']['variant']}),
widths {manifest['widths']}, resolutions {manifest['resolutions']}: {len(manifest['units'])} units (timed
{manifest['unit_mode']}, as {len(manifest['jobs'])} models) and {len(manifest['networks'])} whole networks, written
by hwnat {manifest['hwnat_version']}.

## On the board

Needs Python >= 3.8, numpy and the runtime (`pip install numpy {RUNTIME_PACKAGES[runtime]}`); not torch, not hwnat.

    python3 run.py --out timings.json

Progress goes to stderr. A small speed-probe model is timed just before each unit model and rescales it; each
whole network is timed in bursts alternating with a reference subnet and rescaled by it.
Every measurement is journalled in `timings.json.journal.jsonl`: if the run is interrupted, run the same command
again and it resumes. Keep the board otherwise idle while it measures.

## Back home

    hwnat profile --import timings.json --bundle <this bundle>.tar.gz

writes the latency table (units, plus the calibration fitted on the whole networks measured on the board).
"""


@contextmanager
def _atomic_file(path: Path) -> Iterator[Path]:
    """A temporary path beside `path` that replaces it (fsynced) when the block succeeds; removed otherwise."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def export_models(plan: BundlePlan, space: SearchSpace, folder: Path, progress: bool = True) -> None:
    """Export every job, the probe, every network and the reference subnet of the plan into `folder` at the file
    names of its manifest."""
    import torch

    from hwnat.backends.onnx_export import export_onnx
    from hwnat.latency.profiler import single_threaded_torch
    from hwnat.models import build_static
    from hwnat.progress import progress_bar

    entries = plan.manifest["jobs"] + plan.manifest["networks"]
    with single_threaded_torch(), progress_bar(len(entries) + 2, "exporting bundle", progress, unit="model") as bar:
        for job, entry in zip(plan.job_plan.jobs, plan.manifest["jobs"]):
            job.export(folder / entry["file"])
            bar.update(1)
        probe = plan.manifest["probe"]
        probe_unit(probe["input_shape"][0]).export(folder / probe["file"])
        bar.update(1)
        reference = plan.manifest["reference"]
        nets = [*zip(plan.networks, plan.manifest["networks"]),
                (parse_arch_id(space, reference["arch_id"]), reference)]
        for i, (arch, entry) in enumerate(nets):
            torch.manual_seed(i)
            export_onnx(build_static(space, arch), tuple(entry["input_shape"]), folder / entry["file"])
            bar.update(1)


def write_bundle(plan: BundlePlan, space: SearchSpace, path: str | os.PathLike[str], progress: bool = True) -> Path:
    """Export the plan's models and write the bundle archive atomically at `path`."""
    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="hwnat-bundle-") as tmp:
        root = Path(tmp) / plan.folder
        export_models(plan, space, root, progress)
        atomic_write_text(root / MANIFEST, json.dumps(plan.manifest, indent=1) + "\n")
        atomic_write_text(root / README, readme(plan.manifest))
        shutil.copyfile(RUNNER_SOURCE, root / RUNNER)
        (root / RUNNER).chmod(0o755)
        with _atomic_file(path) as partial, tarfile.open(partial, "w:gz", compresslevel=6) as tar:
            tar.add(root, arcname=plan.folder)
    log.info("wrote bundle %s (%d units timed %s as %d jobs, %d networks)", path, len(plan.units),
             plan.job_plan.mode, len(plan.job_plan.jobs), len(plan.networks))
    return path


def build_bundle(req: ProfileRequest, path: str | os.PathLike[str]) -> BundlePlan:
    """Plan and write the bundle of `req` at `path`; returns the plan (its manifest names everything)."""
    plan = plan_bundle(req)
    write_bundle(plan, req.space, path, req.progress)
    return plan


def check_manifest(manifest: Any, where: str) -> dict[str, Any]:
    """The manifest if it is one this hwnat reads and unedited (its digest matches its id); else BundleError."""
    if not isinstance(manifest, dict):
        raise BundleError(f"{where} is corrupt: expected a JSON object")
    version = manifest.get("bundle_schema_version")
    if version != BUNDLE_SCHEMA_VERSION:
        raise BundleError(f"{where} has bundle schema version {version!r}; this hwnat reads version "
                          f"{BUNDLE_SCHEMA_VERSION}: write the bundle again with this hwnat")
    missing = [k for k in MANIFEST_KEYS if k not in manifest]
    if missing:
        raise BundleError(f"{where} is corrupt: missing key(s) {', '.join(missing)}")
    if manifest_digest(manifest) != manifest["bundle_id"]:
        raise BundleError(f"{where} was edited: its content does not match its bundle id {manifest['bundle_id'][:12]}")
    return manifest


def _manifest_from_tar(path: Path) -> Any:
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                parts = Path(member.name).parts
                if member.isfile() and parts[-1] == MANIFEST and len(parts) <= 2:
                    data = tar.extractfile(member)
                    if data is not None:
                        return json.loads(data.read().decode("utf-8"))
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BundleError(f"bundle {path} cannot be read: {exc}") from exc
    raise BundleError(f"bundle {path} has no {MANIFEST}")


def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of a bundle given as its .tar.gz, its extracted folder or its manifest.json."""
    path = Path(path)
    try:
        if path.is_dir():
            return read_manifest(path / MANIFEST)
        if not path.is_file():
            raise BundleError(f"bundle {path} does not exist")
        if tarfile.is_tarfile(path):
            return check_manifest(_manifest_from_tar(path), f"bundle {path}")
        return check_manifest(json.loads(path.read_text(encoding="utf-8")), f"bundle manifest {path}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"bundle manifest {path} is corrupt (invalid JSON: {exc})") from exc
