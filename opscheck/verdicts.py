"""The third verdict: inconclusive. The check ran but lacked the data to judge.

It says exactly what was missing. By default it fails the run (exit 1) like a failed check;
`--inconclusive=warn` (or the profile's `inconclusive: warn`) reports it without failing the
run. Either way it has its own status: INCONCLUSIVE in the terminal, "inconclusive" in
summary.json, a JUnit failure of type "inconclusive", and "broken" in Allure (the exception
is not an assertion).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from opscheck.catalogue import CheckSpec
from opscheck.findings import Inconclusive
from opscheck.fix.outcome import FixOutcome
from opscheck.keys import ENVIRONMENT, FIX_OUTCOME
from opscheck.rendering import render_outcome
from opscheck.reports.records import PREFIX

VERDICT = PREFIX + "verdict"
JUNIT_TYPE = "inconclusive"
MAX_EVIDENCE_LINES = 20


def mode(config: pytest.Config) -> str:
    chosen = config.option.opscheck_inconclusive
    if chosen:
        return str(chosen)
    environment = config.stash.get(ENVIRONMENT, None)
    return environment.profile.inconclusive if environment is not None else "fail"


def render_inconclusive(
    spec: CheckSpec, exc: Inconclusive, outcome: FixOutcome | None = None
) -> str:
    lines = [f"[{spec.id}] inconclusive: {exc.no_data.missing}"]
    lines += [f"  evidence: {line}" for line in list(exc.no_data.evidence)[:MAX_EVIDENCE_LINES]]
    lines.append("  this check could not judge; it is not a pass (see --inconclusive)")
    lines.append(f"  runbook: {spec.section.title} ({spec.section.quick_reference})")
    if outcome is not None:
        lines.extend(render_outcome(outcome))
    return "\n".join(lines)


def tell_inconclusive(
    report: pytest.TestReport,
    item: pytest.Item,
    exc: Inconclusive,
    spec: CheckSpec,
    redact: Callable[[str], str],
) -> None:
    """Turn the report of an inconclusive check into its own status (fail or warn)."""
    text = redact(render_inconclusive(spec, exc, item.stash.get(FIX_OUTCOME, None)))
    report.user_properties.append((VERDICT, "inconclusive"))
    report.user_properties.append((PREFIX + "message", text.splitlines()[0]))
    # The terminal lists no failure section for this status: the summary shows the rest.
    report.user_properties.append((PREFIX + "detail", "\n".join(text.splitlines()[1:])))
    if mode(item.config) == "warn":
        report.outcome = "passed"
        report.longrepr = None
        report.sections.append(("opscheck inconclusive", text))
    else:
        report.longrepr = text


def is_inconclusive(report: pytest.TestReport) -> bool:
    return (VERDICT, "inconclusive") in [(str(k), str(v)) for k, v in report.user_properties]


def inconclusive_status(
    report: pytest.TestReport,
) -> tuple[str, str, tuple[str, dict[str, bool]]] | None:
    """The terminal's status for an inconclusive check (warn or fail alike)."""
    if report.when == "call" and is_inconclusive(report):
        return "inconclusive", "?", ("INCONCLUSIVE", {"yellow": True})
    return None


class JunitInconclusiveType:
    """Marks inconclusive checks' <failure> elements in junit.xml with type="inconclusive".

    pytest's writer gives failures no type; it runs in pytest_sessionfinish, before this.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self) -> None:
        if not self.path.exists():
            return
        tree = ET.parse(self.path)
        changed = False
        for failure in tree.iter("failure"):
            if " inconclusive: " in failure.get("message", "").split("\n")[0]:
                failure.set("type", JUNIT_TYPE)
                changed = True
        if changed:
            tree.write(self.path, encoding="utf-8", xml_declaration=True)
