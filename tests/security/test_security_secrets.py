"""The secret-hygiene checks (SEC-101..104) against the lab: green when healthy, red with
their id and message on their fault, inconclusive when they cannot see, and no Secret's
value ever read.

The lab's faults change the emulator through its API (lab/faults/security/); refusals a
real cluster gives (RBAC 403, a server without metadata-only lists) come from `Gatekeeper`,
a proxy in front of a private emulator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from fixtures.kubernetes import Kube
from fixtures.kubernetes_resources import METADATA_LIST, SECRET_METADATA
from lab.faults.security.secrets import PLAIN_VALUE
from lab.k8s.kubeconfig import write_kubeconfig
from lab.k8s.server import start_emulator
from lab.testing import LabHandle
from tests.catalogue import check_ids
from tests.deployment.deployment_support import (
    API,
    CORE,
    NAMESPACE,
    WORKER,
    Emulator,
    PrivateEmulator,
    Run,
    private_profile,
    reported,
    statuses,
    use_lab_env,
    wait_until,
    without_lease,
)
from tests.deployment.gatekeeper import Gatekeeper, Refusal, forbidden

CHECKS = ("SEC-101", "SEC-102", "SEC-103", "SEC-104")
SUITE = "rolerabbit-opscheck"
Fault = Callable[..., dict[str, Any]]


@pytest.fixture(autouse=True)
def lab_env(lab: LabHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    use_lab_env(lab, monkeypatch)


def test_the_catalogue_has_the_secret_checks() -> None:
    assert set(CHECKS) <= set(check_ids("security"))


def test_the_secret_checks_pass_on_the_healthy_lab(run_checks: Run, lab: LabHandle) -> None:
    emulator = Emulator(lab)
    emulator.reset_stats()
    result = run_checks("-k", " or ".join(CHECKS))
    assert statuses(result) == dict.fromkeys(CHECKS, "passed"), result.stdout
    # Secrets were read by name (the two the profile and the Deployments name), as metadata
    # only, never listed; the rest from the sweep's one LIST each.
    query = f"/_lab/stats?agent={SUITE}&by=shape"
    shapes = emulator.call("GET", query)
    assert shapes["metadata"] == {"get secrets": 2}, shapes
    assert without_lease(shapes["object"]) == {"list deployments": 1, "list serviceaccounts": 1}


# (fault, check, lines of its failure)
CASES: list[tuple[str, str, list[str]]] = [
    (
        "stale-secret",
        "SEC-101",
        [
            "[SEC-101] 1 of 2 named Secrets older than the rotation age of 90 days "
            "(rolerabbit-secrets: 400 days)",
            "evidence: secret/rolerabbit-secrets: rotated 400 days ago (",
            "evidence: secret/regcred: created (never annotated as rotated) ",
            "evidence: record it: kubectl annotate secret rolerabbit-secrets -n "
            "rolerabbit-production rolerabbit.io/rotated-at=$(date -u +%Y-%m-%dT%H:%M:%SZ) "
            "--overwrite",
        ],
    ),
    (
        "plaintext-secret-env",
        "SEC-102",
        [
            "[SEC-102] 1 secret-like env vars set as plain text in the pod templates of 1 "
            "Deployments (rolerabbit-api; threshold 0)",
            "evidence: deployment/rolerabbit-api container api: STRIPE_API_KEY set with a literal "
            "value (a secret-like name), not valueFrom.secretKeyRef",
            "evidence: read it from there: kubectl set env deployment/rolerabbit-api -c api -n "
            "rolerabbit-production --from=secret/rolerabbit-secrets --keys=STRIPE_API_KEY",
        ],
    ),
    (
        "token-automounted",
        "SEC-103",
        [
            "[SEC-103] 2 Deployments mount a service-account token they do not need "
            "(rolerabbit-api, rolerabbit-deployment-worker; API access: none)",
            "evidence: deployment/rolerabbit-api: token mounted (neither the pod template nor "
            "serviceaccount default sets it false)",
        ],
    ),
    (
        "dangling-pull-secret",
        "SEC-104",
        [
            "[SEC-104] 1 image pull secret references of Deployments name no Secret "
            "(regcred-retired; threshold 0)",
            "evidence: deployment/rolerabbit-deployment-worker: imagePullSecrets names "
            "secret/regcred-retired, not found in namespace rolerabbit-production",
        ],
    ),
]


@pytest.mark.parametrize(("name", "check", "lines"), CASES, ids=[c[0] for c in CASES])
def test_each_fault_fails_its_check_and_only_it(
    run_checks: Run, fault: Fault, name: str, check: str, lines: list[str]
) -> None:
    fault(name)
    result = run_checks("-k", " or ".join(CHECKS))
    expected = {c: "failed" if c == check else "passed" for c in CHECKS}
    assert statuses(result) == expected, result.stdout
    for line in lines:
        assert line in result.stdout, result.stdout
    assert (
        "runbook: Security Incidents (critical, respond immediately, escalate immediately)"
        in result.stdout
    )
    assert PLAIN_VALUE not in result.stdout + reported(result)


def test_a_metadata_list_of_secrets_carries_no_value(lab: LabHandle) -> None:
    configuration = k8s.Configuration()
    k8s_config.load_kube_config(lab.env["KUBECONFIG"], client_configuration=configuration)
    kube = Kube(k8s.ApiClient(configuration), (5.0, 10.0), configuration.host)
    try:
        page = kube.call("GET", f"{CORE}/secrets", accept=METADATA_LIST)
        assert (page["kind"], page["apiVersion"]) == ("PartialObjectMetadataList", "meta.k8s.io/v1")
        assert {i["metadata"]["name"] for i in page["items"]} >= {"rolerabbit-secrets", "regcred"}
        for item in page["items"]:
            assert not {"data", "stringData", "type"} & set(item), sorted(item)
        listed = kube.list(SECRET_METADATA, NAMESPACE, 1)  # paged: one Secret a page
        assert sorted(s["metadata"]["name"] for s in listed) == sorted(
            i["metadata"]["name"] for i in page["items"]
        )
        assert all(set(s) == {"metadata"} for s in listed)
    finally:
        kube.api.close()


# -- what a namespaced monitoring role may meet ---------------------------------------------


@pytest.fixture
def private(tmp_path: Path) -> Iterator[PrivateEmulator]:
    with start_emulator(pod_startup_seconds=0.2) as server:
        view = PrivateEmulator(server.url)
        wait_until(lambda: view.rolled_out(API) and view.rolled_out(WORKER), 30, "seeded pods")
        yield view


def gated_sweep(
    run_checks: Run,
    private: PrivateEmulator,
    refusals: list[Refusal],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    checks: tuple[str, ...] = CHECKS,
) -> tuple[dict[str, str], str]:
    with Gatekeeper(private.url, refusals) as gate:
        monkeypatch.setenv("KUBECONFIG", str(write_kubeconfig(tmp_path / "kubeconfig", gate.url)))
        args = private_profile(tmp_path, "http://127.0.0.1:9")
        result = run_checks("-k", " or ".join(checks), *args)
    return statuses(result), reported(result)


def test_without_rights_on_secrets_or_serviceaccounts_they_are_inconclusive(
    run_checks: Run, private: PrivateEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    refusals = [
        forbidden(
            rf"/api/v1/namespaces/{NAMESPACE}/secrets(/[^/]+)?", "secrets", f"in {NAMESPACE}", "get"
        ),
        forbidden(
            rf"/api/v1/namespaces/{NAMESPACE}/serviceaccounts", "serviceaccounts", f"in {NAMESPACE}"
        ),
    ]
    got, text = gated_sweep(run_checks, private, refusals, tmp_path, monkeypatch)
    assert got == {
        "SEC-101": "inconclusive",
        "SEC-102": "passed",
        "SEC-103": "inconclusive",
        "SEC-104": "inconclusive",
    }
    assert (
        "inconclusive: cannot judge the rotation of rolerabbit-secrets, regcred: no Secrets: "
        "getting secrets in namespace rolerabbit-production is forbidden (HTTP 403) — grant "
        "get on secrets to this user (kubectl auth can-i get secrets -n rolerabbit-production)"
    ) in text
    assert (
        "inconclusive: cannot tell whether rolerabbit-api, rolerabbit-deployment-worker mount a "
        "service-account token: no ServiceAccounts: listing serviceaccounts in namespace "
        "rolerabbit-production is forbidden (HTTP 403)"
    ) in text


def test_a_server_without_metadata_only_reads_leaves_them_inconclusive(
    run_checks: Run, private: PrivateEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    refusal = Refusal(
        rf"/api/v1/namespaces/{NAMESPACE}/secrets/[^/]+", 406, "only application/json is served"
    )
    got, text = gated_sweep(run_checks, private, [refusal], tmp_path, monkeypatch)
    assert got["SEC-101"] == got["SEC-104"] == "inconclusive"
    assert (
        "no Secrets: the core API answered 406 — the API server does not serve metadata only "
        "(PartialObjectMetadata), and the suite never reads Secrets' values instead"
    ) in text


def test_without_rights_on_networkpolicies_expired_blocks_are_inconclusive(
    run_checks: Run, private: PrivateEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SEC-151 (the containment blocks) reads the suite's NetworkPolicies: unseen, never green.
    path = rf"/apis/networking.k8s.io/v1/namespaces/{NAMESPACE}/networkpolicies"
    refusal = forbidden(path, "networkpolicies", f"in {NAMESPACE}")
    got, text = gated_sweep(run_checks, private, [refusal], tmp_path, monkeypatch, ("SEC-151",))
    assert got == {"SEC-151": "inconclusive"}, text
    assert "[SEC-151] inconclusive: " in text and "forbidden (HTTP 403)" in text, text
