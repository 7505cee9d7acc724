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
    # passed | failed | inconclusive | error | skipped | fixed | partial | interrupted
    status: str
    duration: float
    fix: str
    message: str
    fix_detail: str = ""
    detail: str = ""  # an inconclusive check's evidence and next steps


def properties(report: pytest.TestReport) -> dict[str, str]:
    return {
        str(k)[len(PREFIX) :]: str(v)
        for k, v in report.user_properties
        if str(k).startswith(PREFIX)
    }


def status_of(report: pytest.TestReport, props: dict[str, str]) -> str:
    if props.get("verdict") == "inconclusive":
        return "inconclusive"
    if report.skipped:
        return "skipped"
    if report.failed:
        unreachable = props.get("unavailable") == "yes"  # a client failed to connect in setup
        return "failed" if report.when == "call" or unreachable else "error"
    # "cleared" passes with nothing changed: it is a pass, with the outcome in `fix`.
    return props["fix"] if props.get("fix") in ("fixed", "partial") else "passed"


class RecordCollector:
    """Keeps the final record of each check item (setup errors, call results)."""

    def __init__(self) -> None:
        self.records: dict[str, CheckRecord] = {}
        self.running: dict[str, str] = {}  # nodeid -> check id, of items not yet finished
        self.ids: dict[str, str] = {}

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            marker = item.get_closest_marker("check_id")
            if marker is not None and marker.args:
                self.ids[item.nodeid] = str(marker.args[0])

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        if nodeid in self.ids:
            self.running[nodeid] = self.ids[nodeid]

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        self.running.pop(nodeid, None)

    def mark_interrupted(self) -> None:
        """The items that were running when the run was interrupted, as records."""
        for nodeid, check_id in self.running.items():
            self.records[nodeid] = CheckRecord(
                nodeid, check_id, "", "", "", "interrupted", 0.0, "", "interrupted while running"
            )

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
            message=props.get("message", "") if report.failed or "verdict" in props else "",
            fix_detail=props.get("fix_detail", ""),
            detail=props.get("detail", ""),
        )
