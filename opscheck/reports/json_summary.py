"""reports/summary.json: every check with id, status, severity, duration and fix outcome."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import pytest

from opscheck.audit import operator
from opscheck.reports.records import RecordCollector


class JsonSummary:
    def __init__(
        self,
        path: Path,
        collector: RecordCollector,
        environment: str,
        run_id: str,
        redact: Callable[[str], str],
    ) -> None:
        self.path = path
        self.collector = collector
        self.environment = environment
        self.run_id = run_id
        self.redact = redact
        self.started = datetime.now(UTC)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        interrupted = session.exitstatus == pytest.ExitCode.INTERRUPTED
        if interrupted:
            self.collector.mark_interrupted()
        checks = [asdict(r) for r in self.collector.records.values()]
        counts: dict[str, int] = {}
        for record in checks:
            counts[record["status"]] = counts.get(record["status"], 0) + 1
        summary = {
            "run_id": self.run_id,
            "environment": self.environment,
            "operator": operator(),  # who ran the sweep, as the audit log names them
            "started": self.started.isoformat(timespec="seconds"),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "exit_code": int(session.exitstatus),
            "interrupted": interrupted,
            "counts": counts,
            "checks": checks,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(self.redact(json.dumps(summary, indent=2)) + "\n")
