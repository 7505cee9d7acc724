"""Controller and kubelet behaviour, observed through the official Python client."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from lab.k8s.registry import DEFAULT_REPOSITORIES
from tests.k8s.support import NAMESPACE, Lab, wait_for

REVISION = "deployment.kubernetes.io/revision"


def _pods(core: client.CoreV1Api, app: str) -> list[client.V1Pod]:
    return core.list_namespaced_pod(NAMESPACE, label_selector=f"app={app}").items


def _rollout_done(apps: client.AppsV1Api, name: str) -> bool:
    d = apps.read_namespaced_deployment(name, NAMESPACE)
    s = d.status
    return bool(
        s.observed_generation == d.metadata.generation
        and s.updated_replicas == d.spec.replicas == s.replicas == s.available_replicas
    )


def _condition(deployment: client.V1Deployment, type_: str) -> client.V1DeploymentCondition:
    return next(c for c in deployment.status.conditions if c.type == type_)


def _deployment(
    name: str, image: str, container: dict[str, Any] | None = None, deadline: int = 600
) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": 2,
            "progressDeadlineSeconds": deadline,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "main", "image": image, **(container or {})}]},
            },
        },
    }


def test_scale_changes_pod_count(
    fresh: Lab, apps: client.AppsV1Api, core: client.CoreV1Api
) -> None:
    apps.patch_namespaced_deployment("rolerabbit-api", NAMESPACE, {"spec": {"replicas": 5}})
    wait_for(
        lambda: len(_pods(core, "rolerabbit-api")) == 5 and _rollout_done(apps, "rolerabbit-api"),
        what="5 api pods",
    )
    messages = [
        e.message
        for e in core.list_namespaced_event(
            NAMESPACE, field_selector="reason=ScalingReplicaSet"
        ).items
    ]
    assert any("from 3 to 5" in m for m in messages)
    apps.patch_namespaced_deployment("rolerabbit-api", NAMESPACE, {"spec": {"replicas": 1}})
    wait_for(lambda: len(_pods(core, "rolerabbit-api")) == 1, what="scale down to 1 pod")


def test_restart_makes_new_replicaset_and_rolls_pods(
    fresh: Lab, apps: client.AppsV1Api, core: client.CoreV1Api
) -> None:
    before = {p.metadata.name for p in _pods(core, "rolerabbit-api")}
    patch = {
        "spec": {
            "template": {
                "metadata": {
                    "annotations": {"kubectl.kubernetes.io/restartedAt": "2025-01-01T00:00:00Z"}
                }
            }
        }
    }
    apps.patch_namespaced_deployment("rolerabbit-api", NAMESPACE, patch)
    wait_for(lambda: _rollout_done(apps, "rolerabbit-api"), what="restart rollout")
    wait_for(lambda: len(_pods(core, "rolerabbit-api")) == 3, what="old pods to go")
    after = _pods(core, "rolerabbit-api")
    assert not before & {p.metadata.name for p in after}
    sets = apps.list_namespaced_replica_set(NAMESPACE, label_selector="app=rolerabbit-api").items
    newest = max(sets, key=lambda rs: int(rs.metadata.annotations[REVISION]))
    assert newest.metadata.annotations[REVISION] == "3" and newest.spec.replicas == 3
    assert all(rs.spec.replicas == 0 for rs in sets if rs is not newest)
    assert {p.metadata.labels["pod-template-hash"] for p in after} == {
        newest.metadata.labels["pod-template-hash"]
    }
    assert all(p.metadata.owner_references[0].name == newest.metadata.name for p in after)
    deployment = apps.read_namespaced_deployment("rolerabbit-api", NAMESPACE)
    assert _condition(deployment, "Progressing").reason == "NewReplicaSetAvailable"
    assert deployment.metadata.annotations[REVISION] == "3"


def test_returning_to_an_old_template_reuses_its_replicaset(
    fresh: Lab, apps: client.AppsV1Api
) -> None:
    old = next(
        rs
        for rs in apps.list_namespaced_replica_set(
            NAMESPACE, label_selector="app=rolerabbit-api"
        ).items
        if rs.metadata.annotations[REVISION] == "1"
    )
    patch = {
        "spec": {
            "template": {
                "spec": {"containers": [{"name": "api", "image": "ghcr.io/rolerabbit/app:v1.2.2"}]}
            }
        }
    }
    apps.patch_namespaced_deployment("rolerabbit-api", NAMESPACE, patch)
    wait_for(lambda: _rollout_done(apps, "rolerabbit-api"), what="rollback rollout")
    reused = apps.read_namespaced_replica_set(old.metadata.name, NAMESPACE)
    assert reused.metadata.annotations[REVISION] == "3" and reused.spec.replicas == 3
    assert (
        len(apps.list_namespaced_replica_set(NAMESPACE, label_selector="app=rolerabbit-api").items)
        == 2
    )


def test_unpullable_image_exceeds_progress_deadline(
    fresh: Lab, apps: client.AppsV1Api, core: client.CoreV1Api
) -> None:
    apps.create_namespaced_deployment(
        NAMESPACE, _deployment("typo", "ghcr.io/rolerabbit/app:v9.9.9", deadline=1)
    )

    def waiting_reasons() -> set[str]:
        return {
            cs.state.waiting.reason
            for p in _pods(core, "typo")
            for cs in p.status.container_statuses or []
            if cs.state.waiting
        }

    wait_for(lambda: "ErrImagePull" in waiting_reasons(), what="ErrImagePull")
    wait_for(lambda: waiting_reasons() == {"ImagePullBackOff"}, what="ImagePullBackOff")
    wait_for(
        lambda: (
            _condition(apps.read_namespaced_deployment("typo", NAMESPACE), "Progressing").reason
            == "ProgressDeadlineExceeded"
        ),
        what="ProgressDeadlineExceeded",
    )
    progressing = _condition(apps.read_namespaced_deployment("typo", NAMESPACE), "Progressing")
    assert progressing.status == "False"
    failed = core.list_namespaced_event(
        NAMESPACE, field_selector="reason=Failed,type=Warning"
    ).items
    assert any("v9.9.9" in e.message for e in failed)
    # A tag the lab never pushes to its registry: the kubelet cannot pull it either.
    assert "v9.9.9" not in DEFAULT_REPOSITORIES["ghcr.io/rolerabbit/app"]


def test_crashloop_hook_raises_restart_count(fresh: Lab, core: client.CoreV1Api) -> None:
    fresh.post("/_lab/hooks/crashloop", {"deployment": "rolerabbit-api"})

    def restarts() -> list[int]:
        return [p.status.container_statuses[0].restart_count for p in _pods(core, "rolerabbit-api")]

    wait_for(lambda: all(r >= 1 for r in restarts()), what="first restarts")
    first = restarts()
    wait_for(
        lambda: all(now > then for now, then in zip(restarts(), first, strict=True)),
        what="rising restarts",
    )
    status = _pods(core, "rolerabbit-api")[0].status.container_statuses[0]
    assert status.state.waiting.reason == "CrashLoopBackOff" and not status.ready
    assert status.last_state.terminated.reason == "Error"
    backoff = core.list_namespaced_event(NAMESPACE, field_selector="reason=BackOff").items
    assert backoff and all(e.type == "Warning" for e in backoff)
    fresh.post("/_lab/hooks/clear", {"hook": "crashloop"})
    wait_for(
        lambda: all(p.status.container_statuses[0].ready for p in _pods(core, "rolerabbit-api")),
        what="recovery",
    )


def test_missing_config_key_is_create_container_config_error(
    fresh: Lab, apps: client.AppsV1Api, core: client.CoreV1Api
) -> None:
    env = [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "late-config", "key": "X"}}}]
    apps.create_namespaced_deployment(
        NAMESPACE, _deployment("needs-config", "ghcr.io/rolerabbit/app:v1.2.3", {"env": env})
    )

    def waiting() -> list[Any]:
        return [
            cs.state.waiting
            for p in _pods(core, "needs-config")
            for cs in p.status.container_statuses or []
        ]

    wait_for(
        lambda: (
            waiting() and all(w and w.reason == "CreateContainerConfigError" for w in waiting())
        ),
        what="config error",
    )
    assert waiting()[0].message == 'configmap "late-config" not found'
    core.create_namespaced_config_map(
        NAMESPACE,
        client.V1ConfigMap(metadata=client.V1ObjectMeta(name="late-config"), data={"Y": "1"}),
    )
    wait_for(
        lambda: waiting() and waiting()[0] and "couldn't find key X" in waiting()[0].message,
        what="missing key message",
    )
    core.patch_namespaced_config_map("late-config", NAMESPACE, {"data": {"X": "1"}})
    wait_for(lambda: _rollout_done(apps, "needs-config"), what="pods to start once the key exists")


def test_deleting_pods_and_deployments_cascades(
    fresh: Lab, apps: client.AppsV1Api, core: client.CoreV1Api
) -> None:
    victim = _pods(core, "rolerabbit-deployment-worker")[0].metadata.name
    core.delete_namespaced_pod(victim, NAMESPACE)
    wait_for(
        lambda: (
            len(names := {p.metadata.name for p in _pods(core, "rolerabbit-deployment-worker")})
            == 2
            and victim not in names
        ),
        what="replacement pod",
    )
    apps.delete_namespaced_deployment("rolerabbit-deployment-worker", NAMESPACE)
    assert (
        apps.list_namespaced_replica_set(
            NAMESPACE, label_selector="app=rolerabbit-deployment-worker"
        ).items
        == []
    )
    assert _pods(core, "rolerabbit-deployment-worker") == []


def test_pod_logs_options(fresh: Lab, core: client.CoreV1Api) -> None:
    pod = _pods(core, "rolerabbit-api")[0].metadata.name
    fresh.post("/_lab/hooks/add-logs", {"pod": pod, "lines": [f"line {i}" for i in range(5)]})
    tail = core.read_namespaced_pod_log(pod, NAMESPACE, tail_lines=2)
    assert tail == "line 3\nline 4\n"
    stamped = core.read_namespaced_pod_log(
        pod, NAMESPACE, tail_lines=1, timestamps=True, container="api"
    )
    assert stamped.endswith(" line 4\n") and stamped[:4].isdigit() and "T" in stamped.split()[0]
    assert "line 0" in core.read_namespaced_pod_log(pod, NAMESPACE, since_seconds=60)
    fresh.post(
        "/_lab/hooks/add-logs", {"deployment": "rolerabbit-api", "lines": ["to every newest pod"]}
    )
    for p in _pods(core, "rolerabbit-api"):
        assert (
            core.read_namespaced_pod_log(p.metadata.name, NAMESPACE, tail_lines=1)
            == "to every newest pod\n"
        )


def test_pod_logs_follow_streams_new_lines(fresh: Lab, core: client.CoreV1Api) -> None:
    pod = _pods(core, "rolerabbit-api")[0].metadata.name
    fresh.post("/_lab/hooks/add-logs", {"pod": pod, "lines": ["before follow"]})
    response = core.read_namespaced_pod_log(
        pod, NAMESPACE, follow=True, tail_lines=1, _preload_content=False
    )
    try:
        lines = response.stream(amt=None)
        assert next(lines) == b"before follow\n"
        fresh.post("/_lab/hooks/add-logs", {"pod": pod, "lines": ["while following"]})
        assert next(lines) == b"while following\n"
    finally:
        response.release_conn()
