"""Start, stop, crash and restart a `trellis server` process for the compat tests.

One TrellisServer owns one database file and one artifact folder under a work
directory. start() picks a free ephemeral port, spawns the binary named by the
environment variable TRELLIS_BIN, and waits (at most 10 s by default) until
GET /health answers 200 "OK". stderr and stdout of every incarnation are
appended to <workdir>/server.stderr.log and server.stdout.log, so a failing
test can show what the server said. stop() sends SIGTERM and requires exit
status 0; kill9() sends SIGKILL; restart() starts again on the same database
and artifact folder (on a new port unless told otherwise).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import requests

# TRELLIS_HEALTH_TIMEOUT may raise it for slow builds (sanitizers, valgrind).
HEALTH_TIMEOUT_S = float(os.environ.get("TRELLIS_HEALTH_TIMEOUT", "10"))
STOP_TIMEOUT_S = 15.0


def trellis_bin() -> str:
    """Return the absolute path of the binary under test; raise if unusable."""
    path = os.environ.get("TRELLIS_BIN")
    if not path:
        raise RuntimeError(
            "TRELLIS_BIN is not set: point it at the trellis binary under test "
            "(e.g. TRELLIS_BIN=$PWD/build/trellis)"
        )
    path = os.path.abspath(path)
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        raise RuntimeError(f"TRELLIS_BIN={path} is not an executable file")
    return path


def free_port() -> int:
    """An ephemeral TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerStartError(RuntimeError):
    pass


class TrellisServer:
    def __init__(
        self,
        workdir: os.PathLike | str,
        *,
        workers: int | None = None,
        allowed_hosts: list[str] | None = None,
        cors_allowed_origins: list[str] | None = None,
        extra_args: list[str] | None = None,
        binary: str | None = None,
    ):
        self.binary = binary or trellis_bin()
        self.workdir = Path(workdir).absolute()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.db_path = self.workdir / "trellis.db"
        self.artifacts_dir = self.workdir / "artifacts"
        self.artifacts_dir.mkdir(exist_ok=True)
        self.stderr_path = self.workdir / "server.stderr.log"
        self.stdout_path = self.workdir / "server.stdout.log"
        self.workers = workers
        self.allowed_hosts = allowed_hosts
        self.cors_allowed_origins = cors_allowed_origins
        self.extra_args = list(extra_args or [])
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None
        self.incarnation = 0

    # ---------------------------------------------------------------- info
    @property
    def backend_store_uri(self) -> str:
        # sqlite:////abs/path (four slashes: scheme + absolute path)
        return f"sqlite:///{self.db_path}"

    @property
    def url(self) -> str:
        assert self.port is not None, "server not started"
        return f"http://127.0.0.1:{self.port}"

    def argv(self) -> list[str]:
        argv = [
            self.binary,
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--backend-store-uri",
            self.backend_store_uri,
            "--artifacts-destination",
            str(self.artifacts_dir),
        ]
        if self.workers:
            argv += ["--workers", str(self.workers)]
        if self.allowed_hosts:
            argv += ["--allowed-hosts", ",".join(self.allowed_hosts)]
        if self.cors_allowed_origins:
            argv += ["--cors-allowed-origins", ",".join(self.cors_allowed_origins)]
        return argv + self.extra_args

    def stderr_text(self, tail: int | None = 4000) -> str:
        try:
            text = self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return text[-tail:] if tail else text

    def is_running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # ------------------------------------------------------------ lifecycle
    def start(self, *, port: int | None = None, timeout: float = HEALTH_TIMEOUT_S) -> "TrellisServer":
        assert not self.is_running(), "server already running"
        last_err = None
        # A port found free can be taken before the server binds it; retry a few times.
        for _attempt in range(3):
            self.port = port or free_port()
            try:
                self._spawn_and_wait(timeout)
                return self
            except ServerStartError as e:
                last_err = e
                if port is not None or "in use" not in self.stderr_text(1000).lower():
                    break
        raise last_err

    def _spawn_and_wait(self, timeout: float) -> None:
        self.incarnation += 1
        with open(self.stderr_path, "ab") as err, open(self.stdout_path, "ab") as out:
            banner = f"\n===== incarnation {self.incarnation}: {' '.join(self.argv())}\n"
            err.write(banner.encode())
            err.flush()
            self.proc = subprocess.Popen(
                self.argv(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                cwd=self.workdir,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                raise ServerStartError(
                    f"trellis server exited with {rc} before becoming healthy; stderr:\n"
                    + self.stderr_text()
                )
            try:
                r = requests.get(self.url + "/health", timeout=1)
                if r.status_code == 200 and r.text.strip() == "OK":
                    return
                last = f"/health -> {r.status_code} {r.text[:200]!r}"
            except requests.RequestException as e:
                last = repr(e)
            time.sleep(0.05)
        self.kill9()
        raise ServerStartError(
            f"trellis server not healthy within {timeout}s (last: {last}); stderr:\n"
            + self.stderr_text()
        )

    def stop(self, timeout: float = STOP_TIMEOUT_S, *, check: bool = True) -> int:
        """SIGTERM, wait, and (with check) require exit status 0. Returns the status."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill9()
                raise AssertionError(
                    f"trellis server did not exit within {timeout}s of SIGTERM; stderr:\n"
                    + self.stderr_text()
                )
        rc = self.proc.returncode
        if check:
            assert rc == 0, f"trellis server exited with {rc} after SIGTERM; stderr:\n{self.stderr_text()}"
        return rc

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(STOP_TIMEOUT_S)

    def restart(self, *, same_port: bool = False, timeout: float = HEALTH_TIMEOUT_S) -> "TrellisServer":
        if self.is_running():
            self.stop()
        return self.start(port=self.port if same_port else None, timeout=timeout)

    # ---------------------------------------------------------------- CLI
    def run_cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(
            [self.binary, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.workdir,
        )

    def audit_verify(self) -> subprocess.CompletedProcess:
        return self.run_cli("audit", "verify", "--backend-store-uri", self.backend_store_uri)

    def __enter__(self):
        return self.start() if not self.is_running() else self

    def __exit__(self, *exc):
        if self.is_running():
            # On the error path do not mask the original failure.
            if exc[0] is None:
                self.stop()
            else:
                self.kill9()
