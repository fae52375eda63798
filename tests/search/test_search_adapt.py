"""Search state as JSON, supernet adaptation (gene distribution, train_step, adapter) and resume with adaptation."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hwnat.errors import CheckpointError, ConfigError
from hwnat.search import make_config, run_search
from hwnat.search.adapt import SyntheticAdapter, gene_distribution
from hwnat.search.evaluator import SyntheticEvaluator
from hwnat.search.loop import ADAPT_DIR, ARCHIVE_LOG, FRONT_FILE
from hwnat.search.operators import search_bounds
from hwnat.search.state import LEGACY_STATE_FILE, STATE_FILE
from hwnat.space.spec import SearchSpace, StageSpec

TINY = {"archive_size": 10, "pop_size": 10, "generations": 2, "candidates": 3, "iterations": 3, "eval_batch": 8,
        "predictor_options": {"n_estimators": 30}}

# a three-stage space: a real super-network on it trains and evaluates in well under a second per subnet
TINY_SPACE = SearchSpace(
    name="tiny-search", resolutions=(16, 24), width_mults=(1.0,),
    stages=(StageSpec(8, 1, "relu", False), StageSpec(16, 2, "hswish", True), StageSpec(16, 2, "hswish", True)),
    kernel_sizes=(3, 5), expand_ratios=(2, 3), depths=(1, 2), stem_width=8, stem_stride=2, first_block_width=8,
    final_expand_width=32, feature_mix_width=48, num_classes=10, description="three-stage space for search tests",
)
REAL = {"archive_size": 6, "pop_size": 6, "generations": 2, "candidates": 2, "iterations": 2, "eval_batch": 4,
        "predictor": "ridge", "adapt": True, "adapt_steps": 2, "adapt_top_n": 4}


def same(a, b) -> bool:
    return np.array_equal(a.genomes, b.genomes) and np.array_equal(a.error, b.error)


# -- state ------------------------------------------------------------------------------------------------
def test_state_is_plain_json_and_a_pickle_is_refused(space, latency, tmp_path) -> None:
    cfg = make_config("smoke", "natv2", **{**TINY, "iterations": 1})
    run_search(cfg, SyntheticEvaluator(space), space, latency=latency, out=tmp_path / "a")
    payload = json.loads((tmp_path / "a" / STATE_FILE).read_text())
    assert payload["schema"] == 2 and payload["iteration"] == 1
    assert payload["predictor"]["name"] == "lightgbm" and isinstance(payload["rng"]["state"]["state"], int)
    assert not (tmp_path / "a" / LEGACY_STATE_FILE).exists()
    legacy = tmp_path / "b"
    legacy.mkdir()
    (legacy / LEGACY_STATE_FILE).write_bytes(pickle.dumps({"schema": 1}))
    with pytest.raises(CheckpointError, match="pickle"):
        run_search(cfg, SyntheticEvaluator(space), space, latency=latency, out=legacy, resume=True)
    (tmp_path / "a" / STATE_FILE).write_text("{not json")
    with pytest.raises(CheckpointError, match="cannot be read"):
        run_search(cfg, SyntheticEvaluator(space), space, latency=latency, out=tmp_path / "a", resume=True)


# -- distribution and presets -------------------------------------------------------------------------------
def test_gene_distribution_follows_the_top_of_the_archive(space) -> None:
    from hwnat.search.archive import Archive

    lo, hi = search_bounds(space, 0.5)
    rng = np.random.default_rng(0)
    genomes = np.tile(lo, (20, 1))
    genomes[:10, 0] = hi[0]  # the ten best have the largest resolution
    archive = Archive(genomes, np.r_[np.full(10, 0.1), np.full(10, 0.5)], {"latency": np.ones(20)})
    dist = gene_distribution(archive, ("error", "latency"), 10, lo, hi, rng)
    p = dist.probs[0]
    assert p[-1] == p.max() and np.isclose(p.sum(), 1.0) and (p > 0).all()  # Laplace smoothing keeps every value
    assert (dist.sample(50, rng)[:, 0] <= hi[0]).all()


def test_nat_preset_adapts_natv2_only_when_asked(space, latency) -> None:
    assert make_config("smoke", "nat").adapt and not make_config("smoke", "natv2").adapt
    assert make_config("smoke", "natv2", adapt=True).adapt
    assert make_config("paper", "nat").adapt_epochs == 5
    with pytest.raises(ConfigError, match="adaptation"):
        run_search(make_config("smoke", "nat", **TINY), SyntheticEvaluator(space), space, latency=latency)
    with pytest.raises(ConfigError, match="adapt_steps"):
        make_config("smoke", adapt_steps=-1)


# -- adaptation in the loop (synthetic) -------------------------------------------------------------------
def _adapting(space, **kw):
    evaluator = SyntheticEvaluator(space)
    return evaluator, SyntheticAdapter(evaluator, top_n=5, gain=0.02)


def test_synthetic_adaptation_reevaluates_and_resumes(space, latency, tmp_path) -> None:
    cfg = make_config("smoke", "natv2", **{**TINY, "adapt": True})
    ev, ad = _adapting(space)
    rows: list[dict] = []
    full = run_search(cfg, ev, space, latency=latency, out=tmp_path / "full", adapter=ad, progress=rows.append)
    assert all(r["reevaluated"] == 10 and "hv_before_adapt" in r for r in rows[1:])
    log = [json.loads(line) for line in (tmp_path / "full" / ARCHIVE_LOG).read_text().splitlines()]
    assert sum(bool(r.get("reevaluated")) for r in log) == 30
    assert full.evaluations == len(log) - 30  # re-evaluations are not counted as new evaluations
    assert [p.name for p in (tmp_path / "full" / ADAPT_DIR).iterdir()] == ["iter-0003.json"]

    ev, ad = _adapting(space)
    run_search(cfg, ev, space, latency=latency, out=tmp_path / "part", adapter=ad, stop_after=2)
    ev, ad = _adapting(space)  # a fresh, unadapted evaluator: resume must load the adapted state
    resumed = run_search(cfg, ev, space, latency=latency, out=tmp_path / "part", adapter=ad, resume=True)
    assert same(full.archive, resumed.archive)
    assert (tmp_path / "full" / ARCHIVE_LOG).read_text() == (tmp_path / "part" / ARCHIVE_LOG).read_text()


KILL_SCRIPT = """
import sys
from hwnat.search import make_config, run_search
from hwnat.search.adapt import SyntheticAdapter
from hwnat.search.evaluator import SyntheticEvaluator, SyntheticLatency
from hwnat.space import get_space
sp = get_space("mbv3-small-input")
cfg = make_config("smoke", "natv2", **{tiny!r})
ev = SyntheticEvaluator(sp, delay_s=float(sys.argv[2]))
run_search(cfg, ev, sp, latency=SyntheticLatency(sp), out=sys.argv[1], resume=sys.argv[3] == "1",
           adapter=SyntheticAdapter(ev, top_n=5, gain=0.02))
"""


@pytest.mark.slow
def test_sigkill_during_adapting_search_then_resume(tmp_path, kill_when) -> None:
    script = tmp_path / "run.py"
    script.write_text(KILL_SCRIPT.format(tiny={**TINY, "adapt": True}))
    ref, killed = tmp_path / "ref", tmp_path / "killed"
    subprocess.run([sys.executable, str(script), str(ref), "0", "0"], check=True, timeout=300)
    proc = subprocess.Popen([sys.executable, str(script), str(killed), "0.3", "0"])
    kill_when(proc, lambda: (killed / ADAPT_DIR).is_dir())  # killed after the first adaptation began
    subprocess.run([sys.executable, str(script), str(killed), "0", "1"], check=True, timeout=300)
    assert (ref / ARCHIVE_LOG).read_text() == (killed / ARCHIVE_LOG).read_text()
    assert json.loads((ref / FRONT_FILE).read_text())["front"] == json.loads((killed / FRONT_FILE).read_text())["front"]


# -- a real (tiny) super-network --------------------------------------------------------------------------
def write_supernet(path: Path, seed: int = 0) -> Path:
    import torch

    from hwnat.supernet import OFAMobileNetV3
    from hwnat.training import checkpoint as ckpt
    from hwnat.training.config import load_config

    torch.manual_seed(seed)
    net = OFAMobileNetV3(TINY_SPACE, 1.0)
    cfg = load_config("smoke", overrides={"train": {"batch_size": 16, "bn_calib_batches": 1, "threads": 1,
                                                    "val": 100}})
    ckpt.atomic_save({"format": ckpt.SUPERNET_FORMAT, **ckpt.space_identity(TINY_SPACE, 1.0),
                      "config": cfg.to_dict(), "state_dict": net.state_dict()}, path)
    return path


def test_train_step_is_one_seeded_optimiser_step() -> None:
    import torch

    from hwnat.space.arch import max_arch, min_arch
    from hwnat.supernet import OFAMobileNetV3
    from hwnat.training import train_step
    from hwnat.training.optim import WarmupCosine, make_optimizer

    def run() -> tuple[float, torch.Tensor, int]:
        torch.manual_seed(0)
        net = OFAMobileNetV3(TINY_SPACE, 1.0).train()
        opt = make_optimizer(net, 0.1, 0.9, True, 0.0)
        schedule = WarmupCosine(opt, 0.1, 10)
        x, y = torch.randn(8, 3, 16, 16), torch.arange(8) % 10
        archs = [min_arch(TINY_SPACE, 1.0), max_arch(TINY_SPACE, 1.0)]
        before = net.classifier.linear.weight.detach().clone()
        loss = train_step(net, x, y, [archs[1]], opt, schedule=schedule, label_smoothing=0.1)
        return loss, net.classifier.linear.weight.detach() - before, schedule.step_count

    (l1, d1, n1), (l2, d2, n2) = run(), run()
    assert np.isfinite(l1) and l1 == l2 and n1 == n2 == 1
    assert torch.equal(d1, d2) and d1.abs().sum() > 0
    with pytest.raises(ValueError, match="at least one"):
        from hwnat.training import train_step as ts

        ts(None, None, None, [], None)  # type: ignore[arg-type]


def _real(tmp_path: Path, src: Path, out: str, **kw):
    from hwnat.search.supernet_eval import supernet_adapter, supernet_evaluator

    cfg = make_config("smoke", "nat", objectives=("error", "params"), **{**REAL, **kw})
    ev = supernet_evaluator(src, "digits", val_images=40)
    return cfg, ev, supernet_adapter(ev, cfg)


@pytest.mark.slow
def test_supernet_adaptation_trains_saves_and_resumes(tmp_path) -> None:
    import torch

    src = write_supernet(tmp_path / "supernet.pt")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _adapt_and_resume(tmp_path, src)
    finally:
        torch.set_num_threads(threads)


def _adapt_and_resume(tmp_path: Path, src: Path) -> None:
    import torch

    cfg, ev, ad = _real(tmp_path, src, "full")
    original = {k: v.clone() for k, v in ev.supernet.state_dict().items()}
    full = run_search(cfg, ev, TINY_SPACE, out=tmp_path / "full", adapter=ad)
    assert full.history[-1]["adapt_steps"] == 2 and np.isfinite(full.history[-1]["adapt_loss"])
    saved = tmp_path / "full" / ADAPT_DIR / "iter-0002.pt"
    from hwnat.training.api import load_supernet

    adapted = load_supernet(saved).state_dict()  # a super-network file, loaded with weights_only=True
    assert any(not torch.equal(adapted[k], original[k]) for k in original if "weight" in k)
    assert all(torch.equal(adapted[k], v) for k, v in ev.supernet.state_dict().items())

    cfg, ev, ad = _real(tmp_path, src, "part")
    run_search(cfg, ev, TINY_SPACE, out=tmp_path / "part", adapter=ad, stop_after=1)
    cfg, ev, ad = _real(tmp_path, src, "part")
    resumed = run_search(cfg, ev, TINY_SPACE, out=tmp_path / "part", adapter=ad, resume=True)
    assert same(full.archive, resumed.archive)
    assert (tmp_path / "full" / ARCHIVE_LOG).read_text() == (tmp_path / "part" / ARCHIVE_LOG).read_text()


REAL_KILL_SCRIPT = """
import sys, torch
sys.path.insert(0, {here!r})
from test_search_adapt import REAL, TINY_SPACE
from hwnat.search import make_config, run_search
from hwnat.search.supernet_eval import supernet_adapter, supernet_evaluator
torch.set_num_threads(1)
cfg = make_config("smoke", "nat", objectives=("error", "params"), **REAL)
ev = supernet_evaluator(sys.argv[2], "digits", val_images=40)
run_search(cfg, ev, TINY_SPACE, out=sys.argv[1], resume=sys.argv[3] == "1", adapter=supernet_adapter(ev, cfg))
"""


@pytest.mark.slow
def test_sigkill_during_supernet_adaptation_then_resume(tmp_path, kill_when) -> None:
    src = write_supernet(tmp_path / "supernet.pt")
    script = tmp_path / "run.py"
    script.write_text(REAL_KILL_SCRIPT.format(here=str(Path(__file__).parent)))
    ref, killed = tmp_path / "ref", tmp_path / "killed"
    subprocess.run([sys.executable, str(script), str(ref), str(src), "0"], check=True, timeout=600)
    proc = subprocess.Popen([sys.executable, str(script), str(killed), str(src), "0"])
    # killed once the first adaptation's weights are saved, while the archive is being re-evaluated
    kill_when(proc, lambda: (killed / ADAPT_DIR / "iter-0001.pt").exists(), timeout=600)
    subprocess.run([sys.executable, str(script), str(killed), str(src), "1"], check=True, timeout=600)
    assert (ref / ARCHIVE_LOG).read_text() == (killed / ARCHIVE_LOG).read_text()
    assert json.loads((ref / FRONT_FILE).read_text())["front"] == json.loads((killed / FRONT_FILE).read_text())["front"]
