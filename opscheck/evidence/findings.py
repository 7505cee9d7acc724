"""The run's findings as the evidence bundle keeps them: each check's first finding, with
its evidence lines and the time it was made, and the check's final status.

The finding is taken where the check raises it (`pytest_pyfunc_call`), before `--fix` acts
on it, so a fixed check still shows what it found. Under `--parallel-sweep` the checks run
in xdist workers, which do not send findings back: the bundle then has each check's
message line only, and says so.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from opscheck.findings import CheckFailure, Inconclusive
from opscheck.keys import SPEC
from opscheck.reports.records import CheckRecord


@dataclass(frozen=True)
class Found:
    """One finding (or an inconclusive check's missing data) when it was made."""

    at: datetime
    kind: str  # failed | inconclusive
    summary: str
    evidence: tuple[str, ...]


@dataclass
class FindingLog:
    """A plugin keeping each check's first finding and the time each check finished."""

    redact: Callable[[str], str]
    found: dict[str, Found] = field(default_factory=dict)
    finished: dict[str, datetime] = field(default_factory=dict)

    @pytest.hookimpl(wrapper=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> Generator[None, Any, Any]:
        try:
            return (yield)
        except CheckFailure as failure:
            self._keep(pyfuncitem, "failed", failure.finding.summary, failure.finding.evidence)
            raise
        except Inconclusive as unknown:
            no_data = unknown.no_data
            self._keep(pyfuncitem, "inconclusive", no_data.missing, no_data.evidence)
            raise

    def _keep(self, item: pytest.Item, kind: str, summary: str, evidence: Any) -> None:
        spec = item.stash.get(SPEC, None)
        if spec is None or spec.id in self.found:
            return
        lines = tuple(self.redact(str(line)) for line in evidence)
        self.found[spec.id] = Found(datetime.now(UTC), kind, self.redact(summary), lines)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" or report.failed:
            self.finished.setdefault(report.nodeid, datetime.now(UTC))

    def entries(self, records: list[CheckRecord]) -> list[dict[str, Any]]:
        """Every record with its finding, in the order the checks found or finished."""
        out = []
        for record in records:
            found = self.found.get(record.check_id)
            at = found.at if found else self.finished.get(record.nodeid, datetime.now(UTC))
            out.append(
                {
                    "check_id": record.check_id,
                    "title": record.title,
                    "section": record.section,
                    "severity": record.severity,
                    "status": record.status,
                    "fix": record.fix,
                    "at": at.isoformat(timespec="milliseconds"),
                    "summary": found.summary if found else record.message,
                    "evidence": list(found.evidence) if found else [],
                    "found": found.kind if found else None,
                }
            )
        out.sort(key=lambda e: (e["at"], e["check_id"]))
        return out
