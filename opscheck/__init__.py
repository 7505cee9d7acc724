"""opscheck: the plugin core of RoleRabbit's operations verification suite.

Public API for checks and remediations:

- `check(...)` declares a check (catalogue entry + markers) on a test function;
- `fail(...)` / `verdict(...)` end a check with a Finding; `inconclusive(...)`, or a rule
  returning `NoData`, ends it as inconclusive (it could not judge: never a pass);
- `RemediationSpec` names a remediation fixture; the fixture returns a `Planner` that turns
  a Finding into a `Plan` of `Action`s;
- `DependencyUnavailable` is what clients raise when a service cannot be reached in time;
- `Section` is what a section contributes through the `pytest_opscheck_sections` hook, and
  `pytest_opscheck_sweep_start` tells it which checks were collected (opscheck.hooks);
- `environment_of`, `reports_dir_of`, `sweep_state_of`, `snapshots_of` read the run's state
  from a config; `sampler_of` is the sweep's one sampler of windowed sources
  (opscheck/sampler.py), which sections start jobs on in `pytest_opscheck_sweep_start`.

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
from opscheck.keys import (
    environment_of,
    reports_dir_of,
    sampler_of,
    snapshots_of,
    sweep_state_of,
)
from opscheck.remediation import Action, ActionResult, Plan, Planner
from opscheck.sampler import Sampler
from opscheck.sections import Section, Severity
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
    "Sampler",
    "Section",
    "Severity",
    "SnapshotStore",
    "check",
    "environment_of",
    "fail",
    "inconclusive",
    "reports_dir_of",
    "sampler_of",
    "snapshots_of",
    "sweep_state_of",
    "verdict",
]
