"""`lab up/status/down` through the real CLI, crash recovery, and the setup errors."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from lab.paths import StatePaths
from lab.processes import free_port, read_record
from lab.testing import make_state_dir, stop_and_remove

LAB = Path(sys.executable).parent / "lab"


def lab_cli(
    state_dir: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    argv = [str(LAB)] if LAB.exists() else [sys.executable, "-m", "lab"]
    return subprocess.run(
        [*argv, "--state-dir", str(state_dir), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def port_flags() -> list[str]:
    flags = []
    for name in ("postgres", "redis", "api", "thirdparty", "k8s"):
        flags += [f"--{name}-port", str(free_port())]
    return flags


@pytest.fixture
def state_dir() -> Iterator[Path]:
    directory = make_state_dir()
    try:
        yield directory
    finally:
        stop_and_remove(directory)


def lab_pids(state_dir: Path) -> set[int]:
    """Every process of the lab: supervisor, recorded services and all their descendants."""
    paths = StatePaths(state_dir)
    records = [read_record(p) for p in [paths.supervisor_pid, *paths.pids.glob("*.json")]]
    pids = set()
    for record in records:
        if record is None:
            continue
        pids.add(record.pid)
        with contextlib.suppress(psutil.NoSuchProcess):
            pids.update(child.pid for child in psutil.Process(record.pid).children(recursive=True))
    return pids


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_up_is_idempotent_and_down_leaves_nothing(state_dir: Path) -> None:
    first = lab_cli(state_dir, "up", *port_flags())
    assert first.returncode == 0, first.stderr
    assert "lab up in" in first.stdout
    second = lab_cli(state_dir, "up")
    assert second.returncode == 0
    assert "already up" in second.stdout and "nothing to do" in second.stdout
    status = lab_cli(state_dir, "status")
    assert status.returncode == 0
    for service in ("postgres", "redis", "api", "producer", "loadgen", "thirdparty"):
        assert service in status.stdout
    assert "DOWN" not in status.stdout
    env = lab_cli(state_dir, "env")
    assert "export DATABASE_URL=postgresql://rolerabbit_monitor:" in env.stdout
    pids = lab_pids(state_dir)
    postgres = read_record(StatePaths(state_dir).pidfile("postgres"))
    assert postgres is not None
    assert len(psutil.Process(postgres.pid).children()) >= 3, "postgres should have its children"
    down = lab_cli(state_dir, "down")
    assert down.returncode == 0 and "lab down" in down.stdout
    assert [pid for pid in pids if alive(pid)] == []
    assert lab_cli(state_dir, "status").returncode == 1


def test_up_after_supervisor_killed_recovers(state_dir: Path) -> None:
    assert lab_cli(state_dir, "up", "--no-kubernetes", *port_flags()).returncode == 0
    paths = StatePaths(state_dir)
    supervisor = read_record(paths.supervisor_pid)
    assert supervisor is not None
    orphans = lab_pids(state_dir) - {supervisor.pid}
    os.kill(supervisor.pid, signal.SIGKILL)
    if alive(supervisor.pid):
        psutil.Process(supervisor.pid).wait(timeout=5)
    again = lab_cli(state_dir, "up")
    assert again.returncode == 0, again.stderr
    assert "stale pid file" in again.stdout and "removed it" in again.stdout
    assert "left running by a crashed lab" in again.stdout
    assert [pid for pid in orphans if alive(pid)] == []
    assert "healthy" in lab_cli(state_dir, "status").stdout


def test_port_in_use_names_port_and_service(state_dir: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        flags = port_flags()
        flags[flags.index("--redis-port") + 1] = str(port)
        result = lab_cli(state_dir, "up", *flags)
    assert result.returncode == 1
    assert f"port {port} for the lab's redis is already in use" in result.stderr
    assert "--redis-port N" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_redis_server_says_how_to_install(state_dir: Path) -> None:
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}
    result = lab_cli(state_dir, "up", *port_flags(), env=env)
    assert result.returncode == 1
    assert "redis-server was not found" in result.stderr
    assert "apt-get install redis-server" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_postgres_says_how_to_install(state_dir: Path) -> None:
    env = {**os.environ, "LAB_POSTGRES_BINDIR": str(state_dir / "nowhere")}
    result = lab_cli(state_dir, "up", *port_flags(), env=env)
    assert result.returncode == 1
    assert "PostgreSQL server binaries (initdb, postgres) were not found" in result.stderr
    assert "apt-get install postgresql" in result.stderr
    assert "Traceback" not in result.stderr


def test_commands_on_a_stopped_lab_say_so(state_dir: Path) -> None:
    result = lab_cli(state_dir, "inject", "redis-down")
    assert result.returncode == 1
    assert "the lab is not running" in result.stderr and "lab up" in result.stderr
    assert "Traceback" not in result.stderr
