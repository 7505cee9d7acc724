"""--evidence: at the end of the run, one bundle and one incident report per section run.

Registered only on the controller, only when the flag is given, and only for a sweep (not
for `--catalogue`). For each runbook section whose checks ran, it makes the bundle
directory, asks the section's collectors to fill it (`pytest_opscheck_evidence`), adds the
findings and the collection notes, writes the manifest last, and then the incident report
beside the directory. A collector that raises leaves a file saying so, never a crash.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from opscheck.evidence.bundle import EvidenceBundle
from opscheck.evidence.findings import FindingLog
from opscheck.evidence.incident_report import Incident, render
from opscheck.evidence.manifest import write_manifest
from opscheck.keys import REDACTOR, REPORTS_DIR, SECTIONS
from opscheck.redaction import Redactor
from opscheck.reports.records import CheckRecord, RecordCollector
from opscheck.sections import Sections

FINDINGS = "findings.json"


def audit_of_run(path: Path, run_id: str) -> list[dict[str, Any]]:
    """This run's lines of the audit log (none when nothing was fixed or planned)."""
    if not path.exists():
        return []
    lines = (json.loads(line) for line in path.read_text().splitlines() if line.strip())
    return [entry for entry in lines if entry.get("run_id") == run_id]


def free_path(path: Path) -> Path:
    """`path`, or `name-2.md`, `name-3.md`...: a second incident of the day keeps the first."""
    n = 1
    candidate = path
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate


class EvidencePlugin:
    def __init__(
        self,
        reports: Path,
        sections: Sections,
        records: RecordCollector,
        environment: str,
        run_id: str,
        redact: Redactor,
    ) -> None:
        self.incidents = reports / "incidents"
        self.audit_path = reports / "audit.jsonl"
        self.sections, self.records = sections, records
        self.environment, self.run_id, self.redact = environment, run_id, redact
        self.findings = FindingLog(redact)
        self.written: list[tuple[Path, Path, int, float]] = []

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if session.exitstatus == pytest.ExitCode.INTERRUPTED:
            return
        by_section: dict[str, list[CheckRecord]] = {}
        for record in self.records.records.values():
            by_section.setdefault(record.section, []).append(record)
        now = datetime.now(UTC)
        for marker, records in sorted(by_section.items()):
            if marker in self.sections:
                self._write(session.config, marker, records, now)

    def _write(
        self, config: pytest.Config, marker: str, records: list[CheckRecord], now: datetime
    ) -> None:
        section, started = self.sections[marker], time.perf_counter()
        name = f"{now.strftime('%Y%m%dT%H%M%SZ')}-{marker}"
        directory = free_path(self.incidents / name)
        directory.mkdir(parents=True)
        bundle = EvidenceBundle(marker, directory, self.redact)
        try:
            config.hook.pytest_opscheck_evidence(config=config, bundle=bundle)
        except Exception as exc:  # a collector's bug must not lose the rest of the bundle
            bundle.unavailable("collector-error", "an evidence collector", repr(exc)[:300])
        entries = self.findings.entries(records)
        bundle.write(FINDINGS, json.dumps(entries, indent=2) + "\n", f"{len(entries)} checks")
        bundle.write_notes()
        write_manifest(directory)
        size = sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())
        incident = Incident(
            title=section.title,
            severity=section.severity.value,
            environment=self.environment,
            run_id=self.run_id,
            written_at=now,
            findings=entries,
            audit=audit_of_run(self.audit_path, self.run_id),
            impacts=bundle.impacts,
            evidence_link=directory.name,
        )
        report = free_path(self.incidents / f"{now.strftime('%Y-%m-%d')}-{marker}-incident.md")
        report.write_text(self.redact(render(incident)))
        self.written.append((directory, report, size, time.perf_counter() - started))

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        for directory, report, size, took in self.written:
            files = sum(1 for p in directory.rglob("*") if p.is_file())
            terminalreporter.write_line(
                f"evidence: {directory} ({files} files, {size} bytes, {took:.2f}s; verify "
                "there with sha256sum -c SHA256SUMS)"
            )
            terminalreporter.write_line(f"incident report: {report}")


def register_evidence(
    config: pytest.Config, records: RecordCollector, environment: str, run_id: str
) -> None:
    """Register the evidence plugin and its finding log when --evidence is given."""
    if not config.option.opscheck_evidence:
        return
    reports, sections, redact = (
        config.stash[REPORTS_DIR],
        config.stash[SECTIONS],
        config.stash[REDACTOR],
    )
    plugin = EvidencePlugin(reports, sections, records, environment, run_id, redact)
    config.pluginmanager.register(plugin.findings, "opscheck-evidence-findings")
    config.pluginmanager.register(plugin, "opscheck-evidence")
