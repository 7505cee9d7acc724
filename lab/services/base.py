"""The process contract every lab service follows, and what they share.

A `Service` knows how to prepare its files, build its command line, wait until
it answers and report its health. The supervisor owns the `Popen`; the pid
record in the state dir lets `lab down` and crash recovery find the process
even when the supervisor is gone.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from lab.credentials import Credentials
from lab.errors import actionable
from lab.paths import StatePaths
from lab.processes import read_record, record_process, spawn, stop_group, wait_for_port
from lab.settings import LabSettings


@dataclass(frozen=True)
class LabContext:
    """What a service (or a fault) needs to know about its lab."""

    settings: LabSettings
    paths: StatePaths
    credentials: Credentials


def python_module(module: str, state_dir: Path, *extra: str) -> list[str]:
    """Command line for one of the lab's Python service processes."""
    return [sys.executable, "-m", module, "--state-dir", str(state_dir), *extra]


class Service:
    """A child process of the supervisor, restarted if it dies while wanted."""

    name: str = "service"
    stop_signal: int = signal.SIGTERM
    leader_only_stop: bool = False
    ready_timeout: float = 15.0

    def __init__(self, ctx: LabContext) -> None:
        self.ctx = ctx
        self.popen: subprocess.Popen[bytes] | None = None
        # False while a fault (or `lab down`) deliberately keeps it stopped.
        self.wanted = True
        self.restarts = 0

    # -- what subclasses provide ------------------------------------------------
    @property
    def port(self) -> int | None:
        return None

    def command(self) -> list[str]:
        raise NotImplementedError

    def prepare(self) -> None:
        """One-time setup before the first start (data dirs, config files)."""

    def after_ready(self) -> None:
        """Work to do once the process answers (e.g. loading the schema)."""

    def run_as(self) -> str | None:
        return None

    def working_dir(self) -> Path | None:
        """The process's cwd (None: the supervisor's); run_as's user must be able to enter it."""
        return None

    def healthy(self) -> bool:
        return self.running()

    # -- shared behaviour -----------------------------------------------------
    @property
    def log_path(self) -> Path:
        return self.ctx.paths.log(self.name)

    @property
    def pidfile(self) -> Path:
        return self.ctx.paths.pidfile(self.name)

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.running() and self.popen else None

    def environment(self) -> dict[str, str] | None:
        """The process's environment (None: the supervisor's)."""
        return None

    def start(self) -> None:
        self.popen = spawn(
            self.command(),
            self.log_path,
            env=self.environment(),
            user=self.run_as(),
            cwd=self.working_dir(),
        )
        record_process(self.pidfile, self.name, self.popen.pid)

    def wait_ready(self) -> None:
        """Block until the service answers; raise an actionable LabError if not."""
        deadline = time.monotonic() + self.ready_timeout
        port = self.port
        while time.monotonic() < deadline:
            if self.popen is not None and self.popen.poll() is not None:
                raise actionable(
                    f"{self.name} exited with code {self.popen.returncode} during start.",
                    f"the process log {self.log_path}",
                    [
                        f"read the log's last lines: tail -n 30 {self.log_path}",
                        "then `lab up` again",
                    ],
                )
            if (port is None or wait_for_port(port, 0.2)) and self.healthy():
                return
            time.sleep(0.05)
        raise actionable(
            f"{self.name} did not become ready within {self.ready_timeout:.0f}s.",
            f"127.0.0.1:{port} and the log {self.log_path}",
            [f"read the log: tail -n 30 {self.log_path}", "run `lab down` then `lab up`"],
        )

    def stop(self, timeout: float = 10.0) -> None:
        record = read_record(self.pidfile)
        if self.popen is not None:
            stop_group(
                self.popen.pid,
                first_signal=self.stop_signal,
                leader_only=self.leader_only_stop,
                timeout=timeout,
                popen=self.popen,
            )
            self.popen.wait(timeout=5)
        elif record is not None and record.alive():
            stop_group(record.pid, first_signal=self.stop_signal, timeout=timeout)
        self.pidfile.unlink(missing_ok=True)

    def describe(self) -> dict[str, object]:
        return {
            "name": self.name,
            "pid": self.pid,
            "port": self.port,
            "wanted": self.wanted,
            "running": self.running(),
            "healthy": self.running() and self.healthy(),
            "restarts": self.restarts,
        }


def load_context(state_dir: Path) -> LabContext:
    """The context a service process rebuilds from its state dir."""
    paths = StatePaths(state_dir)
    return LabContext(
        settings=LabSettings.load(state_dir),
        paths=paths,
        credentials=Credentials.load_or_create(paths.secrets),
    )
