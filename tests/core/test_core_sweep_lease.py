"""The sweep Lease: one sweep at a time per namespace, across runners that share no machine.

Runners are real `pytest checks` processes (or in-process runs) against the session's lab,
each with its own run-state directory, as a CronJob pod and a CI job would have: the local
lock cannot see the other runner, only the Lease in the lab's Kubernetes emulator can. The
Lease is read back with the official client.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from lab.k8s.kubeconfig import write_kubeconfig
from lab.testing import LabHandle
from tests.conftest import ROOT, CheckRun
from tests.core.sweep_support import layered_profile
from tests.k8s.support import KUBECTL

NAMESPACE = "rolerabbit-production"
LEASE = "opscheck-sweep"
DURATION_S = 9
# Renewed every 3 s; a renewal (at most connect + read) lands well before expiry.
LEASE_PROFILE = {
    "sweep_lease": {"duration_s": DURATION_S},
    "timeouts": {"connect_s": 1, "read_s": 4},
}
Run = Callable[..., CheckRun]


@pytest.fixture
def leases(lab: LabHandle) -> Iterator[client.CoordinationV1Api]:
    configuration = client.Configuration()
    config.load_kube_config(lab.env["KUBECONFIG"], client_configuration=configuration)
    with client.ApiClient(configuration) as api:
        yield client.CoordinationV1Api(api)


def read_lease(leases: client.CoordinationV1Api) -> client.V1Lease | None:
    try:
        return leases.read_namespaced_lease(LEASE, NAMESPACE)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def put_lease(
    leases: client.CoordinationV1Api, holder: str, renewed: datetime, transitions: int
) -> client.V1Lease:
    """Write the Lease as another runner left it (created, or replaced over what is there)."""
    stamp = renewed.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    body: dict[str, Any] = {
        "metadata": {"name": LEASE},
        "spec": {
            "holderIdentity": holder,
            "leaseDurationSeconds": 30,
            "acquireTime": stamp,
            "renewTime": stamp,
            "leaseTransitions": transitions,
        },
    }
    current = read_lease(leases)
    if current is None:
        return leases.create_namespaced_lease(NAMESPACE, body)
    body["metadata"]["resourceVersion"] = current.metadata.resource_version
    return leases.replace_namespaced_lease(LEASE, NAMESPACE, body)


def runner(lab: LabHandle, where: Path, name: str, profile: Path, *args: str) -> list[Any]:
    """The command and environment of one runner: its own state and reports directories."""
    env = {
        **os.environ,
        **lab.env,
        "LAB_STATE_DIR": str(lab.state_dir),
        "OPSCHECK_STATE_DIR": str(where / name / "state"),
        "PYTHONPATH": str(ROOT),
    }
    command = [
        sys.executable,
        "-m",
        "pytest",
        "--rootdir",
        str(ROOT),
        "-c",
        str(ROOT / "pyproject.toml"),
        str(ROOT / "checks"),
        "--config",
        str(profile),
        "--env",
        "lab-test",
        "--reports-dir",
        str(where / name / "reports"),
        *args,
    ]
    return [command, env]


def wait_until(condition: Callable[[], Any], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (found := condition()):
        assert time.monotonic() < deadline, f"timed out after {timeout_s}s waiting for {what}"
        time.sleep(0.1)
    return found


def start_slow_sweep(
    lab: LabHandle, leases: client.CoordinationV1Api, where: Path, window_s: int
) -> tuple[subprocess.Popen[str], client.V1Lease, Path]:
    """Cron's sweep, made long by ERR-101's window (two scrape rounds `window_s` apart),
    started in its own process; returned once it holds the Lease."""
    slow = layered_profile(where, lab, {**LEASE_PROFILE, "errors": {"scrape_interval_s": window_s}})
    command, env = runner(lab, where, "cron", slow, "-k", "ERR-101")
    cron = subprocess.Popen(
        command, env=env, cwd=where, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        held = wait_until(
            lambda: (
                (lease := read_lease(leases))
                and f"/{cron.pid}/" in (lease.spec.holder_identity or "")
                and lease
            ),
            60,
            "cron's sweep to hold the Lease",
        )
    except BaseException:
        cron.kill()
        cron.communicate()
        raise
    return cron, held, slow


def test_two_runners_never_sweep_at_once(
    lab: LabHandle, leases: client.CoordinationV1Api, tmp_path: Path
) -> None:
    """Cron's sweep holds the Lease; CI's is refused, naming it, until cron's ends."""
    before = read_lease(leases)
    transitions = 0 if before is None else before.spec.lease_transitions + 1
    # A window long enough for CI's process to start on a busy machine while cron sweeps.
    cron, held, slow = start_slow_sweep(lab, leases, tmp_path, 30)
    try:
        holder = held.spec.holder_identity
        assert held.spec.lease_duration_seconds == DURATION_S
        assert held.spec.lease_transitions == transitions
        assert held.metadata.annotations["opscheck.rolerabbit.io/profile"] == "lab-test"

        command, env = runner(lab, tmp_path, "ci", slow, "-k", "DB-101")
        ci = subprocess.run(
            command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
        assert cron.poll() is None, "cron's sweep was still running when CI's was refused"
        assert ci.returncode == pytest.ExitCode.USAGE_ERROR, ci.stdout + ci.stderr
        assert (
            f"ERROR: another sweep of namespace {NAMESPACE} is in progress: Lease {LEASE} held "
            f"by {holder} (profile 'lab-test') since "
        ) in ci.stderr
        assert "renewed " in ci.stderr and "kubectl -n rolerabbit-production get lease" in ci.stderr
        assert not (tmp_path / "ci" / "reports" / "summary.json").exists(), "nothing ran"

        # Renewed while the sweep runs: same holder and acquireTime, a later renewTime.
        renewed = wait_until(
            lambda: (
                (lease := read_lease(leases))
                and lease.spec.renew_time > held.spec.renew_time
                and lease
            ),
            DURATION_S,
            "a renewal of cron's Lease",
        )
        assert renewed.spec.holder_identity == holder
        assert renewed.spec.acquire_time == held.spec.acquire_time
    finally:
        output, _ = cron.communicate(timeout=180)
    assert cron.returncode in (0, 1), output  # ERR-101's verdict is not this test's
    assert "another sweep" not in output and "WARNING sweep Lease" not in output, output

    released = read_lease(leases)
    assert released is not None and not released.spec.holder_identity, "released at the end"
    assert released.spec.lease_transitions == transitions

    again = subprocess.run(
        command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert again.returncode == 0, again.stdout + again.stderr
    after = read_lease(leases)
    assert after is not None and not after.spec.holder_identity
    assert after.spec.lease_transitions == transitions + 1, "CI's sweep took it over"


def test_a_dead_runners_expired_lease_is_taken_over(
    run_checks: Run, leases: client.CoordinationV1Api
) -> None:
    dead = "cron-pod-7f9c/4242/0123456789ab"
    old = put_lease(leases, dead, datetime.now(UTC) - timedelta(minutes=5), transitions=5)
    profile = yaml.safe_dump(LEASE_PROFILE)
    result = run_checks("-k", "DB-101", profile=profile)
    assert result.outcome.ret == 0, result.stdout
    lease = read_lease(leases)
    assert lease is not None and not lease.spec.holder_identity
    assert lease.spec.lease_transitions == 6
    assert lease.spec.acquire_time > old.spec.acquire_time + timedelta(minutes=4)


def test_a_live_lease_refuses_sweeps_and_dry_runs(
    run_checks: Run, leases: client.CoordinationV1Api
) -> None:
    live = put_lease(leases, "ci-runner-3/99/fedcba987654", datetime.now(UTC), transitions=1)
    profile = yaml.safe_dump(LEASE_PROFILE)
    for args in (("-k", "DB-101"), ("-k", "DB-104", "--fix", "--dry-run")):
        result = run_checks(*args, profile=profile)
        assert result.outcome.ret == pytest.ExitCode.USAGE_ERROR, result.stdout
        result.outcome.stderr.fnmatch_lines(
            [
                "ERROR: another sweep of namespace rolerabbit-production is in progress: Lease "
                "opscheck-sweep held by ci-runner-3/99/fedcba987654 since *, renewed *s ago, "
                "expires in *s unless renewed; wait for it to finish*"
            ]
        )
    unchanged = read_lease(leases)
    assert unchanged is not None
    assert unchanged.metadata.resource_version == live.metadata.resource_version


def test_a_dry_run_reads_the_lease_and_writes_nothing(
    run_checks: Run, leases: client.CoordinationV1Api
) -> None:
    free = put_lease(leases, "", datetime.now(UTC), transitions=2)  # released
    result = run_checks("-k", "DB-104", "--fix", "--dry-run", profile=yaml.safe_dump(LEASE_PROFILE))
    assert result.outcome.ret in (0, 1), result.stdout
    lease = read_lease(leases)
    assert lease is not None and lease.metadata.resource_version == free.metadata.resource_version


@pytest.fixture
def silent_api(tmp_path: Path) -> Iterator[Path]:
    """A kubeconfig whose API server accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    port = server.getsockname()[1]
    try:
        yield write_kubeconfig(tmp_path / "kubeconfig", f"http://127.0.0.1:{port}")
    finally:
        server.close()


def test_an_unreachable_api_fails_clearly_within_its_timeouts(
    run_checks: Run, silent_api: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(silent_api))
    stop = {**LEASE_PROFILE, "sweep_lease": {"duration_s": DURATION_S, "if_unavailable": "stop"}}
    started = time.monotonic()
    refused = run_checks("-k", "DB-101", profile=yaml.safe_dump(stop))
    assert time.monotonic() - started < 30
    assert refused.outcome.ret == pytest.ExitCode.USAGE_ERROR, refused.stdout
    refused.outcome.stderr.fnmatch_lines(
        [
            "ERROR: cannot take the sweep Lease rolerabbit-production/opscheck-sweep: the "
            "Kubernetes API at http://127.0.0.1:*: no answer within 4s; sweep refused "
            "(sweep_lease.if_unavailable: stop)"
        ]
    )
    # The default sweeps anyway, saying only the local lock guards it.
    warned = run_checks("-k", "DB-101", profile=yaml.safe_dump(LEASE_PROFILE))
    assert warned.outcome.ret == 0, warned.stdout
    warned.outcome.stderr.fnmatch_lines(
        [
            "WARNING sweep Lease rolerabbit-production/opscheck-sweep not taken (the Kubernetes "
            "API at http://127.0.0.1:*: no answer within 4s): only this machine's lock keeps "
            "other sweeps of this target out"
        ]
    )


def test_a_lease_deleted_mid_sweep_is_reported_lost(
    lab: LabHandle, leases: client.CoordinationV1Api, tmp_path: Path
) -> None:
    """Clearing a stuck Lease with kubectl, as the README says, while its holder still runs:
    the holder's next renewal finds it gone and its run says so."""
    cron, _, _ = start_slow_sweep(lab, leases, tmp_path, 10)
    try:
        deleted = subprocess.run(
            [str(KUBECTL), "delete", "lease", LEASE, "-n", NAMESPACE],
            env={**os.environ, "KUBECONFIG": lab.env["KUBECONFIG"]},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert deleted.returncode == 0, deleted.stderr
        assert f'lease.coordination.k8s.io "{LEASE}" deleted' in deleted.stdout
    finally:
        output, _ = cron.communicate(timeout=180)
    assert cron.returncode in (0, 1), output
    assert f"WARNING sweep Lease {NAMESPACE}/{LEASE} lost at " in output
    assert "(HTTP 404)" in output, output
    assert read_lease(leases) is None, "a lost Lease is not written again at the end"
