"""Live tests of the errors section's remediations: fix, dry run, twice.

ERR-R01 disables a down third party's feature flag in the profile's container, ERR-R02
restarts a leaking pod one at a time (watched with kubernetes.watch while it runs), ERR-R03
rolls a bad rollout back (what it must not roll back: test_errors_misfires.py).
"""

from __future__ import annotations

from pathlib import Path

from tests.errors.errors_support import (
    API,
    FAST,
    NAMESPACE,
    Cluster,
    Inject,
    Run,
    UnavailabilityWatch,
    record_clean_baseline,
    sweep,
)
from tests.waiting import wait_until

STRIPE_DOWN = "[ERR-103] 1 of 2 third-party services down: stripe (HTTP 503)"


def applied(run: object) -> list[dict[str, object]]:
    return [a for a in run.audit() if a["result"] == "applied"]  # type: ignore[attr-defined]


# -- ERR-103 / ERR-R01 -----------------------------------------------------------------


def test_errors_thirdparty_down_dry_run_changes_nothing(
    run_checks: Run, fault: Inject, cluster: Cluster
) -> None:
    fault("thirdparty-down", provider="stripe")
    before = cluster.state()
    result = run_checks("-k", "ERR-103", "--fix", "--dry-run", profile=FAST)
    result.outcome.assert_outcomes(failed=1)
    assert STRIPE_DOWN in result.stdout
    assert "feature flag FEATURE_STRIPE_ENABLED=true; disable it" in result.stdout
    assert "fix: dry run (ERR-R01)" in result.stdout
    assert "would run: [kubernetes] PATCH /apis/apps/v1/namespaces/rolerabbit-production/" in (
        result.stdout
    )
    assert "kubectl set env deployment/rolerabbit-api -c api FEATURE_STRIPE_ENABLED=false" in (
        result.stdout
    )
    assert cluster.state() == before
    assert not applied(result)


def test_errors_thirdparty_fix_disables_the_flag_and_twice_is_harmless(
    run_checks: Run, fault: Inject, cluster: Cluster
) -> None:
    fault("thirdparty-down", provider="stripe")
    fixed = run_checks("-k", "ERR-103", "--fix", profile=FAST)
    assert fixed.outcome.ret == 0, fixed.stdout
    assert fixed.statuses() == {"ERR-103": "fixed"}
    assert cluster.env()["FEATURE_STRIPE_ENABLED"] == "false"
    [action] = applied(fixed)
    assert "FEATURE_STRIPE_ENABLED=false" in str(action["action"])
    # Stripe is still down, but the circuit breaker is engaged: passes with a note.
    after = cluster.state()
    again = run_checks("-k", "ERR-103", "--fix", "-rP", profile=FAST)
    again.outcome.assert_outcomes(passed=1)
    assert "stripe is down (HTTP 503) but mitigated: FEATURE_STRIPE_ENABLED=false" in again.stdout
    assert again.statuses() == {"ERR-103": "passed"}
    assert cluster.state() == after and not applied(again)


def test_errors_thirdparty_fix_sets_the_flag_in_the_named_container_not_the_first(
    run_checks: Run, fault: Inject, cluster: Cluster
) -> None:
    fault("thirdparty-down", provider="stripe")  # remembers the spec without the sidecar
    image = cluster.deployment()["spec"]["template"]["spec"]["containers"][0]["image"]
    sidecar = {"name": "log-shipper", "image": image}  # an image the lab's registry has
    add_first = [{"op": "add", "path": "/spec/template/spec/containers/0", "value": sidecar}]
    before = cluster.revision()
    cluster.apps.patch_namespaced_deployment(API, NAMESPACE, add_first, _request_timeout=10)
    wait_until(lambda: cluster.rolled_out(API, before), 60, "the sidecar to roll out")
    fixed = run_checks("-k", "ERR-103", "--fix", profile=FAST)
    assert fixed.statuses() == {"ERR-103": "fixed"}, fixed.stdout
    assert cluster.env(container="api")["FEATURE_STRIPE_ENABLED"] == "false"
    assert "FEATURE_STRIPE_ENABLED" not in cluster.env(container="log-shipper")
    [action] = applied(fixed)
    assert "kubectl set env deployment/rolerabbit-api -c api FEATURE_STRIPE_ENABLED=false" in (
        str(action["action"])
    )


def test_errors_thirdparty_fix_refuses_when_the_named_container_is_missing(
    run_checks: Run, fault: Inject, cluster: Cluster
) -> None:
    fault("thirdparty-down", provider="stripe")
    before = cluster.state()
    profile = FAST.replace("errors:\n", "errors:\n  api_container: web\n", 1)
    result = run_checks("-k", "ERR-103", "--fix", profile=profile)
    result.outcome.assert_outcomes(failed=1)
    assert (
        "fix: refused (ERR-R01): deployment/rolerabbit-api has no container 'web' (it has: "
        "api); set errors.api_container in the profile" in result.stdout
    )
    assert (
        "Manual: kubectl set env deployment/rolerabbit-api -c <container> "
        "FEATURE_STRIPE_ENABLED=false -n rolerabbit-production" in result.stdout
    )
    assert cluster.state() == before and not applied(result)


# -- ERR-104 / ERR-R02 -----------------------------------------------------------------


def test_errors_memory_leak_dry_run_changes_nothing(
    run_checks: Run, fault: Inject, cluster: Cluster
) -> None:
    leaking = fault("memory-climb", mib_per_second=10)
    before = cluster.state()
    result = run_checks("-k", "ERR-104", "--fix", "--dry-run", profile=FAST)
    result.outcome.assert_outcomes(failed=1)
    pod = str(leaking).split("pod ")[1].split(" ")[0]
    assert f"[ERR-104] 1 pod(s) leaking memory: {pod} +" in result.stdout
    assert "of limit, limit in ~" in result.stdout and "min) > 5 MiB/min" in result.stdout
    assert f"kubectl exec {pod} -n rolerabbit-production -- sh -c 'kill -USR2" in result.stdout
    assert (
        f"would run: [kubernetes] DELETE /api/v1/namespaces/rolerabbit-production/pods/{pod}"
        in (result.stdout)
    )
    assert cluster.state() == before


def test_errors_memory_leak_restart_one_at_a_time_then_twice(
    run_checks: Run, fault: Inject, cluster: Cluster
) -> None:
    first = cluster.pods()
    leaking = sorted(first)[0]
    fault("memory-climb", mib_per_second=10, pod=leaking)
    replicas = cluster.deployment()["spec"]["replicas"]
    with UnavailabilityWatch(cluster, replicas).running() as seen:
        fixed = run_checks("-k", "ERR-104", "--fix", profile=FAST)
    assert fixed.outcome.ret == 0, fixed.stdout
    assert fixed.statuses() == {"ERR-104": "fixed"}
    now = cluster.pods()
    assert leaking not in now and len(now) == replicas
    assert set(first) - {leaking} <= set(now)  # the healthy pods were left alone
    assert seen.deleted == [leaking]
    assert seen.worst == 1, "never more than one pod missing or not Ready at once"
    after = cluster.state()
    again = run_checks("-k", "ERR-104", "--fix", profile=FAST)
    again.outcome.assert_outcomes(passed=1)
    assert cluster.state() == after and not applied(again)


# -- ERR-105 / ERR-R03 -----------------------------------------------------------------


def test_errors_bad_rollout_fails_against_the_recorded_revision_and_dry_run_changes_nothing(
    run_checks: Run, fault: Inject, cluster: Cluster, tmp_path: Path
) -> None:
    reports = str(tmp_path / "scheduled")
    # A scheduled sweep records the running revision's error share (none)...
    record_clean_baseline(run_checks, cluster, reports)
    revision = cluster.revision()
    fault("bad-rollout")
    before = cluster.state()
    # ...so the next sweep compares the new revision against it.
    result = sweep(run_checks, reports, "-k", "ERR-105", "--fix", "--dry-run")
    result.outcome.assert_outcomes(failed=1)
    assert (
        f"[ERR-105] revision {revision + 1} of deployment/rolerabbit-api (0 min old) logs errors on"
        in (result.stdout)
    )
    assert f"revision {revision} (recorded by the sweep at " in result.stdout
    assert "from the rollout on: " in result.stdout
    assert "fix: dry run (ERR-R03)" in result.stdout
    assert "kubectl rollout undo deployment/rolerabbit-api" in result.stdout
    assert cluster.state() == before


def test_errors_bad_rollout_rolls_back_and_twice_is_harmless(
    run_checks: Run, fault: Inject, cluster: Cluster
) -> None:
    # A first sweep: no baseline, its pods are gone; the errors start with the new
    # revision's pods and go on, and no dependency explains them.
    template = cluster.deployment()["spec"]["template"]
    fault("bad-rollout")
    bad = cluster.revision()
    assert "RELEASE" in cluster.env()
    fixed = run_checks("-k", "ERR-105", "--fix", profile=FAST)
    assert fixed.outcome.ret == 0, fixed.stdout
    assert fixed.statuses() == {"ERR-105": "fixed"}
    assert "RELEASE" not in cluster.env()
    assert cluster.deployment()["spec"]["template"]["spec"] == template["spec"]
    assert cluster.revision() == bad + 1  # the rollback: a new revision of the old template
    # Fixed only once the revision rolled back to logged enough lines, nearly none errors.
    applied_record, verified = fixed.audit()
    assert (applied_record["result"], verified["result"]) == ("applied", "verified")
    assert applied_record["evidence_before"][2] == (
        f"revision {bad - 1}: no baseline (its pods are gone and no earlier sweep recorded it)"
    )
    after = cluster.state()
    again = run_checks("-k", "ERR-105", "--fix", profile=FAST)
    again.outcome.assert_outcomes(passed=1)
    assert cluster.state() == after and not applied(again)
