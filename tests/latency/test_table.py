"""LatencyTable: prediction equals the sum of unit entries, vectorised equals per arch, files are checked."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from latency_fakes import MakeTable, fake_identity, fake_ms

from hwnat.latency.blocks import units_of
from hwnat.latency.calibration import Calibration
from hwnat.latency.store import default_table_path, find_table
from hwnat.latency.table import LatencyTable, LatencyTableError
from hwnat.models import net_config
from hwnat.space import encode, get_space, max_arch, min_arch, sample_archs
from hwnat.space.spec import VARIANT_NAMES

VARIANTS = tuple(VARIANT_NAMES)
LINEAR = Calibration("linear", (0.8, 0.05), 30)
CALLS = Calibration("calls", (0.9, -0.002, 0.03), 30)


def test_predict_is_the_sum_of_the_arch_units_then_calibrated(make_table: MakeTable) -> None:
    space = get_space("mbv3-small-input", variant="dense-parallel")
    table = make_table(space, calibration=LINEAR)
    for arch in sample_archs(space, 20, seed=1):
        units = units_of(net_config(space, arch))
        expected = sum(fake_ms(u.key) for u in units)
        assert table.raw(space, arch) == (pytest.approx(expected, rel=1e-12), len(units))
        assert table.predict(space, arch) == pytest.approx(0.8 * expected + 0.05, rel=1e-12)


@pytest.mark.parametrize("variant", VARIANTS)
def test_predict_many_equals_predict(make_table: MakeTable, variant: str) -> None:
    space = get_space("mbv3-small-input", variant=variant)
    table = make_table(space, calibration=CALLS)
    archs = [*sample_archs(space, 200, seed=10 + VARIANTS.index(variant)), min_arch(space), max_arch(space)]
    many = table.predict_many(space, np.stack([encode(space, a) for a in archs]))
    assert many.shape == (len(archs),)
    np.testing.assert_allclose(many, [table.predict(space, a) for a in archs], rtol=1e-12)
    ms, calls = table.raw_many(space, encode(space, archs[0]))
    assert (ms[0], int(calls[0])) == pytest.approx(table.raw(space, archs[0]))


def test_uncovered_width_names_the_rebuild_command(make_table: MakeTable) -> None:
    space = get_space("mbv3-small-input")
    table = make_table(space, widths=(0.5,))
    arch = sample_archs(space, 1, seed=0, width_mult=1.0)[0]
    for call in (lambda: table.predict(space, arch), lambda: table.predict_many(space, encode(space, arch))):
        with pytest.raises(LatencyTableError, match=r"not width 1.0 .*--widths 0.5,1.0"):
            call()


def test_save_load_round_trip_is_atomic(make_table: MakeTable, tmp_path: Path) -> None:
    space = get_space("mbv3-small-input", variant="ee-base")
    table = make_table(space, widths=(0.5,), calibration=LINEAR)
    path = table.save(tmp_path / "t.json")
    assert [p.name for p in tmp_path.iterdir()] == ["t.json"]
    loaded = LatencyTable.load(path)
    assert loaded == table and loaded.path == path
    data = json.loads(path.read_text())
    assert data["schema_version"] == 1 and data["hwnat_version"]
    assert data["target"]["fingerprint"] == fake_identity().fingerprint
    assert data["space"]["fingerprint"] == space.fingerprint and data["widths"] == [0.5]
    assert {"runtime_version", "device_name", "threads", "precision", "batch"} <= set(data["target"])
    arch = sample_archs(space, 1, seed=2, width_mult=0.5)[0]
    assert loaded.predict(space, arch) == table.predict(space, arch)


def test_the_reference_speed_needs_a_paired_calibration(make_table: MakeTable) -> None:
    space = get_space("mbv3-small-input")
    assert make_table(space, calibration=replace(LINEAR, reference_ms=2.5)).reference_speed_ms() == 2.5
    with pytest.raises(LatencyTableError, match="table-speed.*paired timing.*rebuild it with hwnat profile"):
        make_table(space, calibration=LINEAR).reference_speed_ms()


def test_other_space_is_refused_with_the_rebuild_hint(make_table: MakeTable) -> None:
    table = make_table(get_space("mbv3-small-input", variant="dense"), widths=(0.5,))
    other = get_space("mbv3-small-input", variant="parallel")
    with pytest.raises(LatencyTableError, match="hwnat profile --target fake-cpu --space mbv3-small-input "
                                                "--variant parallel"):
        table.predict(other, sample_archs(other, 1, seed=0)[0])
    classes = get_space("mbv3-small-input", variant="dense", num_classes=3)
    with pytest.raises(LatencyTableError, match="--classes 3"):
        table.check_space(classes)


def test_other_machine_is_refused_with_the_rebuild_hint(make_table: MakeTable) -> None:
    space = get_space("mbv3-small-input")
    table = make_table(space, widths=(0.5,))
    elsewhere = replace(fake_identity(), device_name="Another CPU", runtime_version="9.9")
    with pytest.raises(LatencyTableError) as err:
        table.check(elsewhere, space)
    text = str(err.value)
    assert "device_name" in text and "Another CPU" in text and "runtime_version" in text
    assert "hwnat profile --target fake-cpu --space mbv3-small-input" in text
    table.check(fake_identity(), space)  # the same machine passes


def test_edited_fingerprint_is_refused(make_table: MakeTable, tmp_path: Path) -> None:
    path = make_table(get_space("mbv3-small-input"), widths=(0.5,)).save(tmp_path / "t.json")
    data = json.loads(path.read_text())
    data["target"]["threads"] = 4
    path.write_text(json.dumps(data))
    with pytest.raises(LatencyTableError, match=f"{path}.*edited"):
        LatencyTable.load(path)


@pytest.mark.parametrize("content, message", [
    ("{not json", "invalid JSON"),
    ('{"schema_version": 1, "statistic": "p42"}', "statistic 'p42'"),
    ("[1, 2]", "expected a JSON object"),
    ('{"schema_version": 99}', "schema version 99"),
    ('{"schema_version": 1, "target": {}}', "corrupt"),
])
def test_corrupt_file_is_an_error_naming_it(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(LatencyTableError, match=message) as err:
        LatencyTable.load(path)
    assert str(path) in str(err.value)


def test_missing_file_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(LatencyTableError, match="does not exist"):
        LatencyTable.load(tmp_path / "none.json")


def test_find_table_by_fingerprints(make_table: MakeTable, tables_dir: Path) -> None:
    from hwnat.config.targets import load_target

    spec, space = load_target("fake-cpu"), get_space("mbv3-small-input", variant="dense")
    with pytest.raises(LatencyTableError, match="no latency table .* build one with: hwnat profile --target "
                                                "fake-cpu --space mbv3-small-input --variant dense"):
        find_table(spec, space)
    table = make_table(space, widths=(0.5,))
    table.save(tables_dir / "renamed.json")
    assert find_table(spec, space).path == tables_dir / "renamed.json"
    assert default_table_path("fake-cpu", space).parent == tables_dir
    with pytest.raises(LatencyTableError, match="no latency table"):
        find_table(spec, get_space("mbv3-small-input"))


def test_an_entry_without_the_table_statistic_is_corrupt(make_table: MakeTable, tmp_path: Path) -> None:
    table = make_table(get_space("mbv3-small-input"), widths=(0.5,))
    assert table.statistic == "p10_ms"
    path = table.save(tmp_path / "t.json")
    data = json.loads(path.read_text())
    key = sorted(data["entries"])[3]
    del data["entries"][key]["p10_ms"]
    path.write_text(json.dumps(data))
    with pytest.raises(LatencyTableError, match=f"corrupt: entry '{key}' has no p10_ms"):
        LatencyTable.load(path)
    data["statistic"] = "p50_ms"  # a table built on p50 reads it
    path.write_text(json.dumps(data))
    assert LatencyTable.load(path).statistic == "p50_ms"


def test_per_width_calibration_predicts_alike_one_by_one_and_vectorised(make_table: MakeTable) -> None:
    space = get_space("mbv3-small-input", variant="ee-dense")
    per_width = {"0.5": LINEAR, "0.75": CALLS, "1.0": Calibration("scale", (1.3,), 10)}
    table = make_table(space, calibration=Calibration("linear", (1.0, 0.0), 30, {}, per_width))
    archs = sample_archs(space, 100, seed=21)
    many = table.predict_many(space, np.stack([encode(space, a) for a in archs]))
    np.testing.assert_allclose(many, [table.predict(space, a) for a in archs], rtol=1e-12)
    arch = next(a for a in archs if a.width_mult == 1.0)
    assert table.predict(space, arch) == pytest.approx(1.3 * table.raw(space, arch)[0])
