"""`lab up/status/down` through the real CLI, crash recovery, the setup errors, where the
ports come from (flags, LAB_* variables), and a lab in a directory postgres cannot enter."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest

from lab.outputs import read_env_file
from lab.paths import StatePaths
from lab.processes import free_port, port_in_use, read_record
from lab.testing import make_state_dir, stop_and_remove
from tests.lab.helpers import PORT_NAMES, lab_cli, port_flags, status_ports

ROOT = Path(__file__).resolve().parents[2]


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


OWNER = """
import sys, time
from lab import lifecycle
from lab.testing import make_state_dir, private_settings
state_dir = make_state_dir()
lifecycle.up(private_settings(state_dir, kubernetes=False), say=lambda _: None)
print(state_dir, flush=True)
time.sleep(600)
"""


def test_a_private_lab_whose_owner_is_killed_stops_and_removes_itself() -> None:
    # The owner is killed and left unreaped (a zombie) while the lab goes, as when its
    # parent is busy elsewhere; the context then reaps it and closes the pipe.
    with subprocess.Popen(
        [sys.executable, "-c", OWNER], cwd=ROOT, stdout=subprocess.PIPE, text=True
    ) as owner:
        try:
            assert owner.stdout is not None
            state_dir = Path(owner.stdout.readline().strip())
            assert state_dir.name.startswith("rolerabbit-lab-"), state_dir
            pids = lab_pids(state_dir)
            assert len(pids) > 5  # the supervisor, its services and their children
            data = (StatePaths(state_dir).postgres / "data").resolve()
        finally:
            owner.kill()  # SIGKILL: no teardown of its own runs; not reaped until the end
        deadline = time.monotonic() + 60
        while (left := [pid for pid in pids if alive(pid)]) or state_dir.exists():
            assert time.monotonic() < deadline, f"still running: {left}; {state_dir} kept"
            time.sleep(0.2)
    assert not data.exists()  # PostgreSQL's data too, also where it lives outside


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


def test_up_takes_lab_port_variables_and_flags_beat_them(state_dir: Path) -> None:
    ports = {name: free_port() for name in PORT_NAMES}
    env = {**os.environ, **{f"LAB_{name.upper()}_PORT": str(p) for name, p in ports.items()}}
    api_flag = free_port()
    up = lab_cli(state_dir, "up", "--api-port", str(api_flag), env=env)
    assert up.returncode == 0, up.stderr
    # Later commands find the lab by its state dir, without the variables.
    status = lab_cli(state_dir, "status")
    expected = {
        "postgres": ports["postgres"],
        "redis": ports["redis"],
        "registry": ports["registry"],
        "thirdparty": ports["thirdparty"],
        "kubernetes": ports["k8s"],
        "prometheus": ports["prometheus"],
        "alertmanager": ports["alertmanager"],
        "pushgateway": ports["pushgateway"],
        "receiver": ports["receiver"],
        "api": api_flag,
    }
    assert status_ports(status.stdout) == expected, status.stdout
    assert [port for port in expected.values() if not port_in_use(port)] == []
    assert f"@127.0.0.1:{ports['postgres']}/rolerabbit" in lab_cli(state_dir, "env").stdout


def test_a_lab_variable_that_is_not_a_number_says_which(state_dir: Path) -> None:
    env = {**os.environ, "LAB_REDIS_PORT": "six"}
    result = lab_cli(state_dir, "up", *port_flags()[:2], env=env)
    assert result.returncode == 1
    assert "LAB_REDIS_PORT='six' is not an integer: unset it, or set it like" in result.stderr
    assert "Traceback" not in result.stderr


def test_lab_runs_from_a_directory_the_postgres_user_cannot_enter() -> None:
    # mkdtemp makes it 0700: as root, the postgres OS user can traverse neither it nor the
    # state dir inside (a checkout in root's home), and the CLI runs from inside it.
    private = Path(tempfile.mkdtemp(prefix="rolerabbit-private-"))
    state_dir = private / "checkout" / ".lab"
    try:
        up = lab_cli(state_dir, "up", *port_flags(), cwd=private)
        assert up.returncode == 0, up.stderr
        status = lab_cli(state_dir, "status", cwd=private)
        assert "DOWN" not in status.stdout, status.stdout
        data = StatePaths(state_dir).postgres / "data"
        if os.geteuid() == 0:
            target = data.resolve()
            assert data.is_symlink() and not target.is_relative_to(private)
            assert target.owner() == "postgres"
            assert f"postgres data: {target} (outside the state dir, which the postgres " in (
                status.stdout
            )
        url = read_env_file(str(StatePaths(state_dir).env))["DATABASE_URL"]
        with psycopg.connect(url, connect_timeout=5) as conn:
            row = conn.execute("SELECT count(*) FROM portfolios").fetchone()
        assert row == (50000,)
    finally:
        stop_and_remove(state_dir)
        shutil.rmtree(private, ignore_errors=True)
