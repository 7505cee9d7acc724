"""`lab up` and `lab down`: start the supervisor daemon, stop it, recover from crashes.

`up` is idempotent (a running lab is left alone), checks the setup first
(binaries, ports) so common failures get an actionable message instead of a
traceback, and cleans up after a crashed lab (stale pid files, orphaned
services) before starting. `down` asks the supervisor to stop, waits, then
verifies every recorded pid is gone, killing leftovers itself.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from lab.control import ControlClient
from lab.errors import LabError, actionable
from lab.paths import StatePaths
from lab.processes import port_in_use, read_record, spawn, stop_group
from lab.services.postgres import find_bindir
from lab.services.redis_server import find_redis_server
from lab.settings import LabSettings

Say = Callable[[str], None]
START_TIMEOUT = 90.0
STOP_TIMEOUT = 40.0


@dataclass
class UpResult:
    already_running: bool
    seconds: float
    supervisor_pid: int


def supervisor_running(paths: StatePaths) -> int | None:
    """The live supervisor's pid, or None."""
    record = read_record(paths.supervisor_pid)
    return record.pid if record is not None and record.alive() else None


def recover_stale(paths: StatePaths, say: Say) -> None:
    """Remove a dead supervisor's pid file and stop the services it left running."""
    if paths.supervisor_pid.exists():
        record = read_record(paths.supervisor_pid)
        pid = record.pid if record else "?"
        say(
            f"found a stale pid file {paths.supervisor_pid} "
            f"(supervisor pid {pid} is not running); removed it"
        )
        paths.supervisor_pid.unlink(missing_ok=True)
    paths.control.unlink(missing_ok=True)
    for pidfile in sorted(paths.pids.glob("*.json")):
        record = read_record(pidfile)
        if record is not None and record.alive():
            say(f"stopping {record.name} (pid {record.pid}) left running by a crashed lab")
            stop_group(record.pid, timeout=10)
        pidfile.unlink(missing_ok=True)


def port_owner(port: int) -> str:
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if (
                conn.laddr
                and conn.laddr.port == port
                and conn.status == psutil.CONN_LISTEN
                and conn.pid
            ):
                return f" by pid {conn.pid} ({psutil.Process(conn.pid).name()})"
    except (psutil.Error, OSError):
        pass
    return ""


def preflight(settings: LabSettings) -> None:
    """Fail early, with a message a person can act on, on the usual setup problems."""
    find_bindir()
    find_redis_server()
    for service, port in settings.ports().items():
        if port_in_use(port):
            option = f"--{service if service != 'kubernetes' else 'k8s'}-port"
            env = f"LAB_{service.upper() if service != 'kubernetes' else 'K8S'}_PORT"
            raise actionable(
                f"port {port} for the lab's {service} is already in use{port_owner(port)}.",
                f"a bind to 127.0.0.1:{port}",
                [
                    "stop the process that holds it (another lab? try: lab down)",
                    f"or give the lab another port: lab up {option} N (or {env}=N)",
                ],
            )


def up(settings: LabSettings, say: Say = print) -> UpResult:
    paths = StatePaths(settings.state_dir)
    paths.ensure()
    running = supervisor_running(paths)
    if running is not None:
        say(
            f"the lab is already up (supervisor pid {running}, state dir {paths.root}); "
            "nothing to do"
        )
        return UpResult(True, 0.0, running)
    t0 = time.monotonic()
    recover_stale(paths, say)
    preflight(settings)
    settings.save()
    paths.startup_error.unlink(missing_ok=True)
    launcher = spawn(
        [sys.executable, "-m", "lab.supervisor", "--state-dir", str(paths.root), "--daemonize"],
        paths.log("supervisor"),
    )
    launcher.wait(timeout=30)
    client = ControlClient(paths.root)
    deadline = time.monotonic() + START_TIMEOUT
    detail = ""
    seen_pid: int | None = None
    while time.monotonic() < deadline:
        pid = supervisor_running(paths)
        if pid is None and (seen_pid is not None or paths.startup_error.exists()):
            raise _startup_failure(paths)
        seen_pid = pid or seen_pid
        if client.available():
            try:
                status = client.call("GET", "/status", timeout=2)
            except LabError:
                status = None
            if status and status["phase"] == "ready":
                elapsed = time.monotonic() - t0
                say(f"lab up in {elapsed:.1f}s (state dir {paths.root}); see: lab status, lab env")
                return UpResult(False, elapsed, int(status["supervisor_pid"]))
            if status and status["detail"] != detail:
                detail = status["detail"]
                say(f"starting: {detail}")
        time.sleep(0.1)
    down(paths.root, say=lambda _: None)
    raise actionable(
        f"the lab did not become ready within {START_TIMEOUT:.0f}s "
        f"(last step: {detail or 'unknown'}).",
        f"the supervisor log {paths.log('supervisor')}",
        ["read the logs in " + str(paths.logs), "then try again: lab up"],
    )


def _startup_failure(paths: StatePaths) -> LabError:
    if paths.startup_error.exists():
        return LabError(paths.startup_error.read_text().rstrip())
    return actionable(
        "the lab supervisor exited during start.",
        f"the supervisor log {paths.log('supervisor')}",
        [f"read it: tail -n 30 {paths.log('supervisor')}", "then try again: lab up"],
    )


def down(state_dir: Path, say: Say = print) -> list[str]:
    """Stop the lab; return the names of leftover processes that had to be killed."""
    paths = StatePaths(state_dir)
    pid = supervisor_running(paths)
    if pid is not None:
        try:
            ControlClient(paths.root).call("POST", "/shutdown", timeout=5)
        except LabError:
            stop_group(pid, timeout=STOP_TIMEOUT)
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline and psutil.pid_exists(pid):
            try:
                if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                    break
            except psutil.Error:
                break
            time.sleep(0.05)
        if psutil.pid_exists(pid) and read_record(paths.supervisor_pid) is not None:
            stop_group(pid, timeout=5)
    killed = []
    for pidfile in sorted(paths.pids.glob("*.json")) if paths.pids.exists() else []:
        record = read_record(pidfile)
        if record is not None and record.alive():
            killed.append(record.name)
            stop_group(record.pid, timeout=10)
        pidfile.unlink(missing_ok=True)
    paths.supervisor_pid.unlink(missing_ok=True)
    paths.control.unlink(missing_ok=True)
    if killed:
        say(f"stopped leftover processes: {', '.join(killed)}")
    say(
        "lab down"
        if pid is not None or killed
        else f"the lab was not running (state dir {paths.root})"
    )
    return killed


def status(state_dir: Path) -> dict[str, Any] | None:
    paths = StatePaths(state_dir)
    if supervisor_running(paths) is None:
        return None
    result: dict[str, Any] = ControlClient(paths.root).call("GET", "/status", timeout=5)
    return result


def dump(data: object) -> str:
    return json.dumps(data, indent=2, default=str)
