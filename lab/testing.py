"""pytest fixtures that run a private lab for the suite's own tests.

Load with `pytest_plugins = ["lab.testing"]` (root conftest) or re-export the
fixtures from a conftest (`from lab.testing import lab, fault`).

    lab     session-scoped: a private lab in a fresh temp state dir on free ports
            (several sessions can run at once), stopped at session end on every
            path, also after a half-failed start. With $LAB_ATTACH_STATE_DIR set
            it attaches to that running lab instead and leaves it running.
    fault   function-scoped factory: fault("worker-stopped", **params) injects
            and always clears at teardown.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from lab import lifecycle
from lab.control import ControlClient
from lab.errors import LabError
from lab.outputs import read_env_file
from lab.paths import StatePaths, remove_state
from lab.port_blocks import BLOCK, PortBlock, reserve_block
from lab.processes import free_port
from lab.settings import PORT_NAMES, LabSettings


class LabHandle:
    """A running lab, driven through its supervisor's control API."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.paths = StatePaths(state_dir)
        self.settings = LabSettings.load(state_dir)
        self.client = ControlClient(state_dir)

    @property
    def env(self) -> dict[str, str]:
        """The env file: KUBECONFIG, DATABASE_URL, DATABASE_FIXER_URL, REDIS_URL, ...API_URL."""
        return read_env_file(str(self.paths.env))

    @property
    def profile_path(self) -> Path:
        return self.paths.profile

    def inject(self, name: str, **params: Any) -> dict[str, Any]:
        body = {"name": name, "params": {k: str(v) for k, v in params.items()}}
        result: dict[str, Any] = self.client.call("POST", "/inject", body, timeout=60)
        return result

    def clear(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.client.call("POST", "/clear", {"name": name}, timeout=60)
        return result

    def reset(self) -> dict[str, Any]:
        result: dict[str, Any] = self.client.call("POST", "/reset", timeout=90)
        return result

    def status(self) -> dict[str, Any]:
        result: dict[str, Any] = self.client.call("GET", "/status", timeout=10)
        return result


# The port blocks held by this process's labs, by state dir, until stop_and_remove.
_BLOCKS: dict[Path, PortBlock] = {}


def private_settings(state_dir: Path, **overrides: Any) -> LabSettings:
    """Settings on ports reserved for this lab (lab/port_blocks.py), so labs of concurrent
    sessions never collide, not even while one of them restarts a service. This process
    owns the lab: if it ends without `stop_and_remove` (killed), the lab removes itself."""
    block = reserve_block() if len(PORT_NAMES) <= BLOCK else None
    if block is None:
        numbers = [free_port() for _ in PORT_NAMES]
    else:
        _BLOCKS[state_dir] = block
        numbers = block.ports[: len(PORT_NAMES)]
    ports = {f"{name}_port": port for name, port in zip(PORT_NAMES, numbers, strict=True)}
    me = psutil.Process()
    owner = {"owner_pid": me.pid, "owner_started": me.create_time()}
    return LabSettings(state_dir=state_dir).with_overrides({**ports, **owner, **overrides})


def make_state_dir() -> Path:
    """A fresh state dir the `postgres` OS user can traverse (when run as root).

    Not under pytest's tmp_path: /tmp/pytest-of-<user> is 0700, and pytest resets
    its mode at every session start, so it cannot be made traversable.
    """
    state_dir = Path(tempfile.mkdtemp(prefix="rolerabbit-lab-"))
    state_dir.chmod(0o711)  # traverse only: nothing in it can be listed by others
    return state_dir


def stop_and_remove(state_dir: Path) -> None:
    try:
        lifecycle.down(state_dir, say=lambda _: None)
    finally:
        block = _BLOCKS.pop(state_dir, None)
        if block is not None:
            block.release()
        remove_state(state_dir)


@pytest.fixture(scope="session")
def lab() -> Iterator[LabHandle]:
    attach = os.environ.get("LAB_ATTACH_STATE_DIR")
    if attach:
        handle = LabHandle(Path(attach).resolve())
        handle.status()  # fail early, with the client's actionable message
        yield handle
        return
    state_dir = make_state_dir()
    try:
        lifecycle.up(private_settings(state_dir), say=lambda _: None)
        yield LabHandle(state_dir)
    except LabError as exc:
        pytest.fail(f"the lab did not start: {exc}", pytrace=False)
    finally:
        stop_and_remove(state_dir)


@pytest.fixture
def fault(lab: LabHandle) -> Iterator[Callable[..., dict[str, Any]]]:
    injected: list[str] = []

    def inject(name: str, **params: Any) -> dict[str, Any]:
        injected.append(name)
        return lab.inject(name, **params)

    yield inject
    errors = []
    for name in reversed(injected):
        try:
            lab.clear(name)
        except LabError as exc:
            errors.append(f"{name}: {exc}")
    if errors:
        pytest.fail("clearing faults failed: " + "; ".join(errors), pytrace=False)
