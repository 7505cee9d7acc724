"""What this run has changed, shared by all xdist workers, and the kill switch.

The ledger records each claimed change ("object:kind", see opscheck.remediation.Plan) and
who made it, so one run makes each change once whichever remediation asks first. It lives
in the machine's run-state directory under the run id, behind a file lock that also makes
fixes happen one at a time.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from filelock import FileLock

KILL_SWITCH_VARIABLE = "OPSCHECK_FIX_DISABLED"
KILL_SWITCH_FILE = "FIX_DISABLED"


class FixLedger:
    """Claimed changes of one run: claim -> {remediation, worker, result}."""

    def __init__(self, run_dir: Path) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        self.run_dir = run_dir
        self.path = run_dir / "fixes.json"
        self.lock = FileLock(str(self.path) + ".lock", timeout=-1)

    def _read(self) -> dict[str, dict[str, str]]:
        return json.loads(self.path.read_text()) if self.path.exists() else {}

    def holder(self, claims: Sequence[str]) -> tuple[str, dict[str, str]] | None:
        """The first of `claims` already made in this run, and by whom."""
        entries = self._read()
        for claim in claims:
            if claim in entries:
                return claim, entries[claim]
        return None

    def failures(self) -> int:
        return sum(1 for e in self._read().values() if e["result"] == "failed")

    def record(self, claims: Sequence[str], remediation: str, worker: str, result: str) -> None:
        entries = self._read()
        for claim in claims:
            entries[claim] = {"remediation": remediation, "worker": worker, "result": result}
        tmp = self.path.with_name(f".fixes.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(entries))
        tmp.replace(self.path)

    def remove(self) -> None:
        shutil.rmtree(self.run_dir, ignore_errors=True)


def kill_switch(reports_dir: Path) -> str | None:
    """Why fixes are disabled right now, if they are. Checked before every action."""
    if os.environ.get(KILL_SWITCH_VARIABLE):
        return f"fixes are disabled by {KILL_SWITCH_VARIABLE}"
    if (reports_dir / KILL_SWITCH_FILE).exists():
        return f"fixes are disabled by {reports_dir / KILL_SWITCH_FILE}"
    return None
