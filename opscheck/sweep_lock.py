"""Scheduled sweeps never run twice at once against one target: a lock per target.

The lock lives in the machine's run-state directory (see opscheck.target_identity), keyed
by the target, so neither another --reports-dir nor another profiles file naming the same
servers gets around it. A note beside the lock says who holds it.
"""

from __future__ import annotations

import json
import os
import time
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


def acquire_sweep_lock(state_dir: Path, target: str, environment: str) -> FileLock:
    """Take the target's lock, or stop with who holds it."""
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise pytest.UsageError(
            f"cannot create the run-state directory {state_dir} ({exc.strerror}); "
            "set OPSCHECK_STATE_DIR to a writable directory"
        ) from None
    lock = FileLock(str(state_dir / f"sweep-{target}.lock"))
    holder = state_dir / f"sweep-{target}.holder"
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise pytest.UsageError(
            f"another run against this target is in progress ({_describe(holder)}; "
            f"lock {lock.lock_file}); wait for it to finish"
        ) from None
    holder.write_text(
        json.dumps({"profile": environment, "pid": os.getpid(), "started": time.time()})
    )
    return lock


def _describe(holder: Path) -> str:
    try:
        note = json.loads(holder.read_text())
        return f"profile {note['profile']!r}, pid {note['pid']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "holder unknown"
