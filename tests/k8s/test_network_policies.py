"""NetworkPolicies (networking.k8s.io/v1) served by the emulator: the official client's
create, list, get, patch, watch and delete, and kubectl's table, apply and delete."""

from __future__ import annotations

import json
import threading
from typing import Any

from kubernetes import client, watch

from tests.k8s.support import NAMESPACE, Lab

NS = ("-n", NAMESPACE)


def policy(name: str, blocked: str) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "test"}},
        "spec": {
            "podSelector": {"matchLabels": {"app": "rolerabbit-api"}},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": [blocked]}}]}],
        },
    }


def test_the_official_client_creates_lists_patches_watches_and_deletes(
    fresh: Lab, api: client.ApiClient
) -> None:
    net = client.NetworkingV1Api(api)
    events: list[tuple[str, str]] = []
    started = threading.Event()

    def follow() -> None:
        w = watch.Watch()
        started.set()
        for event in w.stream(net.list_namespaced_network_policy, NAMESPACE, timeout_seconds=5):
            events.append((event["type"], event["object"].metadata.name))
            if event["type"] == "DELETED":
                w.stop()

    watcher = threading.Thread(target=follow, daemon=True)
    watcher.start()
    started.wait(5)

    made = net.create_namespaced_network_policy(NAMESPACE, policy("block-a", "203.0.113.7/32"))
    assert made.metadata.uid and made.metadata.creation_timestamp is not None
    assert made.spec.ingress[0]._from[0].ip_block._except == ["203.0.113.7/32"]

    listed = net.list_namespaced_network_policy(
        NAMESPACE, label_selector="app.kubernetes.io/managed-by=test"
    )
    assert [p.metadata.name for p in listed.items] == ["block-a"]
    assert listed.kind == "NetworkPolicyList" and listed.api_version == "networking.k8s.io/v1"

    patched = net.patch_namespaced_network_policy(
        "block-a",
        NAMESPACE,
        {"metadata": {"annotations": {"expires": "2026-12-01T00:00:00Z"}}},
    )
    assert patched.metadata.annotations == {"expires": "2026-12-01T00:00:00Z"}
    assert int(patched.metadata.resource_version) > int(made.metadata.resource_version)
    got = net.read_namespaced_network_policy("block-a", NAMESPACE)
    assert got.spec.pod_selector.match_labels == {"app": "rolerabbit-api"}

    net.delete_namespaced_network_policy("block-a", NAMESPACE)
    watcher.join(10)
    assert events == [("ADDED", "block-a"), ("MODIFIED", "block-a"), ("DELETED", "block-a")]
    assert net.list_namespaced_network_policy(NAMESPACE).items == []


def test_kubectl_gets_applies_and_deletes_network_policies(fresh: Lab, tmp_path: Any) -> None:
    manifest = tmp_path / "policy.json"
    manifest.write_text(json.dumps(policy("block-b", "198.51.100.9/32")))
    applied = fresh.kubectl("apply", "-f", str(manifest), *NS).stdout
    assert applied.strip() == "networkpolicy.networking.k8s.io/block-b created"

    table = fresh.kubectl("get", "netpol", *NS).stdout.splitlines()
    assert table[0].split() == ["NAME", "POD-SELECTOR", "AGE"]
    assert table[1].split()[:2] == ["block-b", "app=rolerabbit-api"]

    shown = json.loads(fresh.kubectl("get", "networkpolicy", "block-b", "-o", "json", *NS).stdout)
    assert shown["spec"]["ingress"][0]["from"][0]["ipBlock"]["except"] == ["198.51.100.9/32"]

    annotated = fresh.kubectl(
        "annotate", "networkpolicy", "block-b", "expires=2026-12-01T00:00:00Z", *NS
    ).stdout
    assert "networkpolicy.networking.k8s.io/block-b annotated" in annotated

    deleted = fresh.kubectl("delete", "networkpolicy", "block-b", *NS).stdout
    assert deleted.startswith('networkpolicy.networking.k8s.io "block-b" deleted')
    assert "No resources found" in fresh.kubectl("get", "netpol", *NS).stderr
