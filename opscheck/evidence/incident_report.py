"""The runbook's incident report, filled in from one run: a pure function of its inputs.

The runbook's template (step 5 of its Security Incidents section) has the date, severity
and status at the top, then Timeline, Impact, Root cause, Resolution and Prevention. Here
the timeline is the run's findings and audited remediation actions in time order; the
impact is what the evidence collectors counted; the actions are the audit log's (applied,
planned by a dry run, refused) and the manual steps of checks without an automatic fix.
Root cause and Prevention are a person's analysis: they are left as headed blanks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

BAD = ("failed", "error", "inconclusive")
FILL_IN = "_(to be written by the incident owner)_"


@dataclass(frozen=True)
class Incident:
    """Everything the report says, gathered by the evidence plugin."""

    title: str  # the runbook section's title, "Security Incidents"
    severity: str
    environment: str
    run_id: str
    written_at: datetime
    findings: Sequence[Mapping[str, Any]]  # FindingLog.entries()
    audit: Sequence[Mapping[str, Any]]  # this run's audit.jsonl lines
    impacts: Sequence[str]
    evidence_link: str  # the bundle directory, relative to the report


def status(findings: Sequence[Mapping[str, Any]]) -> str:
    """Open while a check still fails; contained when the run's fixes cleared every one."""
    if any(f["status"] in BAD for f in findings):
        return "Open (investigating: checks still failing after this run)"
    if any(f["status"] in ("fixed", "partial") for f in findings):
        return "Contained (every failing check was fixed by this run)"
    return "No finding (every check of the section passed)"


def _time(stamp: str) -> str:
    return stamp.replace("T", " ").split(".")[0].removesuffix("+00:00") + "Z"


def _action(entry: Mapping[str, Any]) -> str:
    what = entry.get("action") or entry.get("result") or "action"
    rem = entry.get("remediation_id") or "no remediation"
    dry = " (dry run: planned, not applied)" if entry.get("dry_run") else ""
    where = f"{entry.get('check_id')} {rem} on {entry.get('target')}"
    return f"{where}: {what} -> {entry.get('result')}{dry}"


def timeline(incident: Incident) -> list[str]:
    events: list[tuple[str, str]] = []
    bad = [f for f in incident.findings if f["found"] or f["status"] not in ("passed", "skipped")]
    if bad:
        events.append(
            (
                bad[0]["at"],
                f"Incident detected: {bad[0]['check_id']} {bad[0]['found'] or bad[0]['status']}",
            )
        )
    for f in bad:
        events.append((f["at"], f"{f['check_id']} {f['found'] or f['status']}: {f['summary']}"))
    for entry in incident.audit:
        events.append((str(entry.get("timestamp", "")), _action(entry)))
    written = incident.written_at.isoformat(timespec="milliseconds")
    link = f"[{incident.evidence_link}]({incident.evidence_link})"
    events.append((written, f"Evidence collected: {link}"))
    events.sort(key=lambda e: e[0])
    lines = [f"- {_time(at)} - {text}" for at, text in events]
    lines.append("- [time] - Team notified: " + FILL_IN)
    return lines


def actions(incident: Incident) -> list[str]:
    lines = []
    for e in incident.audit:
        refused = "refused" in str(e.get("result"))
        kind = "Planned (dry run)" if e.get("dry_run") else "Refused" if refused else "Applied"
        lines.append(f"- {kind}: {_action(e)}")
    bad = [f for f in incident.findings if f["status"] in BAD]
    manual = [f["check_id"] for f in bad if f["fix"] in ("", "manual")]
    if manual:
        lines.append(f"- Manual (no automatic fix): follow the manual steps of {', '.join(manual)}")
    return lines or ["- None taken by this run"]


def render(incident: Incident) -> str:
    """The report's Markdown."""
    bad = [f["check_id"] for f in incident.findings if f["status"] in BAD]
    impacts = [f"- {line}" for line in incident.impacts] or ["- No evidence source counted any"]
    return "\n".join(
        [
            f"# Incident report: {incident.title}",
            "",
            f"**Date**: {incident.written_at.strftime('%Y-%m-%d %H:%M:%S')} UTC",
            f"**Severity**: {incident.severity.capitalize()}",
            f"**Status**: {status(incident.findings)}",
            f"**Environment**: {incident.environment} (run {incident.run_id})",
            f"**Evidence**: [{incident.evidence_link}]({incident.evidence_link}) "
            "(verify: `sha256sum -c SHA256SUMS` in that directory)",
            "",
            "## Timeline",
            *timeline(incident),
            "",
            "## Impact",
            *impacts,
            "- Data compromised: Unknown " + FILL_IN,
            f"- Checks failing at the end of the run: {', '.join(bad) or 'none'}",
            "",
            "## Actions taken",
            *actions(incident),
            "",
            "## Root cause",
            "",
            FILL_IN,
            "",
            "## Resolution",
            "",
            FILL_IN,
            "",
            "## Prevention",
            "",
            FILL_IN,
            "",
        ]
    )
