"""Scheduled sweeps never run twice at once against one environment: a lock per profile."""

from __future__ import annotations

from pathlib import Path

import pytest
from filelock import FileLock, Timeout


def sweeps_checks(config: pytest.Config) -> bool:
    """Whether this run sweeps the environment: its paths include the checks directory.

    The suite's own tests (tests/) are not sweeps and take no lock.
    """
    checks = (config.rootpath / "checks").resolve()
    for arg in config.args:
        path = Path(arg.split("::")[0])
        if not path.is_absolute():
            path = config.invocation_params.dir / path
        path = path.resolve()
        if path == checks or checks in path.parents or path in checks.parents:
            return True
    return False


def acquire_sweep_lock(reports: Path, environment: str) -> FileLock:
    """Scheduled sweeps must never run twice at once against one environment."""
    lock = FileLock(str(reports / f".sweep-{environment}.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise pytest.UsageError(
            f"another run against profile {environment!r} is in progress "
            f"(lock {lock.lock_file}); wait for it to finish"
        ) from None
    return lock
