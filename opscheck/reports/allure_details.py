"""What the Allure report shows of a check beyond its labels: title, remediation, manual steps.

Collection gives each item its catalogue labels (feature = section, story = symptom,
severity) as markers. A title and parameters can only be set while Allure holds the
item's result, through `allure.dynamic`; teardown is the one phase every item reaches
(a check whose setup failed never has a call phase), and Allure closes the result after it.
Registered only where Allure writes results, on the controller and on each xdist worker.
"""

from __future__ import annotations

from collections.abc import Mapping

import allure
import pytest

from opscheck.catalogue import CheckSpec
from opscheck.keys import SPEC
from opscheck.rendering import manual_steps


def description(spec: CheckSpec, names: Mapping[str, str] | None = None) -> str:
    """Markdown for the report's description pane: the runbook entry and what fixes it."""
    section = spec.section
    lines = [
        f"**{spec.id}** {spec.title}",
        "",
        f"Runbook section: {section.title} ({section.quick_reference})",
        f"Symptom: {spec.symptom}",
        f"Severity: {spec.severity.value}",
    ]
    rem = spec.remediation
    if rem is not None:
        guard = " (destructive: needs --allow-destructive)" if rem.destructive else ""
        lines += ["", f"Remediation {rem.id} {rem.title}{guard}: {rem.does}"]
        lines.append(f"Apply: `{spec.fix_command}` (preview: add `--dry-run`)")
    steps = manual_steps(spec, names)
    if steps:
        lines += ["", "Manual steps:", *(f"{n}. {step}" for n, step in enumerate(steps, 1))]
    return "\n".join(lines)


class AllureDetails:
    def __init__(self, names: Mapping[str, str]) -> None:
        self.names = names  # the profile's names for manual steps' {placeholders}

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        spec = item.stash.get(SPEC, None)
        if spec is None:
            return
        allure.dynamic.title(f"[{spec.id}] {spec.title}")
        allure.dynamic.description(description(spec, self.names))
        rem = spec.remediation
        # Excluded from the history id: the check's identity is its id, not its fix.
        fix = f"{rem.id} {rem.title}" if rem else "manual steps"
        allure.dynamic.parameter("remediation", fix, excluded=True)
        if rem is not None:
            allure.dynamic.parameter("apply", spec.fix_command, excluded=True)
