"""Real registries for the deployment tests: docker-registry processes of the test's own.

`running_registry()` starts Debian's docker-registry (the lab's own config builder, so the
same storage and listen settings) on a free loopback port, with no auth, htpasswd Basic, or
token auth, and stops it (its process only) on exit. `open_registry` is one without auth,
holding the lab's image tags, for tests that run the checks against a private emulator.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.k8s.registry import DEFAULT_REPOSITORIES
from lab.processes import free_port
from lab.services.registry import answers, find_docker_registry, registry_config
from lab.services.registry_push import RegistryPusher
from tests.waiting import wait_until


class RunningRegistry:
    def __init__(self, endpoint: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.endpoint, self.process, self.log = endpoint, process, log


@contextmanager
def running_registry(root: Path, auth: dict[str, Any] | None = None) -> Iterator[RunningRegistry]:
    """A docker-registry on a free port, storage under `root`; `auth` is its config's `auth:`."""
    port = free_port()
    config = registry_config(root, port, None, "test-http-secret")
    if auth is not None:
        config["auth"] = auth
    path = root / "config.yml"
    root.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config))
    log = root / "registry.log"
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [find_docker_registry(), "serve", str(path)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: answers(endpoint) or process.poll() is not None, 15, "registry up")
        if process.poll() is not None:
            raise RuntimeError(f"docker-registry exited: {log.read_text()[-2000:]}")
        yield RunningRegistry(endpoint, process, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture(scope="session")
def open_registry() -> Iterator[str]:
    """A registry without auth holding the lab's tags; its endpoint."""
    with (
        tempfile.TemporaryDirectory(prefix="open-registry-") as tmp,
        running_registry(Path(tmp)) as registry,
    ):
        RegistryPusher(registry.endpoint).push_all(DEFAULT_REPOSITORIES)
        yield registry.endpoint
