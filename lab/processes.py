"""Start, record and stop the lab's child processes.

Every child runs in its own session (so its process group id is its pid) and
is recorded in `pids/<name>.json` with its start time: a record whose pid now
belongs to another process (pid reuse after a crash) is recognised as stale
and never signalled.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psutil


@dataclass(frozen=True)
class ProcessRecord:
    name: str
    pid: int
    create_time: float

    def alive(self) -> bool:
        """True if this exact process (same pid *and* start time) still runs."""
        try:
            proc = psutil.Process(self.pid)
            if proc.status() == psutil.STATUS_ZOMBIE:
                return False
            return abs(proc.create_time() - self.create_time) < 0.5
        except psutil.Error:
            return False


def record_process(path: Path, name: str, pid: int) -> ProcessRecord:
    """Write a pid record; the start time guards against pid reuse later."""
    try:
        created = psutil.Process(pid).create_time()
    except psutil.Error:
        created = time.time()
    record = ProcessRecord(name=name, pid=pid, create_time=created)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"name": name, "pid": pid, "create_time": created}))
    tmp.replace(path)
    return record


def read_record(path: Path) -> ProcessRecord | None:
    try:
        data = json.loads(path.read_text())
        return ProcessRecord(str(data["name"]), int(data["pid"]), float(data["create_time"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def spawn(
    argv: list[str],
    log_path: Path,
    *,
    env: dict[str, str] | None = None,
    user: str | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start a child in its own session with stdout/stderr appended to log_path."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            user=user,
            start_new_session=True,
        )


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in a process group."""
    members = []
    for proc in psutil.process_iter(["pid", "status"]):
        if proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        with contextlib.suppress(OSError):
            if os.getpgid(proc.info["pid"]) == pgid:
                members.append(proc.info["pid"])
    return members


def stop_group(
    pgid: int,
    *,
    first_signal: int = signal.SIGTERM,
    leader_only: bool = False,
    timeout: float = 10.0,
    popen: subprocess.Popen[bytes] | None = None,
) -> None:
    """Signal a process group, wait (bounded), then SIGKILL whatever is left.

    `leader_only` sends the first signal to the leader alone: PostgreSQL's
    postmaster must orchestrate its own children's shutdown.
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if leader_only:
            os.kill(pgid, first_signal)
        else:
            os.killpg(pgid, first_signal)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if popen is not None:
            popen.poll()  # reap our own child so it does not linger as a zombie
        if not group_members(pgid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        if popen is not None:
            popen.poll()
        if not group_members(pgid):
            return
        time.sleep(0.05)


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True if something listens on host:port (a bind attempt fails)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR so a port in TIME_WAIT after `lab down` does not count as in use.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def free_port(host: str = "127.0.0.1") -> int:
    """A port the kernel considers free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float, host: str = "127.0.0.1") -> bool:
    """Poll until host:port accepts TCP connections (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False
