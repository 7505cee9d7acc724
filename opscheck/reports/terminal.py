"""The terminal summary: failing checks grouped by severity, with the Quick Reference."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from opscheck.reports.records import RecordCollector
from opscheck.sections import Sections, Severity
from opscheck.settings import Profile

BAD = ("failed", "error")


def escalations(sections: Sections, profile: Profile) -> dict[str, str]:
    """Each section's escalation contacts, from its settings (`escalation_contacts()`)."""
    found = {}
    for marker, section in sections.items():
        for kind in section.settings_keys.values():
            line = profile.section(kind).escalation_contacts()
            if line:
                found[marker] = line
    return found


class TerminalSummary:
    def __init__(
        self,
        collector: RecordCollector,
        environment: str,
        sections: Sections,
        escalation: Mapping[str, str] | None = None,
    ) -> None:
        self.collector = collector
        self.environment = environment
        self.sections = sections
        self.escalation = dict(escalation or {})

    def pytest_terminal_summary(
        self, terminalreporter: pytest.TerminalReporter, exitstatus: int
    ) -> None:
        interrupted = exitstatus == pytest.ExitCode.INTERRUPTED
        if interrupted:
            self.collector.mark_interrupted()
        records = list(self.collector.records.values())
        if not records:
            return
        tr = terminalreporter
        tr.write_sep("=", f"runbook summary (profile {self.environment})")
        failing = [r for r in records if r.status in BAD]
        fixed = [r for r in records if r.status in ("fixed", "partial")]
        if interrupted:
            running = [r.check_id for r in records if r.status == "interrupted"]
            tr.write_line(
                f"run INTERRUPTED after {len(records) - len(running)} checks"
                + (f"; {', '.join(running)} was running" if running else "")
                + "; the audit log has a closing record for every applied action",
                red=True,
                bold=True,
            )
        elif not failing and not any(r.status == "inconclusive" for r in records):
            tr.write_line(
                f"all {len(records)} checks healthy"
                + (f" ({len(fixed)} after --fix)" if fixed else ""),
                green=True,
            )
        for level in Severity:
            group = [r for r in failing if r.severity == level.value]
            if not group:
                continue
            tr.write_line(f"{level.value.upper()} ({len(group)})", red=True, bold=True)
            for record in sorted(group, key=lambda r: r.check_id):
                section = self.sections.get(record.section)
                ref = (
                    f" — {section.title}: respond {section.response}, escalate {section.escalation}"
                    if section
                    else ""
                )
                tr.write_line(f"  {record.check_id} {record.title}{ref}")
                if record.message:
                    tr.write_line(f"      {record.message}")
        for marker in sorted({r.section for r in failing} & set(self.escalation)):
            title = self.sections[marker].title if marker in self.sections else marker
            tr.write_line(f"ESCALATE {title}: {self.escalation[marker]}", red=True, bold=True)
        unknown = [r for r in records if r.status == "inconclusive"]
        if unknown:
            tr.write_line(f"INCONCLUSIVE ({len(unknown)}): could not judge", yellow=True, bold=True)
            for record in sorted(unknown, key=lambda r: r.check_id):
                tr.write_line(f"  {record.check_id} {record.title}")
                tr.write_line(f"      {record.message}")
                for line in record.detail.splitlines():
                    tr.write_line(f"      {line}")
        for record in sorted(fixed, key=lambda r: r.check_id):
            label = "FIXED" if record.status == "fixed" else "PARTIALLY FIXED"
            tr.write_line(f"{label} {record.check_id} {record.title} ({record.fix})", green=True)
            if record.status == "partial" and record.fix_detail:
                tr.write_line(f"      {record.fix_detail}")
        for record in sorted(records, key=lambda r: r.check_id):
            if record.fix == "cleared":
                tr.write_line(
                    f"CLEARED {record.check_id} {record.title} (passes again; its fix changed "
                    "nothing itself)",
                    green=True,
                )
