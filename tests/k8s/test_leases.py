"""coordination.k8s.io/v1 Leases: served like any type, and written with optimistic concurrency.

Runners coordinate through a Lease by updating it with the resourceVersion they read: a
write on a stale version must answer 409 Conflict, as the API server does, or two runners
taking over an expired Lease at once would both believe they hold it.
"""

from __future__ import annotations

import json

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.k8s.support import NAMESPACE, Lab, pod_uids

NAME = "some-runner-lease"


def _lease(holder: str, transitions: int = 0) -> dict[str, object]:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": NAME},
        "spec": {
            "holderIdentity": holder,
            "leaseDurationSeconds": 15,
            "acquireTime": "2026-11-30T10:00:00.000000Z",
            "renewTime": "2026-11-30T10:00:05.123456Z",
            "leaseTransitions": transitions,
        },
    }


@pytest.fixture
def leases(api: client.ApiClient) -> client.CoordinationV1Api:
    return client.CoordinationV1Api(api)


def test_a_stale_update_of_a_lease_is_a_conflict(
    fresh: Lab, leases: client.CoordinationV1Api
) -> None:
    created = leases.create_namespaced_lease(NAMESPACE, _lease("runner-a"))
    assert created.spec.holder_identity == "runner-a"
    assert created.spec.renew_time.microsecond == 123456  # MicroTime kept to the microsecond
    with pytest.raises(ApiException) as exists:
        leases.create_namespaced_lease(NAMESPACE, _lease("runner-b"))
    assert exists.value.status == 409 and json.loads(exists.value.body)["reason"] == "AlreadyExists"

    # Two runners read the same version; the first update wins, the second is refused.
    version = created.metadata.resource_version
    first = _lease("runner-b", 1)
    first["metadata"]["resourceVersion"] = version  # type: ignore[index]
    won = leases.replace_namespaced_lease(NAME, NAMESPACE, first)
    assert won.spec.holder_identity == "runner-b" and won.metadata.resource_version != version
    second = _lease("runner-c", 1)
    second["metadata"]["resourceVersion"] = version  # type: ignore[index]
    with pytest.raises(ApiException) as conflict:
        leases.replace_namespaced_lease(NAME, NAMESPACE, second)
    assert conflict.value.status == 409 and json.loads(conflict.value.body)["reason"] == "Conflict"
    assert leases.read_namespaced_lease(NAME, NAMESPACE).spec.holder_identity == "runner-b"

    table = fresh.kubectl("get", "leases", "-n", NAMESPACE).stdout.splitlines()
    assert table[0].split() == ["NAME", "HOLDER", "AGE"]
    assert table[1].split()[:2] == [NAME, "runner-b"]
    shown = json.loads(fresh.kubectl("get", "lease", NAME, "-n", NAMESPACE, "-o", "json").stdout)
    assert shown["spec"]["leaseTransitions"] == 1
    fresh.kubectl("delete", "lease", NAME, "-n", NAMESPACE)
    assert leases.list_namespaced_lease(NAMESPACE).items == []


def test_a_conditional_reset_after_only_a_lease_write_empties_leases_and_keeps_the_pods(
    fresh: Lab, leases: client.CoordinationV1Api, core: client.CoreV1Api
) -> None:
    # Emptying the bucket gives back the seeded state only because the seed makes none.
    assert leases.list_lease_for_all_namespaces().items == []
    pods = pod_uids(core)
    leases.create_namespaced_lease(NAMESPACE, _lease("runner-a"))
    answer = fresh.post("/_lab/reset", {"if_changed": True})
    assert answer == {"ok": True, "reseeded": False, "removed": [f"leases/{NAME}"]}
    assert leases.list_namespaced_lease(NAMESPACE).items == []
    assert pod_uids(core) == pods  # no pod replaced: the seed's workloads were untouched
    # Nothing written since: again nothing to re-seed, and nothing left to remove.
    assert fresh.post("/_lab/reset", {"if_changed": True})["removed"] == []


def test_a_conditional_reset_after_a_lease_and_a_workload_write_reseeds(
    fresh: Lab, leases: client.CoordinationV1Api, core: client.CoreV1Api
) -> None:
    pods = pod_uids(core)
    leases.create_namespaced_lease(NAMESPACE, _lease("runner-a"))
    core.patch_namespaced_config_map(
        "rolerabbit-config", NAMESPACE, {"metadata": {"labels": {"touched": "yes"}}}
    )
    assert fresh.post("/_lab/reset", {"if_changed": True}) == {"ok": True, "reseeded": True}
    assert leases.list_namespaced_lease(NAMESPACE).items == []
    assert not pod_uids(core) & pods  # every pod is the seed's again, new
