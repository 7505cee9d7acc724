"""The per-check record every report writer reads.

Reports from xdist workers arrive serialized; only `user_properties` survive that trip, so
the plugin puts the catalogue fields there and writers read them back from here.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

PREFIX = "opscheck."


@dataclass
class CheckRecord:
    nodeid: str
    check_id: str
    title: str
    section: str
    severity: str
    status: str  # passed | failed | error | skipped | fixed
    duration: float
    fix: str
    message: str


def properties(report: pytest.TestReport) -> dict[str, str]:
    return {
        str(k)[len(PREFIX):]: str(v)
        for k, v in report.user_properties
        if str(k).startswith(PREFIX)
    }


def status_of(report: pytest.TestReport, props: dict[str, str]) -> str:
    if report.skipped:
        return "skipped"
    if report.failed:
        return "failed" if report.when == "call" else "error"
    return "fixed" if props.get("fix") == "fixed" else "passed"


class RecordCollector:
    """Keeps the final record of each check item (setup errors, call results)."""

    def __init__(self) -> None:
        self.records: dict[str, CheckRecord] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = properties(report)
        if "id" not in props:
            return
        if report.when == "teardown" and not report.failed:
            return
        if report.when == "setup" and report.passed:
            return
        self.records[report.nodeid] = CheckRecord(
            nodeid=report.nodeid,
            check_id=props["id"],
            title=props.get("title", ""),
            section=props.get("section", ""),
            severity=props.get("severity", ""),
            status=status_of(report, props),
            duration=round(report.duration, 3),
            fix=props.get("fix", ""),
            message=props.get("message", "") if report.failed else "",
        )
