"""The runbook's kubectl commands, run with the real kubectl against the emulator.

Each test checks the printed output and then the resulting state through the API.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

from kubernetes import client

from tests.k8s.support import NAMESPACE, Lab, wait_for

NS = ("-n", NAMESPACE)


def _header(output: str) -> list[str]:
    return output.splitlines()[0].split()


def test_get_tables(fresh: Lab) -> None:
    deployments = fresh.kubectl("get", "deployments", *NS).stdout
    assert _header(deployments) == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    rows = {line.split()[0]: line.split()[1:4] for line in deployments.splitlines()[1:]}
    assert rows == {
        "rolerabbit-api": ["3/3", "3", "3"],
        "rolerabbit-deployment-worker": ["2/2", "2", "2"],
    }

    pods = fresh.kubectl("get", "pods", *NS).stdout
    assert _header(pods) == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert len(pods.splitlines()) == 6 and all(
        " 1/1 " in line and "Running" in line for line in pods.splitlines()[1:]
    )

    wide = fresh.kubectl("get", "pods", "-o", "wide", *NS).stdout
    assert "NODE" in _header(wide) and "node-" in wide

    events = fresh.kubectl("get", "events", "--sort-by=.lastTimestamp", *NS).stdout
    assert _header(events) == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert (
        "ScalingReplicaSet" in events
        and "deployment/rolerabbit-api" in events
        and "pod/rolerabbit-api-" in events
    )

    secret = fresh.kubectl("get", "secret", "regcred", "-o", "yaml", *NS).stdout
    assert "kubernetes.io/dockerconfigjson" in secret and ".dockerconfigjson" in secret


def test_describe_pod_shows_containers_and_events(fresh: Lab, core: client.CoreV1Api) -> None:
    pod = (
        core.list_namespaced_pod(NAMESPACE, label_selector="app=rolerabbit-api")
        .items[0]
        .metadata.name
    )
    out = fresh.kubectl("describe", "pod", pod, *NS).stdout
    fields = {
        k.strip(): v.strip() for k, _, v in (line.partition(":") for line in out.splitlines())
    }
    assert (
        fields["Name"] == pod and fields["Status"] == "Running" and fields["Namespace"] == NAMESPACE
    )
    assert fields["Image"] == "ghcr.io/rolerabbit/app:v1.2.3" and fields["Ready"] == "True"
    assert "Successfully assigned" in out and "Started container api" in out


def test_rollout_restart_status_and_undo(fresh: Lab, apps: client.AppsV1Api) -> None:
    fresh.kubectl("rollout", "restart", "deployment/rolerabbit-api", *NS)
    status = fresh.kubectl(
        "rollout", "status", "deployment/rolerabbit-api", "--timeout=30s", *NS
    ).stdout
    assert 'deployment "rolerabbit-api" successfully rolled out' in status
    deployment = apps.read_namespaced_deployment("rolerabbit-api", NAMESPACE)
    assert "kubectl.kubernetes.io/restartedAt" in deployment.spec.template.metadata.annotations
    assert deployment.metadata.annotations["deployment.kubernetes.io/revision"] == "3"

    fresh.kubectl("rollout", "undo", "deployment/rolerabbit-api", *NS)
    fresh.kubectl("rollout", "status", "deployment/rolerabbit-api", "--timeout=30s", *NS)
    deployment = apps.read_namespaced_deployment("rolerabbit-api", NAMESPACE)
    assert not (deployment.spec.template.metadata.annotations or {}).get(
        "kubectl.kubernetes.io/restartedAt"
    )
    assert deployment.metadata.annotations["deployment.kubernetes.io/revision"] == "4"
    assert deployment.status.updated_replicas == 3 and deployment.status.available_replicas == 3


def test_rollout_status_fails_on_progress_deadline(fresh: Lab, apps: client.AppsV1Api) -> None:
    apps.patch_namespaced_deployment(
        "rolerabbit-api", NAMESPACE, {"spec": {"progressDeadlineSeconds": 1}}
    )
    fresh.kubectl(
        "set", "image", "deployment/rolerabbit-api", "api=ghcr.io/rolerabbit/app:v0.0.0-typo", *NS
    )
    result = fresh.kubectl(
        "rollout", "status", "deployment/rolerabbit-api", "--timeout=30s", *NS, check=False
    )
    assert result.returncode != 0 and "exceeded its progress deadline" in result.stderr


def test_scaling_a_deployment_complete_past_its_deadline_is_not_a_timeout(
    fresh: Lab, apps: client.AppsV1Api
) -> None:
    # The deadline measures a rollout's lack of progress, not the time since the last one:
    # a Deployment complete for longer than its deadline and then scaled is progressing.
    apps.patch_namespaced_deployment(
        "rolerabbit-api", NAMESPACE, {"spec": {"progressDeadlineSeconds": 1}}
    )
    wait_for(
        lambda: (
            apps.read_namespaced_deployment("rolerabbit-api", NAMESPACE).status.observed_generation
            == apps.read_namespaced_deployment("rolerabbit-api", NAMESPACE).metadata.generation
        ),
        what="the new deadline observed",
    )
    time.sleep(1.5)
    fresh.kubectl("scale", "deployment", "rolerabbit-api", "--replicas=5", *NS)
    result = fresh.kubectl(
        "rollout", "status", "deployment/rolerabbit-api", "--timeout=30s", *NS, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "successfully rolled out" in result.stdout
    progressing = next(
        c
        for c in apps.read_namespaced_deployment("rolerabbit-api", NAMESPACE).status.conditions
        if c.type == "Progressing"
    )
    assert (progressing.status, progressing.reason) == ("True", "NewReplicaSetAvailable")


def test_scale_set_env_and_set_image(
    fresh: Lab, apps: client.AppsV1Api, core: client.CoreV1Api
) -> None:
    fresh.kubectl("scale", "deployment", "rolerabbit-api", "--replicas=4", *NS)
    wait_for(
        lambda: (
            len(core.list_namespaced_pod(NAMESPACE, label_selector="app=rolerabbit-api").items) == 4
        ),
        what="4 pods",
    )
    assert apps.read_namespaced_deployment("rolerabbit-api", NAMESPACE).spec.replicas == 4

    fresh.kubectl("set", "env", "deployment/rolerabbit-api", "DB_POOL_MAX=15", *NS)
    container = apps.read_namespaced_deployment(
        "rolerabbit-api", NAMESPACE
    ).spec.template.spec.containers[0]
    assert {e.name: e.value for e in container.env} == {"DB_POOL_MAX": "15", "PORT": "3000"}

    fresh.kubectl(
        "set", "image", "deployment/rolerabbit-api", "api=ghcr.io/rolerabbit/app:v1.2.2", *NS
    )
    spec = apps.read_namespaced_deployment("rolerabbit-api", NAMESPACE).spec.template.spec
    container = spec.containers[0]
    assert container.image == "ghcr.io/rolerabbit/app:v1.2.2"
    assert (
        container.ports[0].container_port == 3000
        and container.readiness_probe.http_get.path == "/health"
    )
    assert [e.name for e in container.env] == ["DB_POOL_MAX", "PORT"] and len(
        container.env_from
    ) == 2
    assert container.resources.limits == {"cpu": "1", "memory": "512Mi"}
    assert spec.image_pull_secrets[0].name == "regcred"
    fresh.kubectl("rollout", "status", "deployment/rolerabbit-api", "--timeout=30s", *NS)
    images = {
        p.spec.containers[0].image
        for p in core.list_namespaced_pod(NAMESPACE, label_selector="app=rolerabbit-api").items
    }
    assert images == {"ghcr.io/rolerabbit/app:v1.2.2"}


def test_logs_by_label_with_tail(fresh: Lab) -> None:
    fresh.post(
        "/_lab/hooks/add-logs",
        {"deployment": "rolerabbit-api", "lines": [f"req {i}" for i in range(150)]},
    )
    out = fresh.kubectl("logs", "-l", "app=rolerabbit-api", "--tail=100", *NS).stdout.splitlines()
    assert len(out) == 300 and out.count("req 149") == 3 and "req 49" not in out


def test_top_pods_and_nodes(fresh: Lab) -> None:
    pods = fresh.kubectl("top", "pods", *NS).stdout
    assert _header(pods) == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
    assert len(pods.splitlines()) == 6 and "rolerabbit-api-" in pods
    nodes = fresh.kubectl("top", "nodes").stdout
    assert _header(nodes)[:3] == ["NAME", "CPU(cores)", "CPU(%)"]
    assert [line.split()[0] for line in nodes.splitlines()[1:]] == ["node-1", "node-2", "node-3"]


def test_edit_configmap_with_an_editor_script(
    fresh: Lab, core: client.CoreV1Api, tmp_path: Path
) -> None:
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nsed -i \'s/DB_POOL_MAX: "20"/DB_POOL_MAX: "15"/\' "$1"\n')
    editor.chmod(editor.stat().st_mode | stat.S_IEXEC)
    out = fresh.kubectl(
        "edit",
        "configmap",
        "rolerabbit-config",
        *NS,
        env={**os.environ, "KUBE_EDITOR": str(editor)},
    )
    assert "configmap/rolerabbit-config edited" in out.stdout
    data = core.read_namespaced_config_map("rolerabbit-config", NAMESPACE).data
    assert data["DB_POOL_MAX"] == "15" and data["NODE_ENV"] == "production"


def test_delete_pod_is_replaced(fresh: Lab, core: client.CoreV1Api) -> None:
    victim = (
        core.list_namespaced_pod(NAMESPACE, label_selector="app=rolerabbit-api")
        .items[0]
        .metadata.name
    )
    out = fresh.kubectl("delete", "pod", victim, *NS).stdout
    assert f'pod "{victim}" deleted' in out

    def replaced() -> bool:
        pods = core.list_namespaced_pod(NAMESPACE, label_selector="app=rolerabbit-api").items
        return len(pods) == 3 and victim not in {p.metadata.name for p in pods}

    wait_for(replaced, what="a replacement pod")
