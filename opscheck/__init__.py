"""opscheck: the plugin core of RoleRabbit's operations verification suite.

Public API for checks and remediations:

- `check(...)` declares a check (catalogue entry + markers) on a test function;
- `fail(...)` / `verdict(...)` end a check with a Finding; `inconclusive(...)`, or a rule
  returning `NoData`, ends it as inconclusive (it could not judge: never a pass);
- `RemediationSpec` names a remediation fixture; the fixture returns a `Planner` that turns
  a Finding into a `Plan` of `Action`s;
- `DependencyUnavailable` is what clients raise when a service cannot be reached in time.

PYTEST_DONT_REWRITE: checks report through `fail()`, not bare asserts, so this installed
plugin needs no assertion rewriting (and pytester runs must not warn that it was imported).
"""

from opscheck.catalogue import CheckSpec, RemediationSpec, check
from opscheck.findings import (
    CheckFailure,
    DependencyUnavailable,
    Finding,
    Inconclusive,
    NoData,
    fail,
    inconclusive,
    verdict,
)
from opscheck.remediation import Action, ActionResult, Plan, Planner
from opscheck.sections import Severity
from opscheck.snapshots import SnapshotStore

__all__ = [
    "Action",
    "ActionResult",
    "CheckFailure",
    "CheckSpec",
    "DependencyUnavailable",
    "Finding",
    "Inconclusive",
    "NoData",
    "Plan",
    "Planner",
    "RemediationSpec",
    "Severity",
    "SnapshotStore",
    "check",
    "fail",
    "inconclusive",
    "verdict",
]
