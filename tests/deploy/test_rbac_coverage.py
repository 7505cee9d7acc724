"""The in-cluster Roles cover what the suite asks of Kubernetes, and nothing is asked beyond.

The emulator enforces no RBAC, so its request log is the evidence: it counts the suite's
requests (User-Agent `rolerabbit-opscheck`) as RBAC names them (`GET /_lab/stats/access`:
"verb resource.group/subresource"), and each must be granted by the Roles deploy/ binds:
the read-only Role for a sweep, the read-only and fixer Roles together for `--fix` (the
fix overlay binds both). The rules compared are the declared ones the Roles are generated
from (fixtures/kubernetes_access.py); tests/deploy/test_manifests.py holds the committed
Role files to them.

One full sweep of a lab as it is, then `--fix` runs of every section on one lab, with a
fault in each section: the deployment, database, queue and errors sections' at once, then
the performance and security sections' (a scanner the security fix blocks with a
NetworkPolicy) once the API serves again.
"""

from __future__ import annotations

from collections.abc import Iterable

from fixtures.kubernetes_access import SWEEP, Access, fixer_access
from lab.testing import LabHandle
from tests.deploy.deploy_support import generator
from tests.deployment.deployment_support import API, FAST, Emulator, Inject, Run, applied
from tests.security.block_support import no_blocks as no_blocks
from tests.waiting import wait_until

SUITE = "rolerabbit-opscheck"
# Two --fix runs on one lab, a fault in each section (the API's own faults apart from the
# security section's, which needs the API's pods serving to see the scanner's requests).
FIRST_RUN = ("-m", "deployment or database or queue or errors")
FIRST_FAULTS = (
    # ERR-R01: set env, wait for the rollout. First: clearing it restores the API's spec as
    # it was injected, which must be the healthy one, not bad-image's.
    ("thirdparty-down", {"provider": "stripe"}),
    ("bad-image", {}),  # DEP-R02: a rollback (JSON patch of the Deployment)
    ("worker-scaled-down", {}),  # DEP-R04: the worker's /scale subresource
    ("dead-tuples", {}),  # DB-R05: SQL only
)
FIRST_FIXES = {"DEP-R02", "DEP-R04", "DB-R05", "ERR-R01"}
SECOND_RUN = ("-m", "performance or security")
SECOND_FAULTS = (("security-scanner", {}),)  # SEC-R01: a NetworkPolicy created
WIDE = "errors: {log_window_s: 120}\nsecurity_requests: {window_s: 120}\n"


def granted(accesses: Iterable[Access]) -> set[str]:
    return {name for access in accesses for name in access.names()}


def asked(emulator: Emulator) -> dict[str, int]:
    counts: dict[str, int] = emulator.call("GET", f"/_lab/stats/access?agent={SUITE}")
    return counts


def non_destructive_ids() -> list[str]:
    ids: list[str] = generator().fixer_ids()
    return ids


def test_a_full_sweep_asks_only_what_the_readonly_role_grants(
    run_checks: Run, lab: LabHandle
) -> None:
    emulator = Emulator(lab)
    emulator.reset_stats()
    result = run_checks(profile=FAST)
    assert result.summary()["checks"], result.stdout
    requests = asked(emulator)
    outside = {k: n for k, n in requests.items() if k not in granted(SWEEP)}
    assert outside == {}, f"a sweep asked what the read-only Role does not grant: {outside}"
    # It did read through those rules: every snapshot type, the logs and the pods' metrics.
    assert {"list pods", "list deployments.apps", "get pods/log", "get pods/proxy"} <= set(requests)


def test_fix_runs_of_every_section_ask_only_what_the_two_roles_grant(
    run_checks: Run, fault: Inject, lab: LabHandle, no_blocks: Emulator
) -> None:
    emulator = no_blocks
    emulator.reset_stats()
    for name, params in FIRST_FAULTS:
        fault(name, **params)
    first = run_checks(*FIRST_RUN, "--fix", profile=FAST)
    assert {a["remediation_id"] for a in applied(first)} >= FIRST_FIXES, first.stdout
    # The API serving again (its rollback and its new env rolled out) before the scanner.
    wait_until(lambda: emulator.rolled_out(API), 60, f"deployment/{API} rolled out")
    for name, params in SECOND_FAULTS:
        fault(name, **params)
    second = run_checks(*SECOND_RUN, "--fix", profile=FAST + WIDE)
    # SEC-121 or SEC-122 trips first and blocks the scanner; the other then passes.
    assert "fixed" in {second.statuses()["SEC-121"], second.statuses()["SEC-122"]}, second.stdout
    assert "SEC-R01" in {a["remediation_id"] for a in applied(second)}, second.stdout

    requests = asked(emulator)
    rules = granted(SWEEP) | granted(fixer_access(non_destructive_ids()))
    outside = {k: n for k, n in requests.items() if k not in rules}
    assert outside == {}, f"--fix asked what the two Roles do not grant: {outside}"
    # The writes were there to judge: a Deployment patched, scaled, a NetworkPolicy created.
    assert {
        "patch deployments.apps",
        "patch deployments.apps/scale",
        "create networkpolicies.networking.k8s.io",
    } <= set(requests), requests
