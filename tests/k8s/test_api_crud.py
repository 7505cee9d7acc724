"""CRUD, errors, selectors and pagination through the official Python client."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from lab.k8s.kubeconfig import write_kubeconfig
from lab.k8s.server import start_emulator
from tests.k8s.support import NAMESPACE, Lab, api_client, wait_for


def _configmap(name: str, **data: str) -> client.V1ConfigMap:
    return client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name=name, labels={"tier": "test"}), data=data
    )


def test_discovery_lists_groups_and_resources(api: client.ApiClient) -> None:
    groups = {g.name for g in client.ApisApi(api).get_api_versions().groups}
    assert {"apps", "events.k8s.io", "metrics.k8s.io", "networking.k8s.io"} <= groups
    core = client.CoreV1Api(api).get_api_resources()
    names = {r.name for r in core.resources}
    assert {"pods", "pods/log", "events", "configmaps", "secrets", "nodes", "endpoints"} <= names
    apps = client.AppsV1Api(api).get_api_resources()
    scale = next(r for r in apps.resources if r.name == "deployments/scale")
    assert (scale.group, scale.version, scale.kind) == ("autoscaling", "v1", "Scale")
    assert client.VersionApi(api).get_code().minor == "37"


def test_seeded_objects(fresh: Lab, core: client.CoreV1Api, apps: client.AppsV1Api) -> None:
    names = {d.metadata.name for d in apps.list_namespaced_deployment(NAMESPACE).items}
    assert names == {"rolerabbit-api", "rolerabbit-deployment-worker"}
    api = apps.read_namespaced_deployment("rolerabbit-api", NAMESPACE)
    container = api.spec.template.spec.containers[0]
    assert container.image == "ghcr.io/rolerabbit/app:v1.2.3"
    assert container.ports[0].container_port == 3000
    assert {e.name: e.value for e in container.env}["DB_POOL_MAX"] == "20"
    assert api.spec.template.spec.image_pull_secrets[0].name == "regcred"
    config_map = core.read_namespaced_config_map("rolerabbit-config", NAMESPACE)
    assert config_map.data["FEATURE_STRIPE_ENABLED"] == "true"
    regcred = core.read_namespaced_secret("regcred", NAMESPACE)
    assert regcred.type == "kubernetes.io/dockerconfigjson"
    import base64

    assert "ghcr.io" in json.loads(base64.b64decode(regcred.data[".dockerconfigjson"]))["auths"]
    nodes = core.list_node().items
    assert [n.metadata.name for n in nodes] == ["node-1", "node-2", "node-3"]
    assert nodes[0].status.allocatable == {
        "cpu": "4",
        "memory": "16Gi",
        "pods": "110",
        "ephemeral-storage": "100Gi",
    }
    pods = core.list_namespaced_pod(NAMESPACE, label_selector="app=rolerabbit-api").items
    assert len(pods) == 3 and all(p.status.phase == "Running" for p in pods)
    assert len({p.spec.node_name for p in pods}) == 3
    endpoints = core.read_namespaced_endpoints("rolerabbit-api", NAMESPACE)
    assert len(endpoints.subsets[0].addresses) == 3


def test_create_get_replace_delete(emulator: Lab, core: client.CoreV1Api) -> None:
    created = core.create_namespaced_config_map(NAMESPACE, _configmap("crud-a", A="1"))
    assert created.metadata.uid and created.metadata.namespace == NAMESPACE
    first_rv = int(created.metadata.resource_version)
    fetched = core.read_namespaced_config_map("crud-a", NAMESPACE)
    assert fetched.data == {"A": "1"} and fetched.metadata.creation_timestamp is not None
    fetched.data["B"] = "2"
    replaced = core.replace_namespaced_config_map("crud-a", NAMESPACE, fetched)
    assert int(replaced.metadata.resource_version) > first_rv
    assert core.read_namespaced_config_map("crud-a", NAMESPACE).data == {"A": "1", "B": "2"}
    core.delete_namespaced_config_map("crud-a", NAMESPACE)
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_config_map("crud-a", NAMESPACE)
    assert missing.value.status == 404


def test_errors_are_status_objects(
    emulator: Lab, core: client.CoreV1Api, apps: client.AppsV1Api
) -> None:
    with pytest.raises(ApiException) as not_found:
        core.read_namespaced_pod("nope", NAMESPACE)
    body = json.loads(not_found.value.body)
    assert (body["kind"], body["reason"], body["code"]) == ("Status", "NotFound", 404)
    assert body["message"] == 'pods "nope" not found'

    core.create_namespaced_config_map(NAMESPACE, _configmap("dup"))
    with pytest.raises(ApiException) as exists:
        core.create_namespaced_config_map(NAMESPACE, _configmap("dup"))
    assert exists.value.status == 409 and json.loads(exists.value.body)["reason"] == "AlreadyExists"

    stale = core.read_namespaced_config_map("dup", NAMESPACE)
    core.patch_namespaced_config_map("dup", NAMESPACE, {"data": {"x": "1"}})
    with pytest.raises(ApiException) as conflict:
        core.replace_namespaced_config_map("dup", NAMESPACE, stale)
    assert conflict.value.status == 409 and json.loads(conflict.value.body)["reason"] == "Conflict"

    with pytest.raises(ApiException) as invalid:
        core.create_namespaced_config_map(NAMESPACE, _configmap("Bad_Name"))
    status = json.loads(invalid.value.body)
    assert invalid.value.status == 422 and status["reason"] == "Invalid"
    assert status["details"]["causes"][0]["field"] == "metadata.name"

    broken = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="broken"),
        spec=client.V1DeploymentSpec(
            selector=client.V1LabelSelector(match_labels={"app": "x"}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "y"}),
                spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="i")]),
            ),
        ),
    )
    with pytest.raises(ApiException) as mismatch:
        apps.create_namespaced_deployment(NAMESPACE, broken)
    assert mismatch.value.status == 422
    assert (
        "selector` does not match template `labels`" in json.loads(mismatch.value.body)["message"]
    )


def test_unsupported_verb_is_405(emulator: Lab) -> None:
    request = urllib.request.Request(
        f"{emulator.url}/api/v1/namespaces/{NAMESPACE}/pods", method="PUT", data=b"{}"
    )
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request, timeout=5)
    assert error.value.code == 405
    assert json.loads(error.value.read())["reason"] == "MethodNotAllowed"


def test_label_selectors(emulator: Lab, core: client.CoreV1Api) -> None:
    for name, labels in {
        "sel-a": {"env": "prod", "tier": "web"},
        "sel-b": {"env": "dev"},
        "sel-c": {"tier": "db"},
    }.items():
        core.create_namespaced_config_map(
            NAMESPACE, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels=labels))
        )

    def names(selector: str) -> list[str]:
        items = core.list_namespaced_config_map(NAMESPACE, label_selector=selector).items
        return sorted(i.metadata.name for i in items if i.metadata.name.startswith("sel-"))

    assert names("env=prod") == ["sel-a"]
    assert names("env==dev") == ["sel-b"]
    assert names("env!=prod") == ["sel-b", "sel-c"]
    assert names("env in (prod,dev)") == ["sel-a", "sel-b"]
    assert names("env notin (prod)") == ["sel-b", "sel-c"]
    assert names("tier") == ["sel-a", "sel-c"]
    assert names("!tier") == ["sel-b"]
    assert names("env=prod,tier=web") == ["sel-a"]


def test_field_selectors(fresh: Lab, core: client.CoreV1Api) -> None:
    pods = core.list_namespaced_pod(NAMESPACE).items
    target = pods[0]
    by_name = core.list_namespaced_pod(
        NAMESPACE, field_selector=f"metadata.name={target.metadata.name}"
    ).items
    assert [p.metadata.name for p in by_name] == [target.metadata.name]
    not_name = core.list_namespaced_pod(
        NAMESPACE, field_selector=f"metadata.name!={target.metadata.name}"
    ).items
    assert len(not_name) == len(pods) - 1
    on_node = core.list_pod_for_all_namespaces(
        field_selector=f"spec.nodeName={target.spec.node_name}"
    ).items
    assert on_node and all(p.spec.node_name == target.spec.node_name for p in on_node)
    running = core.list_namespaced_pod(NAMESPACE, field_selector="status.phase=Running").items
    assert len(running) == len(pods)
    assert core.list_namespaced_pod(NAMESPACE, field_selector="status.phase!=Running").items == []
    events = core.list_namespaced_event(
        NAMESPACE,
        field_selector=f"involvedObject.kind=Pod,involvedObject.name={target.metadata.name}",
    ).items
    assert events and {e.involved_object.name for e in events} == {target.metadata.name}
    assert {"Scheduled", "Started"} <= {e.reason for e in events}
    with pytest.raises(ApiException) as unsupported:
        core.list_namespaced_pod(NAMESPACE, field_selector="spec.bogus=1")
    assert unsupported.value.status == 400


def test_pagination_covers_everything_once(emulator: Lab, core: client.CoreV1Api) -> None:
    for index in range(23):
        core.create_namespaced_config_map(NAMESPACE, _configmap(f"page-{index:02d}"))
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        result = core.list_namespaced_config_map(
            NAMESPACE, limit=5, _continue=token, label_selector="tier=test"
        )
        pages += 1
        seen += [i.metadata.name for i in result.items]
        assert len(result.items) <= 5
        token = result.metadata._continue
        if not token:
            break
        assert result.metadata.remaining_item_count is not None
    expected = sorted(
        i.metadata.name
        for i in core.list_namespaced_config_map(NAMESPACE, label_selector="tier=test").items
    )
    assert seen == expected and len(seen) == len(set(seen)) and pages >= 5


def test_cross_namespace_list_and_list_metadata(emulator: Lab, core: client.CoreV1Api) -> None:
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="other")))
    core.create_namespaced_config_map("other", _configmap("elsewhere"))
    everything = core.list_config_map_for_all_namespaces()
    namespaces = {i.metadata.namespace for i in everything.items}
    assert {"other", NAMESPACE} <= namespaces
    assert int(everything.metadata.resource_version) > 0
    raw = json.loads(urllib.request.urlopen(f"{emulator.url}/api/v1/configmaps", timeout=5).read())
    assert raw["kind"] == "ConfigMapList" and raw["apiVersion"] == "v1"
    with pytest.raises(ApiException) as no_namespace:
        core.create_namespaced_config_map("missing-ns", _configmap("x"))
    assert no_namespace.value.status == 404
    core.delete_namespace("other")
    wait_for(
        lambda: not core.list_namespaced_config_map("other").items, what="namespace contents to go"
    )


def test_events_in_both_apis(fresh: Lab, core: client.CoreV1Api, api: client.ApiClient) -> None:
    core_events = core.list_namespaced_event(NAMESPACE).items
    assert any(
        e.reason == "ScalingReplicaSet" and e.source.component == "deployment-controller"
        for e in core_events
    )
    v1 = client.EventsV1Api(api).list_namespaced_event(NAMESPACE).items
    assert len(v1) == len(core_events)
    sample = next(e for e in v1 if e.reason == "Scheduled")
    assert sample.regarding.kind == "Pod" and sample.note.startswith("Successfully assigned")
    assert sample.event_time is not None


def test_bearer_token_required_when_configured(tmp_path: Path) -> None:
    with start_emulator(token="lab-token", seed="empty") as emulator:
        good = write_kubeconfig(tmp_path / "good", emulator.url, token="lab-token")
        bad = write_kubeconfig(tmp_path / "bad", emulator.url, token="wrong")
        with api_client(good) as ok:
            assert [n.metadata.name for n in client.CoreV1Api(ok).list_node().items] == [
                "node-1",
                "node-2",
                "node-3",
            ]
        with api_client(bad) as denied, pytest.raises(ApiException) as error:
            client.CoreV1Api(denied).list_node()
        assert error.value.status == 401
        assert json.loads(error.value.body)["reason"] == "Unauthorized"
