"""hwnat build --config: stage sizes from a TOML file, validated up front, reaching every stage's fingerprint."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from hwnat.cli.main import cli
from hwnat.errors import ConfigError
from hwnat.pipeline.build_config import merge_overrides
from hwnat.pipeline.request import BUILD_PRESETS, SMALL_DATA_OVERRIDES, BuildRequest

SIZED = """
[build]
candidates = 2
val_images = 500
[supernet.train]
threads = 2
[supernet.phases.teacher]
epochs = 3
[search]
iterations = 1
[finetune]
max_epochs = 1
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "build.toml"
    path.write_text(text)
    return path


def test_a_config_sizes_the_stages_of_its_preset(tmp_path: Path) -> None:
    req = BuildRequest.make("fake-cpu", "latency=2ms", config=write(tmp_path, SIZED))
    assert req.settings["candidates"] == 2 and req.settings["val_images"] == 500
    assert req.settings["rounds"] == BUILD_PRESETS["quick"]["rounds"]  # not in the file: the preset's
    assert req.settings["overrides"] == {"train": {"train": {"threads": 2}, "phases": {"teacher": {"epochs": 3}}},
                                         "search": {"iterations": 1}, "finetune": {"max_epochs": 1}}
    assert req.to_dict()["config"] == str(tmp_path / "build.toml")
    plain = BuildRequest.make("fake-cpu", "latency=2ms")
    assert plain.settings == {**BUILD_PRESETS["quick"], "overrides": {}}


def test_the_files_preset_wins_over_the_flag(tmp_path: Path) -> None:
    req = BuildRequest.make("fake-cpu", "latency=2ms", preset="quick", config=write(tmp_path, 'preset = "smoke"\n'))
    assert req.preset == "smoke" and req.settings["train"] == "smoke"


@pytest.mark.parametrize("text, message", [
    ("[serach]\niterations = 1\n", "unknown key 'serach'.*did you mean 'search'"),
    ('preset = "quik"\n', "key 'preset' = 'quik' is not allowed.*quick"),
    ("[build]\ncandidate = 2\n", "unknown key 'build.candidate'.*did you mean 'candidates'"),
    ("[build]\ncandidates = 0\n", "key 'build.candidates' must be >= 1, got 0"),
    ("[build]\nrounds = 'three'\n", "key 'build.rounds' must be"),
    ("[build]\nheadroom = 0.6\n", "key 'build.headroom' must be <= 0.5, got 0.6"),
    ('[build]\ntiming = "fast"\n', "build.timing"),
    ("[build]\ncalm_slowdown = 0.9\n", "key 'build.calm_slowdown' must be >= 1"),
    ("search = 3\n", "key 'search' must be a table"),
    ("[search]\niteration = 1\n", r"\[search\].*unknown search setting 'iteration'.*did you mean 'iterations'"),
    ("[search]\nseed = 3\n", "key 'search.seed' is set by the build \\(--seed\\)"),
    ("[search]\narchive_size = 2\n", r"\[search\].*archive_size must be ≥ 4"),
    ("[supernet.train]\nbatch_sise = 32\n", r"\[supernet\].*'train.batch_sise'.*did you mean 'batch_size'"),
    ("[supernet.phases.teachr]\nepochs = 2\n", r"\[supernet\].*unknown phase 'phases.teachr'.*did you mean 'teacher'"),
    ("[finetune]\nmax_epochs = -1\n", r"\[finetune\].*max_epochs"),
    ("[build\n", "is not valid TOML"),
])
def test_a_bad_config_is_refused_naming_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as info:
        BuildRequest.make("fake-cpu", "latency=2ms", config=path)
    assert f"--config {str(path)!r}" in str(info.value)


def test_a_missing_config_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--config .*no.toml' does not exist"):
        BuildRequest.make("fake-cpu", "latency=2ms", config=tmp_path / "no.toml")


def test_the_cli_reports_a_bad_config_without_a_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, "[build]\ncandidates = 0\n")
    result = CliRunner().invoke(cli, ["build", "--target", "fake-cpu", "--budget", "latency=2ms", "--config",
                                      str(path), "--out", str(tmp_path / "run")])
    assert result.exit_code != 0
    assert "build.candidates" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "run" / "build.json").exists()  # refused before the run directory is opened


def ctx_for(images: int, preset: str, overrides: dict) -> SimpleNamespace:
    return SimpleNamespace(dataset=[0] * images, request=SimpleNamespace(preset=preset),
                           settings={"overrides": overrides})


def test_stage_overrides_put_the_config_over_the_small_data_settings() -> None:
    from hwnat.pipeline.stages import stage_overrides

    mine = {"train": {"phases": {"teacher": {"epochs": 2}}}, "search": {"iterations": 1}}
    small = stage_overrides(ctx_for(1797, "quick", mine), "train")  # type: ignore[arg-type]
    assert small["phases"]["teacher"] == {**SMALL_DATA_OVERRIDES["train"]["phases"]["teacher"], "epochs": 2}
    assert small["phases"]["kernel"] == SMALL_DATA_OVERRIDES["train"]["phases"]["kernel"]
    assert small["train"] == SMALL_DATA_OVERRIDES["train"]["train"]
    assert stage_overrides(ctx_for(45_000, "quick", mine), "search") == {"iterations": 1}  # type: ignore[arg-type]
    assert stage_overrides(ctx_for(45_000, "quick", {}), "finetune") == {}  # type: ignore[arg-type]
    assert SMALL_DATA_OVERRIDES["train"]["phases"]["teacher"]["epochs"] == 6  # the module's table is not changed


def test_merge_overrides_merges_nested_tables_and_the_top_wins() -> None:
    base = {"a": {"x": 1, "y": {"p": 1}}, "b": 1}
    assert merge_overrides(base, {"a": {"y": {"q": 2}}, "b": 2, "c": 3}) == {"a": {"x": 1, "y": {"p": 1, "q": 2}},
                                                                              "b": 2, "c": 3}
    assert base == {"a": {"x": 1, "y": {"p": 1}}, "b": 1}


def test_the_config_reaches_the_search_and_the_supernet_fingerprint(tmp_path: Path, monkeypatch) -> None:
    import hwnat.pipeline.stages as stages

    monkeypatch.setattr(stages, "data_identity", lambda ds: {"images": len(ds)})
    req = BuildRequest.make("fake-cpu", "latency=2ms", config=write(tmp_path, SIZED))
    ctx = SimpleNamespace(request=req, settings=req.settings, dataset=[0] * 45_000, width=0.5, resolutions=(32,),
                          space=SimpleNamespace(fingerprint="fp"))
    assert stages.search_config(ctx).iterations == 1  # type: ignore[arg-type]
    sized = stages._supernet_inputs(ctx)  # type: ignore[arg-type]
    ctx.settings = {**req.settings, "overrides": {}}
    plain = stages._supernet_inputs(ctx)  # type: ignore[arg-type]
    assert sized["overrides"] == {"train": {"threads": 2}, "phases": {"teacher": {"epochs": 3}}}
    assert plain["overrides"] == {} and stages.fingerprint(sized) != stages.fingerprint(plain)
