"""Metadata-only reads: `as=PartialObjectMetadataList` and `as=PartialObjectMetadata`.

A real API server shows any resource as its metadata only when the Accept header asks
(client-go's metadata client and the controllers built on it do); the suite lists Secrets that way so no value ever reaches
it. Asked through the official client's own call, as the suite asks; counted by shape in
/_lab/stats. The namespace's ServiceAccounts are seeded as the controller would.
"""

from __future__ import annotations

import json
from typing import Any

from kubernetes import client

from tests.k8s.support import NAMESPACE, Lab

LIST_AS_METADATA = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
GET_AS_METADATA = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
SECRETS = f"/api/v1/namespaces/{NAMESPACE}/secrets"


def call(api: client.ApiClient, path: str, accept: str) -> Any:
    """One GET through the official client's raw call, answered as parsed JSON."""
    method, url, headers, body, _ = api.param_serialize(
        "GET", path, header_params={"Accept": accept}
    )
    response = api.call_api(method, url, header_params=headers, body=body)
    return json.loads(response.read())


def test_a_metadata_list_of_secrets_carries_no_values(fresh: Lab, api: client.ApiClient) -> None:
    listing = call(api, SECRETS, LIST_AS_METADATA)
    assert (listing["kind"], listing["apiVersion"]) == (
        "PartialObjectMetadataList",
        "meta.k8s.io/v1",
    )
    assert listing["metadata"]["resourceVersion"]
    names = {item["metadata"]["name"] for item in listing["items"]}
    assert {"rolerabbit-secrets", "regcred"} <= names
    for item in listing["items"]:
        assert set(item) == {"kind", "apiVersion", "metadata"}, sorted(item)
        assert item["kind"] == "PartialObjectMetadata"
        assert item["metadata"]["creationTimestamp"]
    rotated = next(i for i in listing["items"] if i["metadata"]["name"] == "rolerabbit-secrets")
    assert "rolerabbit.io/rotated-at" in rotated["metadata"]["annotations"]
    full = call(api, SECRETS, "application/json")
    assert full["kind"] == "SecretList" and all("data" in item for item in full["items"])


def test_a_metadata_get_and_a_paged_metadata_list(fresh: Lab, api: client.ApiClient) -> None:
    one = call(api, f"{SECRETS}/regcred", GET_AS_METADATA)
    assert one == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": one["metadata"],
    }
    assert one["metadata"]["name"] == "regcred"
    page = call(api, f"{SECRETS}?limit=1", LIST_AS_METADATA)
    assert len(page["items"]) == 1 and page["metadata"]["continue"]
    rest = call(
        api, f"{SECRETS}?limit=10&continue={page['metadata']['continue']}", LIST_AS_METADATA
    )
    assert all(set(item) == {"kind", "apiVersion", "metadata"} for item in rest["items"])


def test_stats_count_requests_by_shape(fresh: Lab, api: client.ApiClient) -> None:
    fresh.post("/_lab/stats/reset")
    call(api, SECRETS, LIST_AS_METADATA)
    call(api, SECRETS, "application/json")
    call(api, SECRETS, "application/json;as=Table;v=v1;g=meta.k8s.io")
    assert fresh.get("/_lab/stats?shape=metadata") == {"list secrets": 1}
    assert fresh.get("/_lab/stats?by=shape") == {
        "metadata": {"list secrets": 1},
        "object": {"list secrets": 1},
        "table": {"list secrets": 1},
    }


def test_every_namespace_has_its_default_service_account(
    fresh: Lab, core: client.CoreV1Api
) -> None:
    accounts = core.list_namespaced_service_account(NAMESPACE).items
    assert [(a.metadata.name, a.automount_service_account_token) for a in accounts] == [
        ("default", False)
    ]
    assert core.read_namespaced_service_account("default", "default").metadata.name == "default"
