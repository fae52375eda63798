"""CLI: `hwnat space list|show` and `hwnat arch stats`, including their error paths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from hwnat.cli.main import cli

NATNETS = Path(__file__).parent / "fixtures" / "natnets"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_space_list_json_has_both_presets():
    code, out = run("space", "list", "--json")
    assert code == 0
    names = {row["name"]: row for row in json.loads(out)}
    assert {"ofa-mbv3", "mbv3-small-input"} <= set(names)
    assert names["ofa-mbv3"]["resolutions"] == list(range(128, 257, 4))
    assert names["ofa-mbv3"]["num_classes"] == 1000
    assert len(names["ofa-mbv3"]["fingerprint"]) == 16


def test_space_show_table_and_variant():
    code, out = run("space", "show", "ofa-mbv3")
    assert code == 0 and "ofa-mbv3" in out and "genome_length  22" in out
    code, out = run("space", "show", "ofa-mbv3", "--variant", "ee-dense", "--json")
    info = json.loads(out)
    assert code == 0 and info["variant"] == "ee-dense" and info["genome_length"] == 23
    assert info["exits"] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("args, flag, hint", [
    (("space", "show", "ofa-mbv"), "NAME", "did you mean 'ofa-mbv3'"),
    (("space", "show", "ofa-mbv3", "--variant", "ee-dens"), "--variant", "did you mean 'ee-dense'"),
    (("arch", "stats", "--space", "small-input", "--subnet", "x"), "--space", "allowed:"),
    (("arch", "stats", "--space", "ofa-mbv3", "--subnet", "missing.subnet"), "--subnet", "does not exist"),
    (("arch", "stats", "--space", "ofa-mbv3", "--subnet", str(NATNETS / "NAT-M1.subnet"), "--classes", "0"),
     "--classes", "x>=1"),
])
def test_bad_values_name_the_flag_without_traceback(args, flag, hint):
    code, out = run(*args)
    assert code == 2
    assert flag in out and hint in out and "Traceback" not in out


def test_arch_stats_reproduces_nat_m1_published_params():
    code, out = run("arch", "stats", "--space", "ofa-mbv3", "--subnet", str(NATNETS / "NAT-M1.subnet"), "--json")
    assert code == 0
    info = json.loads(out)
    assert info["params"] == 6_067_408
    assert info["macs"] == 222_557_600
    assert info["arch_id"] == "r224-w1.0-11-144-551-522-8877"


def test_arch_stats_classes_changes_only_the_classifier():
    path = str(NATNETS / "NAT-M4.subnet")
    _, out1000 = run("arch", "stats", "--space", "ofa-mbv3", "--subnet", path, "--json")
    _, out10 = run("arch", "stats", "--space", "ofa-mbv3", "--subnet", path, "--json", "--classes", "10")
    a, b = json.loads(out1000), json.loads(out10)
    assert a["width_mult"] == 1.2 and a["resolution"] == 240
    assert a["params"] - b["params"] == 990 * (1536 + 1)


def test_arch_stats_rejects_a_subnet_outside_the_space(tmp_path):
    bad = tmp_path / "bad.subnet"
    bad.write_text(json.dumps({"ks": [9] * 10, "e": [3] * 10, "d": [2] * 5, "r": 224, "w": 1.0}))
    code, out = run("arch", "stats", "--space", "ofa-mbv3", "--subnet", str(bad))
    assert code == 2 and "kernel size 9" in out and "[3, 5, 7]" in out
    bad.write_text("{not json")
    code, out = run("arch", "stats", "--space", "ofa-mbv3", "--subnet", str(bad))
    assert code == 2 and "not valid JSON" in out
