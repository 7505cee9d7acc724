"""`scripts/postmortem [RUN]`: a postmortem draft from the kept runs of an incident.

The runbook's Post-Incident Actions start with a postmortem within 48 hours. The runs kept
under `reports/runs/` already hold what its first half needs: each sweep's summary (which
checks failed, with what finding, and what --fix made of them) and its audit lines (every
planned, applied, refused and verified action, with who and when). The incident is the
chosen run (default: the latest) and the unbroken stretch of troubled runs of the same
environment before it: a run with a failing, fixed or inconclusive check. The draft gives
the timeline, what failed, what was fixed and by whom, and the final state; Root cause,
Learnings and Owners are left as headed blanks for the people who know. Every line is
redacted again on the way out, as reports are.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from opscheck.redaction import Redactor, mask_credentials
from opscheck.reports.runs import kept_runs, resolve_run

BAD = ("failed", "error", "inconclusive", "interrupted")
FIXED = ("fixed", "partial")
ACTIONS = ("applied", "refused", "failed", "verified", "interrupted")  # not plans or skips
POSTMORTEM_DUE = timedelta(hours=48)  # the runbook: write the postmortem within 48 hours


@dataclass(frozen=True)
class KeptRun:
    path: Path
    summary: dict[str, Any]
    audit: list[dict[str, Any]]

    @classmethod
    def load(cls, path: Path) -> KeptRun:
        summary_path = path / "summary.json"
        if not summary_path.is_file():
            raise LookupError(f"{path} has no summary.json (was it run with --no-reports?)")
        audit_path = path / "audit.jsonl"
        lines = audit_path.read_text().splitlines() if audit_path.is_file() else []
        try:
            summary = json.loads(summary_path.read_text())
            audit = [json.loads(line) for line in lines]
        except ValueError as exc:
            raise LookupError(f"{path}: a report is not JSON ({exc})") from None
        missing = [k for k in ("started", "finished", "checks") if k not in summary]
        if missing:
            raise LookupError(f"{summary_path} lacks {', '.join(missing)}")
        return cls(path, summary, audit)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def started(self) -> datetime:
        return datetime.fromisoformat(self.summary["started"])

    @property
    def finished(self) -> datetime:
        return datetime.fromisoformat(self.summary["finished"])

    @property
    def checks(self) -> list[dict[str, Any]]:
        return list(self.summary.get("checks", []))

    def troubled(self) -> bool:
        return any(c["status"] in BAD + FIXED for c in self.checks)


def incident_runs(reports: Path, chosen: Path) -> list[KeptRun]:
    """The chosen run and the troubled runs of its environment just before it, oldest first."""
    last = KeptRun.load(chosen)
    environment = last.summary.get("environment")
    earlier: list[KeptRun] = []
    for path in reversed([p for p in kept_runs(reports / "runs") if p.name < chosen.name]):
        try:
            run = KeptRun.load(path)
        except LookupError:
            break  # a run without a readable summary ends what can be told
        if run.summary.get("environment") != environment:
            continue  # another target's sweep in between is no part of this incident
        if not run.troubled():
            break
        earlier.append(run)
    return [*reversed(earlier), last]


def clock(when: datetime | str) -> str:
    moment = datetime.fromisoformat(when) if isinstance(when, str) else when
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def finding(run: KeptRun, check: dict[str, Any]) -> str:
    """What was wrong: the check's message, or for a fixed check (which passes in the end,
    so its summary holds no message) the finding its fix acted on, from the audit line."""
    text = first_line(check.get("message", ""))
    if not text:
        for entry in run.audit:
            before = entry.get("evidence_before") or []
            if entry.get("check_id") == check["check_id"] and before:
                text = first_line(str(before[0]))
                break
    text = re.sub(r"^\[[A-Z]+-\d+\]\s*", "", text)  # the id is said beside it
    return text or check["status"]


def who(entry: dict[str, Any]) -> str:
    worker = entry.get("worker")
    return f"{entry.get('operator', 'unknown')}" + (f" ({worker})" if worker else "")


def action_line(entry: dict[str, Any]) -> str:
    rem, check = entry.get("remediation_id") or "manual", entry.get("check_id", "?")
    target = f" on {entry['target']}" if entry.get("target") else ""
    if entry["result"] == "verified":
        return f"re-check: {check} passes after {rem}{target}"
    what = f": {entry['action']}" if entry.get("action") else ""
    explained = entry.get("detail") and entry["result"] != "applied"  # why it was not done
    detail = f" ({first_line(str(entry['detail']))})" if explained else ""
    dry = " [dry run]" if entry.get("dry_run") else ""
    return f"{entry['result']} {rem} for {check}{target}{what}{detail}{dry} — by {who(entry)}"


def timeline(runs: list[KeptRun]) -> list[tuple[str, str]]:
    """(UTC time, event) in time order: sweeps, first failures, actions, re-checks."""
    events: list[tuple[str, str]] = []
    seen_bad: set[str] = set()
    for run in runs:
        operator = run.summary.get("operator", "unknown")
        events.append((clock(run.started), f"sweep {run.name} started by {operator}"))
        for check in sorted(run.checks, key=lambda c: c["check_id"]):
            cid = check["check_id"]
            if check["status"] in BAD + FIXED and cid not in seen_bad:
                seen_bad.add(cid)
                where = f"{check.get('severity', '')}, {check.get('section', '')}"
                text = f"first failure: {cid} ({where}): {finding(run, check)}"
                events.append((clock(run.started), text))
            elif check["status"] == "passed" and cid in seen_bad:
                events.append((clock(run.finished), f"re-check: {cid} passes"))
        for entry in run.audit:
            if entry.get("result") in ACTIONS:
                events.append((clock(entry["timestamp"]), action_line(entry)))
        counts = ", ".join(f"{n} {s}" for s, n in sorted(run.summary.get("counts", {}).items()))
        exit_code = run.summary.get("exit_code")
        events.append((clock(run.finished), f"sweep {run.name} ended: {counts} (exit {exit_code})"))
    return sorted(events, key=lambda e: e[0])  # stable: a run's own order within a second


def failures(runs: list[KeptRun]) -> list[str]:
    rows = [
        "| check | section | severity | first seen failing | finding |",
        "|---|---|---|---|---|",
    ]
    seen: set[str] = set()
    for run in runs:
        for check in sorted(run.checks, key=lambda c: c["check_id"]):
            cid = check["check_id"]
            if check["status"] in BAD + FIXED and cid not in seen:
                seen.add(cid)
                found = cell(finding(run, check))
                rows.append(
                    f"| {cid} {cell(check.get('title', ''))} | {check.get('section', '')} "
                    f"| {check.get('severity', '')} | {clock(run.started)} | {found} |"
                )
    return rows if seen else ["No check failed in these runs."]


def fixes(runs: list[KeptRun]) -> list[str]:
    rows = ["| remediation | check | target | by | when | result |", "|---|---|---|---|---|---|"]
    found = False
    for run in runs:
        for entry in run.audit:
            if entry.get("result") not in ("applied", "refused", "failed") or entry.get("dry_run"):
                continue
            found = True
            outcome = entry["result"]
            later = [e for e in run.audit if e.get("check_id") == entry.get("check_id")]
            if outcome == "applied" and any(e.get("result") == "verified" for e in later):
                outcome = "applied, verified by re-check"
            rows.append(
                f"| {entry.get('remediation_id') or 'manual'} | {entry.get('check_id', '')} "
                f"| {cell(str(entry.get('target', '')))} | {cell(who(entry))} "
                f"| {clock(entry['timestamp'])} | {outcome} |"
            )
    return rows if found else ["Nothing was changed by `--fix` in these runs."]


def final_state(last: KeptRun) -> str:
    bad = [c for c in last.checks if c["status"] in BAD]
    if not bad:
        return (
            f"All {len(last.checks)} checks of sweep {last.name} pass "
            f"(finished {clock(last.finished)} UTC)."
        )
    ids = ", ".join(f"{c['check_id']} ({c['status']})" for c in bad)
    return f"Still failing after sweep {last.name} ({clock(last.finished)} UTC): {ids}."


def cell(text: str) -> str:
    return text.replace("|", "\\|")


def draft(runs: list[KeptRun]) -> str:
    first, last = runs[0], runs[-1]
    environment = last.summary.get("environment", "")
    sections = sorted(
        {c.get("section", "") for r in runs for c in r.checks if c["status"] in BAD + FIXED}
    )
    due = clock(first.started + POSTMORTEM_DUE)
    lines = [
        f"# Postmortem draft: {', '.join(sections) or 'no failure'} on {environment}, "
        f"{first.started.date().isoformat()}",
        "",
        f"Drafted by `scripts/postmortem` from {len(runs)} kept run(s), {first.name} to "
        f"{last.name}: the timeline, failures and fixes come from their summaries and audit "
        f"lines. Write it up within 48 hours of the first failure (by {due} UTC).",
        "",
        "## Timeline (UTC)",
        "",
        *(f"- {when} {event}" for when, event in timeline(runs)),
        "",
        "## What failed",
        "",
        *failures(runs),
        "",
        "## What was fixed, and by whom",
        "",
        *fixes(runs),
        "",
        "## Final state",
        "",
        final_state(last),
        "",
        "## Root cause",
        "",
        "_To be written by the incident owner._",
        "",
        "## Learnings",
        "",
        "_To be shared at the team meeting._",
        "",
        "## Owners",
        "",
        "| follow-up | owner | due |",
        "|---|---|---|",
        "| Implement fixes | | |",
        "| Update the runbook (new scenarios) | | |",
        "| Review alerts (adjust thresholds if needed) | | |",
        "",
    ]
    return "\n".join(lines)


def redact(text: str, redactor: Redactor | None = None) -> str:
    return mask_credentials((redactor or Redactor.from_environment())(text))


def write_draft(reports: Path, run: str | None, out: Path | None) -> Path:
    chosen = resolve_run(reports, run)
    text = redact(draft(incident_runs(reports, chosen)))
    target = out or chosen / "postmortem.md"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    return target


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/postmortem",
        description="Write a postmortem draft from the kept runs of an incident.",
    )
    parser.add_argument("run", nargs="?", help="run directory, name or id (default: latest)")
    parser.add_argument("--reports-dir", default="reports", help="default: reports/")
    parser.add_argument("-o", "--output", help="where to write (default: <run>/postmortem.md)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    try:
        path = write_draft(
            Path(args.reports_dir), args.run, Path(args.output) if args.output else None
        )
    except LookupError as exc:
        print(f"postmortem: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"postmortem: cannot write the draft: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
