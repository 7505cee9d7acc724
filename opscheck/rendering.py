"""The failure message: id, measured value against threshold, evidence, then what to do.

[DB-102] 183 of 200 connections in use (92% > 80%)
  evidence: ...
  remediation DB-R01 Terminate idle connections: terminates connections idle > 1 hour
  apply: pytest -k DB-102 --fix
  runbook: Database Connection Errors (critical, respond in 5 min, escalate +15 min)
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from opscheck.catalogue import CheckSpec
from opscheck.findings import Finding
from opscheck.fix.outcome import FixOutcome

MAX_EVIDENCE_LINES = 20


PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def manual_steps(spec: CheckSpec, names: Mapping[str, str] | None = None) -> list[str]:
    """The check's manual steps, with {namespace} and the other profile names filled in
    (Profile.placeholders); an unknown {placeholder} stays as written."""
    if names is None:
        return list(spec.manual)
    # Only known {names} are filled: a step may hold JSON or jq braces of its own.
    return [PLACEHOLDER.sub(lambda m: names.get(m[1], m[0]), step) for step in spec.manual]


def render_failure(
    spec: CheckSpec,
    finding: Finding,
    outcome: FixOutcome | None = None,
    names: Mapping[str, str] | None = None,
) -> str:
    lines = [f"[{spec.id}] {finding.summary}"]
    evidence = list(finding.evidence)
    for line in evidence[:MAX_EVIDENCE_LINES]:
        lines.append(f"  evidence: {line}")
    if len(evidence) > MAX_EVIDENCE_LINES:
        lines.append(f"  evidence: ... and {len(evidence) - MAX_EVIDENCE_LINES} more")
    lines.extend(next_steps(spec, names))
    if outcome is not None:
        lines.extend(render_outcome(outcome))
    return "\n".join(lines)


def next_steps(spec: CheckSpec, names: Mapping[str, str] | None = None) -> list[str]:
    lines = []
    rem = spec.remediation
    if rem is not None:
        flags = " (destructive: needs --allow-destructive)" if rem.destructive else ""
        flags += " (changes capacity)" if rem.changes_capacity else ""
        lines.append(f"  remediation {rem.id} {rem.title}: {rem.does}{flags}")
        extra = " --allow-destructive" if rem.destructive else ""
        lines.append(f"  apply: {spec.fix_command}{extra}   (preview: add --dry-run)")
    for step in manual_steps(spec, names):
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


# Clients end a hint with where to look in the lab ("...; for the lab try: lab status"):
# useful against the lab, noise against any other environment.
LAB_HINT = re.compile(r"[;,]?\s*(?:for the lab|in the lab)(?: try)?:\s*[^;]*")


def render_unavailable(spec: CheckSpec | None, message: str, *, lab: bool = True) -> str:
    """The one line for an unreachable dependency; lab hints only for the lab profile."""
    prefix = f"[{spec.id}] " if spec else ""
    return prefix + (message if lab else LAB_HINT.sub("", message).rstrip(" ;,"))
