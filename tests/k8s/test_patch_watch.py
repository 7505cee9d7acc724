"""Patches (merge, JSON, strategic), scale/status subresources and watches."""

from __future__ import annotations

import json
import threading
import urllib.request
from typing import Any

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from lab.k8s.strategic import strategic_merge
from tests.k8s.support import NAMESPACE, Lab, wait_for


def test_strategic_merge_keys_and_directives() -> None:
    original = {
        "containers": [
            {
                "name": "api",
                "image": "a:1",
                "ports": [{"containerPort": 3000}],
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
            },
            {"name": "sidecar", "image": "s:1"},
        ],
        "volumes": [{"name": "v1"}, {"name": "v2"}],
        "finalizers": ["x"],
    }
    patch: dict[str, Any] = {
        "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "api"}],
        "containers": [
            {
                "name": "api",
                "image": "a:2",
                "env": [{"name": "B", "value": "3"}, {"name": "A", "$patch": "delete"}],
            }
        ],
        "volumes": [{"name": "v2", "$patch": "delete"}],
        "finalizers": ["y"],
    }
    merged = strategic_merge(original, patch)
    api = next(c for c in merged["containers"] if c["name"] == "api")
    assert [c["name"] for c in merged["containers"]] == ["sidecar", "api"]
    assert api["image"] == "a:2" and api["ports"] == [{"containerPort": 3000}]
    assert api["env"] == [{"name": "B", "value": "3"}]
    assert merged["volumes"] == [{"name": "v1"}]
    assert merged["finalizers"] == ["x", "y"]
    assert strategic_merge({"a": {"b": 1, "c": 2}}, {"a": {"$patch": "replace", "d": 3}}) == {
        "a": {"d": 3}
    }


def test_patch_types_through_the_api(
    emulator: Lab, core: client.CoreV1Api, api: client.ApiClient
) -> None:
    core.create_namespaced_config_map(
        NAMESPACE,
        client.V1ConfigMap(metadata=client.V1ObjectMeta(name="patched"), data={"a": "1", "b": "2"}),
    )
    core.patch_namespaced_config_map(
        "patched", NAMESPACE, {"data": {"a": None, "c": "3"}}
    )  # strategic by default
    assert core.read_namespaced_config_map("patched", NAMESPACE).data == {"b": "2", "c": "3"}

    for content_type, body, expected in (
        ("application/merge-patch+json", {"data": {"b": "20"}}, {"b": "20", "c": "3"}),
        (
            "application/json-patch+json",
            [{"op": "add", "path": "/data/d", "value": "4"}, {"op": "remove", "path": "/data/c"}],
            {"b": "20", "d": "4"},
        ),
    ):
        core.patch_namespaced_config_map("patched", NAMESPACE, body, _content_type=content_type)
        assert core.read_namespaced_config_map("patched", NAMESPACE).data == expected

    failing_test = [{"op": "test", "path": "/data/b", "value": "nope"}]
    with pytest.raises(ApiException) as failed_test:
        core.patch_namespaced_config_map(
            "patched", NAMESPACE, failing_test, _content_type="application/json-patch+json"
        )
    assert failed_test.value.status == 422


def test_scale_and_status_subresources(fresh: Lab, apps: client.AppsV1Api) -> None:
    scale = apps.read_namespaced_deployment_scale("rolerabbit-deployment-worker", NAMESPACE)
    assert scale.spec.replicas == 2 and scale.status.selector == "app=rolerabbit-deployment-worker"
    before = apps.read_namespaced_deployment(
        "rolerabbit-deployment-worker", NAMESPACE
    ).metadata.generation
    apps.patch_namespaced_deployment_scale(
        "rolerabbit-deployment-worker", NAMESPACE, {"spec": {"replicas": 4}}
    )
    deployment = apps.read_namespaced_deployment("rolerabbit-deployment-worker", NAMESPACE)
    assert deployment.spec.replicas == 4 and deployment.metadata.generation == before + 1
    scale = apps.read_namespaced_deployment_scale("rolerabbit-deployment-worker", NAMESPACE)
    scale.spec.replicas = 1
    scale.metadata.resource_version = None  # the controller keeps writing status: no precondition
    apps.replace_namespaced_deployment_scale("rolerabbit-deployment-worker", NAMESPACE, scale)
    wait_for(
        lambda: (
            apps.read_namespaced_deployment_status(
                "rolerabbit-deployment-worker", NAMESPACE
            ).status.replicas
            == 1
        ),
        what="scale down to 1",
    )
    # Writing spec through /status is ignored; writing status through the main resource too.
    status = apps.read_namespaced_deployment_status("rolerabbit-api", NAMESPACE)
    assert status.status.observed_generation == status.metadata.generation


def _stream(
    emulator: Lab, query: str, stop_after: int, timeout: float = 10
) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    with urllib.request.urlopen(
        f"{emulator.url}/api/v1/namespaces/{NAMESPACE}/configmaps?{query}", timeout=timeout
    ) as response:
        for line in response:
            events.append(json.loads(line))
            if len(events) >= stop_after:
                break
    return events


def test_watch_with_python_client_resume_and_selectors(
    emulator: Lab, core: client.CoreV1Api
) -> None:
    listed = core.list_namespaced_config_map(NAMESPACE, label_selector="watch=me")
    start = listed.metadata.resource_version

    def writer() -> None:
        core.create_namespaced_config_map(
            NAMESPACE,
            client.V1ConfigMap(metadata=client.V1ObjectMeta(name="w1", labels={"watch": "me"})),
        )
        core.create_namespaced_config_map(
            NAMESPACE, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="ignored"))
        )
        core.patch_namespaced_config_map("w1", NAMESPACE, {"data": {"k": "v"}})
        core.patch_namespaced_config_map("w1", NAMESPACE, {"metadata": {"labels": {"watch": "no"}}})

    threading.Timer(0.2, writer).start()
    seen = []
    watcher = watch.Watch()
    for event in watcher.stream(
        core.list_namespaced_config_map,
        NAMESPACE,
        label_selector="watch=me",
        resource_version=start,
        timeout_seconds=5,
    ):
        seen.append((event["type"], event["object"].metadata.name))
        if len(seen) == 3:
            watcher.stop()
    assert seen == [("ADDED", "w1"), ("MODIFIED", "w1"), ("DELETED", "w1")]

    # Resume from the first change: only what came after it.
    first = core.read_namespaced_config_map("ignored", NAMESPACE).metadata.resource_version
    resumed = _stream(emulator, f"watch=1&resourceVersion={first}&timeoutSeconds=2", stop_after=2)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in resumed] == [
        ("MODIFIED", "w1"),
        ("MODIFIED", "w1"),
    ]


def test_watch_initial_events_and_bookmarks(emulator: Lab, core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map(
        NAMESPACE,
        client.V1ConfigMap(metadata=client.V1ObjectMeta(name="initial", labels={"b": "1"})),
    )
    events = _stream(
        emulator,
        "watch=true&labelSelector=b%3D1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true",
        stop_after=3,
    )
    assert events[0]["type"] == "ADDED" and events[0]["object"]["metadata"]["name"] == "initial"
    assert events[1]["type"] == "BOOKMARK"
    assert events[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert events[2]["type"] == "BOOKMARK"  # periodic, while nothing changes
    assert int(events[2]["object"]["metadata"]["resourceVersion"]) >= int(
        events[1]["object"]["metadata"]["resourceVersion"]
    )


def test_watch_too_old_resource_version_is_gone(emulator: Lab, core: client.CoreV1Api) -> None:
    store = emulator.emulator.cluster.store
    with store.lock:
        store.compacted_rv = store.resource_version  # pretend the history was trimmed
    with pytest.raises(ApiException) as gone:
        for _ in watch.Watch().stream(
            core.list_namespaced_config_map, NAMESPACE, resource_version="1", timeout_seconds=2
        ):
            pass
    assert gone.value.status == 410
    assert json.loads(gone.value.body)["reason"] == "Expired"
