"""The failure message: id, measured value against threshold, evidence, then what to do.

[DB-102] 183 of 200 connections in use (92% > 80%)
  evidence: ...
  remediation DB-R01 Terminate idle connections: terminates connections idle > 1 hour
  apply: pytest -k DB-102 --fix
  runbook: Database Connection Errors (critical, respond in 5 min, escalate +15 min)
"""

from __future__ import annotations

from opscheck.catalogue import CheckSpec
from opscheck.findings import Finding
from opscheck.outcome import FixOutcome

MAX_EVIDENCE_LINES = 20


def render_failure(spec: CheckSpec, finding: Finding, outcome: FixOutcome | None = None) -> str:
    lines = [f"[{spec.id}] {finding.summary}"]
    evidence = list(finding.evidence)
    for line in evidence[:MAX_EVIDENCE_LINES]:
        lines.append(f"  evidence: {line}")
    if len(evidence) > MAX_EVIDENCE_LINES:
        lines.append(f"  evidence: ... and {len(evidence) - MAX_EVIDENCE_LINES} more")
    lines.extend(next_steps(spec))
    if outcome is not None:
        lines.extend(render_outcome(outcome))
    return "\n".join(lines)


def next_steps(spec: CheckSpec) -> list[str]:
    lines = []
    rem = spec.remediation
    if rem is not None:
        flags = " (destructive: needs --allow-destructive)" if rem.destructive else ""
        flags += " (changes capacity)" if rem.changes_capacity else ""
        lines.append(f"  remediation {rem.id} {rem.title}: {rem.does}{flags}")
        extra = " --allow-destructive" if rem.destructive else ""
        lines.append(f"  apply: {spec.fix_command}{extra}   (preview: add --dry-run)")
    for step in spec.manual:
        lines.append(f"  manual: {step}")
    lines.append(f"  runbook: {spec.section.title} ({spec.section.quick_reference})")
    return lines


def render_outcome(outcome: FixOutcome) -> list[str]:
    status, remediation, detail = outcome.status, outcome.remediation, outcome.detail
    actions = outcome.actions
    head = f"  fix: {status}" + (f" ({remediation})" if remediation else "")
    lines = [head + (f": {detail}" if detail else "")]
    label = {"dry run": "would run", "nothing to do": "by hand", "cleared": "by hand"}.get(
        status, "ran"
    )
    lines.extend(f"    {label}: {action}" for action in actions)
    return lines


def render_unavailable(spec: CheckSpec | None, message: str) -> str:
    prefix = f"[{spec.id}] " if spec else ""
    return prefix + message
