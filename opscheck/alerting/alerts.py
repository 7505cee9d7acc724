"""Alertmanager alerts from a sweep's results: stable labels, bounded and redacted text.

One alert per check and environment, identified by its labels, so a repeated sweep renews
the same alert instead of adding one:

    alertname    OpscheckCheckFailing (failed, or errored) | OpscheckCheckInconclusive
    check_id     DB-113
    section      database (the runbook section's marker)
    severity     the check's (critical, high, medium, low); `info` for inconclusive
    environment  the profile's name

An inconclusive check is not a confirmed symptom, so paging for it would be wrong; but a
sweep that cannot see is worth knowing about, so it is its own lower alert (severity
`info`, the check's own severity in `check_severity`), which the example routing sends to
Slack #oncall, never to PagerDuty. A check that fails after it was inconclusive (or the
other way round) resolves the one alert and fires the other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

FAILING = "OpscheckCheckFailing"
INCONCLUSIVE = "OpscheckCheckInconclusive"
ALERTNAMES = (FAILING, INCONCLUSIVE)
FAILING_STATUSES = ("failed", "error")
PASSING_STATUSES = ("passed", "fixed", "partial")


@dataclass(frozen=True)
class CheckResult:
    """What the sweep learnt about one check (the core's record plus its failure text)."""

    check_id: str
    title: str
    section: str
    severity: str
    status: str
    message: str
    text: str  # the rendered failure, or an inconclusive check's evidence and next steps
    remediation: str  # the remediation id, or ""
    runbook_url: str

    @property
    def alertname(self) -> str | None:
        """The alert this result keeps firing; None when it fires none."""
        if self.status in FAILING_STATUSES:
            return FAILING
        return INCONCLUSIVE if self.status == "inconclusive" else None

    @property
    def judged(self) -> bool:
        """Whether the sweep said anything about the check (a skip or interruption did not)."""
        return self.status in (*FAILING_STATUSES, *PASSING_STATUSES, "inconclusive")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def evidence_head(result: CheckResult, lines: int, max_chars: int) -> str:
    """The first evidence lines of a failure (or an inconclusive check's detail), bounded;
    text without evidence lines (an internal error's) is shown as it is."""
    text = [line.strip() for line in result.text.splitlines() if line.strip()]
    found = [
        line.removeprefix("evidence:").strip() for line in text if line.startswith("evidence:")
    ]
    if not found and not result.text.lstrip().startswith("["):
        found = text
    head = "\n".join(found[:lines])
    if len(found) > lines:
        head += f"\n... and {len(found) - lines} more"
    return head if len(head) <= max_chars else head[: max_chars - 3] + "..."


def remediation_line(result: CheckResult) -> str:
    """`DB-R05 Vacuum ...: what it does` from the failure text, or the bare id."""
    for line in result.text.splitlines():
        if line.strip().startswith(f"remediation {result.remediation} "):
            return line.strip().removeprefix("remediation ").strip()
    return result.remediation


def fix_command(result: CheckResult) -> str:
    """The command that applies exactly this check's remediation."""
    destructive = any(
        line.strip().startswith("apply:") and "--allow-destructive" in line
        for line in result.text.splitlines()
    )
    extra = " --allow-destructive" if destructive else ""
    return f"pytest -m {result.section} --fix --fix-only {result.remediation}{extra}"


def labels(result: CheckResult, environment: str) -> dict[str, str]:
    name = result.alertname or FAILING
    found = {
        "alertname": name,
        "check_id": result.check_id,
        "section": result.section,
        "severity": result.severity if name == FAILING else "info",
        "environment": environment,
    }
    if name == INCONCLUSIVE:
        found["check_severity"] = result.severity
    return found


def firing_alert(
    result: CheckResult,
    environment: str,
    *,
    now: datetime,
    ttl_s: int,
    evidence_lines: int,
    evidence_max_chars: int,
    run_id: str,
    redact: Callable[[str], str],
) -> dict[str, Any]:
    """The alert a failing or inconclusive check keeps firing until `now + ttl_s`."""
    annotations = {
        "summary": result.message or f"[{result.check_id}] {result.title}",
        "title": result.title,
        "evidence": evidence_head(result, evidence_lines, evidence_max_chars),
        "runbook_url": result.runbook_url,
        "run_id": run_id,
    }
    if result.remediation and result.alertname == FAILING:
        annotations["remediation"] = remediation_line(result)
        annotations["remediation_command"] = fix_command(result)
    return {
        "labels": labels(result, environment),
        "annotations": {k: redact(v) for k, v in annotations.items() if v},
        # startsAt is Alertmanager's: it keeps the first one while the alert stays firing.
        "endsAt": iso(now + timedelta(seconds=ttl_s)),
    }


def resolutions(
    active: Iterable[dict[str, str]],
    results: dict[str, CheckResult],
    now: datetime,
    inconclusive: bool = True,
) -> list[dict[str, Any]]:
    """Alerts to end now: Alertmanager's active alerts (their labels) for the checks this
    sweep judged, where the check no longer fires that alert (or fires it with other labels,
    or it is an inconclusive alert and `inconclusive` alerts are off). Checks the sweep did
    not run (another section, a skip) keep their alerts."""
    ended = []
    for found in active:
        result = results.get(found.get("check_id", ""))
        if (
            found.get("alertname") not in ALERTNAMES
            or "environment" not in found
            or result is None
            or not result.judged
        ):
            continue
        # Still firing, but not with these labels (the catalogue changed its severity): the
        # sweep fires the new one, so the old one ends.
        still = result.alertname is not None and labels(result, found["environment"]) == found
        if result.alertname == INCONCLUSIVE and not inconclusive:
            still = False
        if not still:
            ended.append({"labels": dict(found), "endsAt": iso(now)})
    return ended
