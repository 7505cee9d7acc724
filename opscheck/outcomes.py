"""How a check's result is told: failure text without tracebacks, redaction, the FIXED
status, and --fail-on mapping severities to the exit code.

Exit codes for CI gates: 0 healthy (or everything fixed, or failures only below
--fail-on), 1 a check failed, 2 interrupted, 3 internal error, 4 usage or configuration
error, 5 no checks selected.
"""

from __future__ import annotations

from collections.abc import Generator

import pytest

from opscheck.config import is_lab
from opscheck.findings import CheckFailure, DependencyUnavailable, Inconclusive
from opscheck.keys import ENVIRONMENT, FIX_OUTCOME, REDACTOR, SPEC
from opscheck.rendering import render_failure, render_unavailable
from opscheck.reports.records import PREFIX, RecordCollector
from opscheck.sections import Severity
from opscheck.verdicts import inconclusive_status, tell_inconclusive

# Fix outcomes after which the check passes, as the terminal shows them.
PASSING_LABELS = {"fixed": "FIXED", "partial": "PARTIAL", "cleared": "CLEARED"}


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    redact = item.config.stash[REDACTOR]
    spec = item.stash.get(SPEC, None)
    outcome = item.stash.get(FIX_OUTCOME, None)
    if outcome is not None and call.when == "call":
        report.user_properties.append((PREFIX + "fix", outcome.status))
        report.user_properties.append((PREFIX + "fix_detail", redact(outcome.detail)))
    if call.excinfo is not None and isinstance(call.excinfo.value, Inconclusive) and spec:
        call.excinfo.value.args = tuple(
            redact(a) if isinstance(a, str) else a for a in call.excinfo.value.args
        )
        tell_inconclusive(report, item, call.excinfo.value, spec, redact)
    elif report.failed and call.excinfo is not None:
        exc = call.excinfo.value
        # Other reporters (Allure) read the exception itself, after this wrapper.
        exc.args = tuple(redact(a) if isinstance(a, str) else a for a in exc.args)
        if isinstance(exc, CheckFailure) and spec is not None:
            names = item.config.stash[ENVIRONMENT].profile.placeholders()
            report.longrepr = redact(render_failure(spec, exc.finding, outcome, names))
        elif isinstance(exc, DependencyUnavailable):
            lab = is_lab(item.config.stash[ENVIRONMENT].name)
            report.longrepr = redact(render_unavailable(spec, str(exc), lab=lab))
            # Unreachable is the check's failure, whether its client failed in setup or call.
            report.user_properties.append((PREFIX + "unavailable", "yes"))
        else:
            report.longrepr = redact(str(report.longrepr))
        if spec is not None:
            # The message line for summaries; under xdist the report text starts elsewhere.
            first = str(report.longrepr).strip().splitlines()
            line = (
                first[0]
                if isinstance(exc, CheckFailure | DependencyUnavailable)
                else (
                    f"[{spec.id}] {type(exc).__name__}: {redact(str(exc)).splitlines()[0][:300]}"
                    if str(exc).strip()
                    else f"[{spec.id}] {type(exc).__name__}"
                )
            )
            report.user_properties.append((PREFIX + "message", line if first else ""))
    elif outcome is not None and spec is not None and call.when == "call":
        report.sections.append(
            (
                "opscheck fix",
                f"[{spec.id}] fix: {outcome.status} ({outcome.remediation}): {outcome.detail}",
            )
        )
    report.sections = [(title, redact(text)) for title, text in report.sections]
    return report


def pytest_report_teststatus(
    report: pytest.TestReport, config: pytest.Config
) -> tuple[str, str, tuple[str, dict[str, bool]]] | None:
    if (status := inconclusive_status(report)) is not None:
        return status
    if (
        report.when == "setup"
        and report.failed
        and (PREFIX + "unavailable", "yes") in [(str(k), str(v)) for k, v in report.user_properties]
    ):
        return "failed", "F", ("FAILED", {"red": True})
    if report.when != "call" or not report.passed:
        return None
    fix = dict((str(k), str(v)) for k, v in report.user_properties).get(PREFIX + "fix")
    if fix in PASSING_LABELS:
        label = PASSING_LABELS[fix]
        return fix, label[0], (label, {"green": True})
    return None


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """--fail-on: failures below the chosen severity do not fail the gate."""
    config = session.config
    threshold = Severity(config.option.opscheck_fail_on)
    if session.exitstatus != pytest.ExitCode.TESTS_FAILED or threshold is Severity.LOW:
        return
    collector = config.pluginmanager.get_plugin("opscheck-records")
    if not isinstance(collector, RecordCollector):
        return
    bad = [r for r in collector.records.values() if r.status in ("failed", "error", "inconclusive")]
    if len(bad) == session.testsfailed and all(
        Severity(r.severity).rank > threshold.rank for r in bad
    ):
        session.exitstatus = pytest.ExitCode.OK
