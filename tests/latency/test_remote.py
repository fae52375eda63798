"""Remote mode: SSH argument building and destinations, a fake transport end to end (upload once, resume), and
SSHTransport end to end against a real sshd started on 127.0.0.1 (skipped, with the reason, where it cannot)."""

from __future__ import annotations

import dataclasses
import getpass
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hwnat.config.targets import TimingSpec, load_target
from hwnat.errors import ConfigError
from hwnat.latency.build import ProfileRequest
from hwnat.latency.remote import (
    Board,
    FakeTransport,
    RemoteError,
    SSHTransport,
    parse_destination,
    profile_remote,
    remote_path,
    ssh_board,
)
from hwnat.latency.store import find_table
from hwnat.latency.table import LatencyTable
from hwnat.space import SearchSpace, StageSpec

FAST = TimingSpec(warmup=1, min_runs=3, min_time_s=0.0)
SSHD_START_S = 10.0


def tiny_space() -> SearchSpace:
    return SearchSpace(name="tiny", resolutions=(16,), width_mults=(0.5,), kernel_sizes=(3, 5), expand_ratios=(3,),
                       depths=(1, 2), stages=(StageSpec(24, 2, "relu", False), StageSpec(40, 2, "hswish", True)),
                       num_classes=4)


def board_request(tmp_path: Path, **remote: Any) -> ProfileRequest:
    spec = dataclasses.replace(load_target("rpi5-ort"), timing=FAST, threads=1)
    spec = dataclasses.replace(spec, remote=dataclasses.replace(spec.remote, **remote))
    return ProfileRequest(spec, tiny_space(), out=tmp_path / "table.json", calibrate=3, validate=2, rounds=1,
                          passes=2, progress=False)


def test_parse_destination() -> None:
    assert parse_destination("pi@rpi5.local:2222") == ("rpi5.local", "pi", 2222)
    assert parse_destination("board") == ("board", None, None)
    assert parse_destination("me@[fe80::1]") == ("fe80::1", "me", None)
    with pytest.raises(ConfigError, match="port"):
        parse_destination("pi@board:ssh")


def test_ssh_board_takes_the_target_remote_and_overrides_it() -> None:
    spec = load_target("rpi5-ort")
    board = ssh_board(spec)
    assert isinstance(board.transport, SSHTransport)
    assert (board.transport.destination, board.transport.port, board.python, board.workdir) == \
        ("pi@rpi5.local", 22, "python3", "~/hwnat")
    other = ssh_board(spec, "root@10.0.0.7:2200", identity_file=Path("/k"), options=("Ciphers=aes128-ctr",)).transport
    assert isinstance(other, SSHTransport) and (other.destination, other.port) == ("root@10.0.0.7", 2200)
    with pytest.raises(ConfigError, match="no \\[remote\\] host"):
        ssh_board(load_target("ort-cpu"))


def test_ssh_and_scp_arguments_are_batch_mode_with_port_identity_and_options() -> None:
    t = SSHTransport("board", "pi", 2222, Path("/keys/id"), ("StrictHostKeyChecking=accept-new",), Path("/dev/null"))
    argv = t.ssh_argv("echo hi")
    assert argv[1:3] == ["-p", "2222"] and argv[-3:] == ["--", "pi@board", "echo hi"]
    for flag in (["-F", "/dev/null"], ["-o", "BatchMode=yes"], ["-i", "/keys/id"],
                 ["-o", "StrictHostKeyChecking=accept-new"]):
        assert any(argv[i:i + 2] == flag for i in range(len(argv)))
    scp = t.scp_argv("a.tar.gz", "pi@board:/x/a.tar.gz")
    assert scp[2:4] == ["-P", "2222"] and scp[-2:] == ["a.tar.gz", "pi@board:/x/a.tar.gz"]
    with pytest.raises(ConfigError, match="invalid SSH host"):
        SSHTransport("-oProxyCommand=x")


def test_remote_paths_keep_the_home_tilde() -> None:
    assert remote_path("~/hwnat") == '"$HOME"/hwnat'
    assert remote_path("/opt/my dir") == "'/opt/my dir'"


def test_fake_transport_end_to_end_uploads_once_and_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    req = board_request(tmp_path)
    transport = FakeTransport(tmp_path / "board-home")
    board = Board(transport, python=sys.executable, workdir="~/hwnat")
    report = profile_remote(req, board, bundle=tmp_path / "b.tar.gz")
    table = LatencyTable.load(tmp_path / "table.json")
    assert table.target.remote and table.target.name == "rpi5-ort" and table.calibration.n == 3
    monkeypatch.setenv("HWNAT_TABLES_DIR", str(tmp_path))
    assert find_table(req.target, req.space).entries == table.entries
    assert report["validation"]["n"] == 2 and report["board"]["folder"].startswith(str(tmp_path / "board-home"))
    assert (tmp_path / "b.tar.gz").is_file() and (tmp_path / "b.timings.json").is_file()
    assert [op for op, _ in transport.calls].count("put") == 1
    transport.calls.clear()
    again = profile_remote(req, board, bundle=tmp_path / "b.tar.gz")
    assert [op for op, _ in transport.calls].count("put") == 0
    expected = len(table.entries) * 2 + 5
    assert again["profiling"]["board"]["resumed_from"] == expected


def test_fake_transport_reports_a_failing_runner(tmp_path: Path) -> None:
    board = Board(FakeTransport(tmp_path / "home"), python="false", workdir="~/hwnat")
    with pytest.raises(RemoteError, match=r"false run.py --out timings.json.*failed \(exit 1\)"):
        profile_remote(board_request(tmp_path), board)


# -- a real sshd on 127.0.0.1 -----------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _which(name: str) -> str | None:
    return shutil.which(name) or next((p for p in (f"/usr/sbin/{name}", f"/usr/local/sbin/{name}")
                                       if os.access(p, os.X_OK)), None)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            return s.recv(4).startswith(b"SSH")
    except OSError:
        return False


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """An sshd on a free port of 127.0.0.1 with a generated host key and a generated user key."""
    tools = {name: _which(name) for name in ("sshd", "ssh-keygen", "ssh", "scp")}
    missing = [name for name, path in tools.items() if path is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (apt-get install openssh-server openssh-client)")
    if os.geteuid() == 0 and not Path("/run/sshd").is_dir():
        try:
            Path("/run/sshd").mkdir(mode=0o755, parents=True, exist_ok=True)
        except OSError as exc:
            pytest.skip(f"sshd needs its privilege separation directory /run/sshd: {exc}")
    d = tmp_path_factory.mktemp("sshd")
    for key in ("host_key", "user_key"):
        subprocess.run([tools["ssh-keygen"], "-q", "-t", "ed25519", "-N", "", "-f", str(d / key)], check=True,
                       capture_output=True)
    shutil.copyfile(d / "user_key.pub", d / "authorized_keys")
    port = _free_port()
    (d / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d / 'host_key'}\nPidFile {d / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {d / 'authorized_keys'}\nStrictModes no\nUsePAM no\nPermitRootLogin yes\n"
        "PubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "Subsystem sftp internal-sftp\n")
    (d / "known_hosts").write_text(f"[127.0.0.1]:{port} {(d / 'host_key.pub').read_text()}")
    with open(d / "sshd.log", "w") as log:
        proc = subprocess.Popen([tools["sshd"], "-D", "-e", "-f", str(d / "sshd_config")], stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + SSHD_START_S
    while not _listening(port) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    if proc.poll() is not None or not _listening(port):
        proc.kill()
        proc.wait()
        pytest.skip(f"sshd did not start: {(d / 'sshd.log').read_text().strip()[-500:]}")
    try:
        yield {"port": port, "dir": d}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def ssh_transport(sshd: dict[str, Any], key: str = "user_key") -> SSHTransport:
    d = sshd["dir"]
    return SSHTransport("127.0.0.1", getpass.getuser(), sshd["port"], d / key,
                        (f"UserKnownHostsFile={d / 'known_hosts'}", "StrictHostKeyChecking=yes"), Path(os.devnull))


def test_ssh_transport_runs_and_copies(sshd: dict[str, Any], tmp_path: Path) -> None:
    t = ssh_transport(sshd)
    assert t.run("echo hello from $((40 + 2))").stdout.strip() == "hello from 42"
    assert t.run("exit 3", check=False).returncode == 3
    (tmp_path / "a.txt").write_text("payload")
    t.put(tmp_path / "a.txt", str(tmp_path / "b.txt"))
    t.get(str(tmp_path / "b.txt"), tmp_path / "c.txt")
    assert (tmp_path / "c.txt").read_text() == "payload"
    with pytest.raises(RemoteError, match=r"exit 3' failed \(exit 3\):\noops"):
        t.run("echo oops >&2; exit 3")


def test_ssh_transport_names_an_unreachable_board(sshd: dict[str, Any]) -> None:
    with pytest.raises(RemoteError, match="cannot reach .*exit 255"):
        ssh_transport(sshd, key="host_key").run("true")


def test_profile_remote_over_a_real_sshd(sshd: dict[str, Any], tmp_path: Path) -> None:
    req = board_request(tmp_path, host="127.0.0.1", user=getpass.getuser(), port=sshd["port"],
                        python=sys.executable, workdir=str(tmp_path / "board"))
    t = ssh_transport(sshd)
    board = ssh_board(req.target, identity_file=t.identity_file, options=t.options, config_file=t.config_file)
    assert board.transport == t and board.workdir == str(tmp_path / "board")
    report = profile_remote(req, board)
    table = LatencyTable.load(tmp_path / "table.json")
    assert report["board"]["where"] == f"{getpass.getuser()}@127.0.0.1:{sshd['port']}"
    assert table.target.remote and table.calibration.n == 3 and report["validation"]["n"] == 2
    timings = json.loads(next((tmp_path / "board").glob("hwnat-bundle-*/timings.json")).read_text())
    assert set(timings["jobs"]) == set(table.entries) and table.profiling["mode"] == "alone"
    again = profile_remote(req, board)
    assert again["profiling"]["board"]["resumed_from"] == len(table.entries) * 2 + 5


def cli_has_board_options() -> bool:
    from hwnat.cli.profile_cmd import profile

    return any(p.name == "remote" for p in profile.params)


@pytest.mark.skipif(not cli_has_board_options(),
                    reason="hwnat/cli/profile_cmd.py does not include the board options of profile_board.py")
def test_cli_remote_over_a_real_sshd(sshd: dict[str, Any], tmp_path: Path) -> None:
    from click.testing import CliRunner

    from hwnat.cli.main import cli

    d = sshd["dir"]
    target = tmp_path / "sshd-board.toml"
    target.write_text(
        'schema_version = 1\nname = "sshd-board"\nruntime = "ort"\ndevice = "cpu"\nprecision = "fp32"\n'
        "[timing]\nwarmup = 1\nmin_runs = 3\nmin_time_s = 0.0\n"
        f'[remote]\nhost = "127.0.0.1"\nuser = "{getpass.getuser()}"\nport = {sshd["port"]}\n'
        f'python = "{sys.executable}"\nworkdir = "{tmp_path / "board"}"\n')
    args = ["profile", "--target", str(target), "--space", "mbv3-small-input", "--widths", "0.5", "--resolutions",
            "32", "--calibrate", "3", "--validate", "2", "--rounds", "1", "--passes", "1", "--no-progress",
            "--out", str(tmp_path / "table.json"), "--remote", "--identity", str(d / "user_key"),
            "--ssh-option", f"UserKnownHostsFile={d / 'known_hosts'}", "--ssh-option", "StrictHostKeyChecking=yes",
            "--json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["table"] == str(tmp_path / "table.json") and report["validation"]["n"] == 2
    assert len(LatencyTable.load(tmp_path / "table.json").entries) == report["profiling"]["units"] == 93
