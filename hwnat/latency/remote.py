"""Measure a bundle on a board over a transport: the system's ssh/scp (SSHTransport) or, for tests, a local folder
standing in for the board (FakeTransport). Re-running resumes: an uploaded bundle is reused by its id and the
runner continues its board-side journal."""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hwnat.errors import ConfigError, HwnatError
from hwnat.latency.bundle import MANIFEST, RUNNER, BundleError, BundlePlan, plan_bundle, read_manifest, write_bundle

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from hwnat.config.targets import TargetSpec
    from hwnat.latency.build import ProfileRequest

log = logging.getLogger(__name__)

STDERR_TAIL = 20
TIMINGS = "timings.json"


class RemoteError(HwnatError):
    """A command on the board, or a copy to or from it, failed."""


@dataclass(frozen=True)
class Result:
    """A finished command: exit status, its stdout and the last lines of its stderr."""

    returncode: int
    stdout: str
    stderr_tail: str


def execute(argv: Sequence[str], what: str, *, stream: bool = False, check: bool = True,
            cwd: Path | None = None, env: dict[str, str] | None = None) -> Result:
    """Run argv without a shell or stdin; stderr is forwarded live to ours when `stream`, and its tail kept."""
    try:
        proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, errors="replace", cwd=cwd, env=env)
    except OSError as exc:
        raise RemoteError(f"{what}: cannot start {argv[0]!r}: {exc.strerror}") from exc
    assert proc.stdout is not None and proc.stderr is not None
    chunks: list[str] = []
    reader = threading.Thread(target=lambda: chunks.append(proc.stdout.read()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    tail: deque[str] = deque(maxlen=STDERR_TAIL)
    for line in proc.stderr:
        tail.append(line.rstrip("\n"))
        if stream:
            sys.stderr.write(line)
            sys.stderr.flush()
    reader.join()
    result = Result(proc.wait(), "".join(chunks), "\n".join(tail))
    if check and result.returncode != 0:
        detail = f":\n{result.stderr_tail}" if result.stderr_tail and not stream else ""
        raise RemoteError(f"{what} failed (exit {result.returncode}){detail}")
    return result


def remote_path(path: str) -> str:
    """A path quoted for the board's POSIX shell, with a leading ~ still expanded to its home."""
    if path == "~":
        return '"$HOME"'
    if path.startswith("~/"):
        return '"$HOME"/' + shlex.quote(path[2:])
    return shlex.quote(path)


def remote_command_word(word: str) -> str:
    """The board's python setting as a shell word: a path is quoted (~ kept), a command with spaces kept as is."""
    return word if any(c.isspace() for c in word) else remote_path(word)


class Transport(ABC):
    """Runs shell commands on a board and copies files to and from it."""

    @abstractmethod
    def run(self, command: str, *, stream: bool = False, check: bool = True) -> Result:
        """Run a POSIX shell command line on the board."""

    @abstractmethod
    def put(self, local: Path, remote: str) -> None:
        """Copy a local file to a path on the board (absolute, or relative to the board's home)."""

    @abstractmethod
    def get(self, remote: str, local: Path) -> None:
        """Copy a file from the board to a local path."""

    @abstractmethod
    def describe(self) -> str:
        """Where the board is, for messages."""


@dataclass(frozen=True)
class SSHTransport(Transport):
    """The system's ssh and scp in batch mode (never a password prompt): port, user, identity file, -o options."""

    host: str
    user: str = ""
    port: int = 22
    identity_file: Path | None = None
    options: tuple[str, ...] = ()
    config_file: Path | None = None
    connect_timeout_s: int = 15
    ssh: str = "ssh"
    scp: str = "scp"

    def __post_init__(self) -> None:
        if not self.host or self.host.startswith("-") or any(c.isspace() for c in self.host):
            raise ConfigError(f"invalid SSH host {self.host!r}")
        if not 1 <= self.port <= 65535:
            raise ConfigError(f"SSH port {self.port} is out of range 1..65535")

    @property
    def destination(self) -> str:
        return f"{self.user}@{self.host}" if self.user else self.host

    def describe(self) -> str:
        return f"{self.destination}:{self.port}"

    def _common(self) -> list[str]:
        args = [] if self.config_file is None else ["-F", str(self.config_file)]
        args += ["-o", "BatchMode=yes", "-o", f"ConnectTimeout={self.connect_timeout_s}",
                 "-o", "ServerAliveInterval=30"]
        if self.identity_file is not None:
            args += ["-i", str(self.identity_file), "-o", "IdentitiesOnly=yes"]
        for option in self.options:
            args += ["-o", option]
        return args

    def _binary(self, name: str) -> str:
        found = shutil.which(name)
        if found is None:
            raise RemoteError(f"no {name!r} on PATH: install the OpenSSH client (e.g. apt-get install openssh-client)")
        return found

    def ssh_argv(self, command: str) -> list[str]:
        return [self._binary(self.ssh), "-p", str(self.port), *self._common(), "--", self.destination, command]

    def scp_argv(self, source: str, target: str) -> list[str]:
        return [self._binary(self.scp), "-q", "-P", str(self.port), *self._common(), source, target]

    def run(self, command: str, *, stream: bool = False, check: bool = True) -> Result:
        result = execute(self.ssh_argv(command), f"ssh {self.describe()} {command!r}", stream=stream, check=False)
        if result.returncode == 255:
            raise RemoteError(f"cannot reach {self.describe()} over ssh (exit 255: connection, host key or "
                              f"authentication failed):\n{result.stderr_tail}")
        if check and result.returncode != 0:
            detail = "" if stream else f":\n{result.stderr_tail}"
            raise RemoteError(f"on {self.describe()}: {command!r} failed (exit {result.returncode}){detail}")
        return result

    def put(self, local: Path, remote: str) -> None:
        execute(self.scp_argv(str(local), f"{self.destination}:{remote}"), f"scp {local} to {self.describe()}:{remote}")

    def get(self, remote: str, local: Path) -> None:
        execute(self.scp_argv(f"{self.destination}:{remote}", str(local)), f"scp {self.describe()}:{remote} to {local}")


@dataclass
class FakeTransport(Transport):
    """A local folder standing in for the board's home: commands run there in a bash subprocess with HOME set to
    it, copies are file copies. Records every operation in `calls`."""

    root: Path
    calls: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self.root.mkdir(parents=True, exist_ok=True)

    def describe(self) -> str:
        return f"fake board at {self.root}"

    def _path(self, remote: str) -> Path:
        return Path(remote) if remote.startswith("/") else self.root / remote

    def run(self, command: str, *, stream: bool = False, check: bool = True) -> Result:
        self.calls.append(("run", command))
        env = {**os.environ, "HOME": str(self.root)}
        result = execute(["bash", "-c", command], f"fake board: {command!r}", stream=stream, check=False,
                         cwd=self.root, env=env)
        if check and result.returncode != 0:
            raise RemoteError(f"on {self.describe()}: {command!r} failed (exit {result.returncode}):\n"
                              f"{result.stderr_tail}")
        return result

    def put(self, local: Path, remote: str) -> None:
        self.calls.append(("put", remote))
        shutil.copyfile(local, self._path(remote))

    def get(self, remote: str, local: Path) -> None:
        self.calls.append(("get", remote))
        try:
            shutil.copyfile(self._path(remote), local)
        except FileNotFoundError as exc:
            raise RemoteError(f"fake board: no file {remote}") from exc


def parse_destination(text: str) -> tuple[str, str | None, int | None]:
    """'[user@]host[:port]' → (host, user or None, port or None)."""
    user, _, hostport = text.rpartition("@")
    host, port = hostport, None
    if hostport.count(":") == 1:
        host, _, port_text = hostport.partition(":")
        if not port_text.isdigit():
            raise ConfigError(f"invalid SSH destination {text!r}: the port after ':' must be a number")
        port = int(port_text)
    host = host.strip("[]")
    if not host:
        raise ConfigError(f"invalid SSH destination {text!r}: expected [user@]host[:port]")
    return host, user or None, port


@dataclass(frozen=True)
class Board:
    """Where and how the runner runs: a transport, the board's python command and its work folder."""

    transport: Transport
    python: str = "python3"
    workdir: str = "~/hwnat"


def ssh_board(spec: TargetSpec, destination: str | None = None, *, identity_file: Path | None = None,
              options: Sequence[str] = (), config_file: Path | None = None) -> Board:
    """The board of `spec` over SSH: its [remote] settings, with host, user and port overridden by `destination`."""
    from hwnat.config.targets import RemoteSpec

    remote = spec.remote or RemoteSpec(host="")
    host, user, port = parse_destination(destination) if destination else (remote.host, None, None)
    if not host:
        raise ConfigError(f"target {spec.name!r} has no [remote] host: give one as user@host")
    transport = SSHTransport(host, user if user is not None else remote.user, port or remote.port, identity_file,
                             tuple(options), config_file)
    return Board(transport, remote.python, remote.workdir)


def upload_bundle(board: Board, plan: BundlePlan, make_bundle: Callable[[], Path]) -> str:
    """The bundle's absolute folder on the board; uploaded and extracted only when the board lacks it."""
    t = board.transport
    root = t.run(f"mkdir -p {remote_path(board.workdir)} && cd {remote_path(board.workdir)} && pwd").stdout
    root = root.strip().splitlines()[-1]
    folder = f"{root}/{plan.folder}"
    present = t.run(f"test -f {shlex.quote(folder + '/' + MANIFEST)} && test -f {shlex.quote(folder + '/' + RUNNER)}",
                    check=False)
    if present.returncode == 0:
        log.info("%s already holds bundle %s", t.describe(), plan.bundle_id[:12])
        return folder
    archive, staging = f"{folder}.tar.gz", f"{folder}.partial"
    t.put(make_bundle(), archive)
    q = shlex.quote
    t.run(f"rm -rf {q(staging)} && mkdir -p {q(staging)} && tar -xzf {q(archive)} -C {q(staging)} && "
          f"rm -rf {q(folder)} && mv {q(staging + '/' + plan.folder)} {q(folder)} && rm -rf {q(staging)} {q(archive)}")
    return folder


def run_bundle(board: Board, folder: str, *, runtime: str | None = None, progress: bool = True) -> None:
    """Run the bundle's runner on the board (it resumes from its journal there); its progress streams to stderr."""
    command = f"cd {shlex.quote(folder)} && {remote_command_word(board.python)} {RUNNER} --out {TIMINGS}"
    if runtime is not None:
        command += f" --runtime {shlex.quote(runtime)}"
    if not progress:
        command += " --quiet"
    board.transport.run(command, stream=True)


def fetch_timings(board: Board, folder: str, local: Path) -> Path:
    """Copy the board's timings.json to `local` (atomically: a temporary name, then a rename)."""
    local.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=local.parent, prefix=f".{local.name}.", suffix=".tmp")
    os.close(fd)
    try:
        board.transport.get(f"{folder}/{TIMINGS}", Path(tmp))
        os.replace(tmp, local)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return local


def _local_bundle(plan: BundlePlan, req: ProfileRequest, path: Path) -> Path:
    """`path` holding the plan's bundle: reused when it already does, written otherwise."""
    if path.is_file():
        try:
            if read_manifest(path)["bundle_id"] == plan.bundle_id:
                return path
        except BundleError as exc:
            log.warning("replacing %s: %s", path, exc)
    return write_bundle(plan, req.space, path, req.progress)


def profile_remote(req: ProfileRequest, board: Board, *, bundle: Path | None = None,
                   runtime: str | None = None) -> dict[str, Any]:
    """Plan the bundle, put it on the board unless it is there, run it (resuming), fetch its timings and write
    the table (`req.out`, default latency_tables/). With `bundle`, the archive and the fetched timings
    (<bundle>.timings.json) are also kept there."""
    from hwnat.latency.board_import import import_timings

    plan = plan_bundle(req)
    with tempfile.TemporaryDirectory(prefix="hwnat-remote-") as tmp:
        archive = Path(bundle) if bundle is not None else Path(tmp) / f"{plan.folder}.tar.gz"
        if bundle is not None:
            _local_bundle(plan, req, archive)
        folder = upload_bundle(board, plan, lambda: _local_bundle(plan, req, archive))
        run_bundle(board, folder, runtime=runtime, progress=req.progress)
        local = (archive.with_name(archive.name.removesuffix(".tar.gz") + ".timings.json") if bundle is not None
                 else Path(tmp) / TIMINGS)
        fetch_timings(board, folder, local)
        report = import_timings(local, plan.manifest, space=req.space, target=req.target, out=req.out)
    report["board"] = {**report["profiling"].get("board", {}), "where": board.transport.describe(),
                       "folder": folder}
    if bundle is not None:
        report["bundle"], report["timings"] = str(archive), str(local)
    return report
