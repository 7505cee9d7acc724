"""State kept between sweeps: small JSON documents under the reports directory.

Some checks compare with the previous sweep (Redis counters since the last sweep, a
revision's error share, pod memory growth, a recorded scrape). Each keeps one small
document in `reports/state/`. Writes are atomic (a per-process temporary file renamed into
place), so xdist workers and concurrent readers never see half a document. A dry run
(`--fix --dry-run`) reads this state and writes none: a later sweep must judge by what
real sweeps saw.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def state_dir(reports: Path) -> Path:
    return reports / "state"


def read_state(path: Path) -> Any:
    """The document at `path`, or None when there is none yet (or it is unreadable)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_state(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


class SweepState:
    """This run's access to the state between sweeps; read-only in a dry run."""

    def __init__(self, directory: Path, *, writable: bool) -> None:
        self.directory = directory
        self.writable = writable

    def read(self, name: str) -> Any:
        return read_state(self.directory / name)

    def write(self, name: str, data: object) -> None:
        if self.writable:
            write_state(self.directory / name, data)
