"""The audit log: one JSON line per planned, applied, refused or verified remediation action.

Lines are appended under a file lock, so xdist workers never interleave; every line is
redacted before it is written.
"""

from __future__ import annotations

import getpass
import json
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock


def operator() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


class AuditLog:
    def __init__(
        self, path: Path, *, environment: str, run_id: str, redact: Callable[[str], str]
    ) -> None:
        self.path = path
        self.environment = environment
        self.run_id = run_id
        self._redact = redact
        self._operator = operator()

    def record(self, **fields: Any) -> None:
        entry = {
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "run_id": self.run_id,
            "operator": self._operator,
            "environment": self.environment,
            **fields,
        }
        line = self._redact(json.dumps(entry, default=str, sort_keys=False))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.path) + ".lock", timeout=30), self.path.open("a") as out:
            out.write(line + "\n")
