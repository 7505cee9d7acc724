"""Seed data: the RoleRabbit production namespace as the runbook describes it.

Seed ``rolerabbit`` (the default) creates namespaces, three nodes, the
ConfigMap and Secrets, the ``rolerabbit-api`` and
``rolerabbit-deployment-worker`` deployments with their Services, and a
revision history: each deployment's revision 1 ran ``v1.2.2`` and revision
2 (current) runs ``v1.2.3``, so ``kubectl rollout undo`` has somewhere to go.
Pods are not seeded: the controller creates them within a tick or two and
they turn Ready after the pod start-up delay.  Seed ``empty`` has only the
namespaces and nodes.  The shape is deterministic; names of pods are not.
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

from lab.k8s.cluster import Cluster
from lab.k8s.defaults import apply_defaults, default_service
from lab.k8s.deployments import HASH_LABEL, REVISION, template_hash
from lab.k8s.replicasets import owner_reference
from lab.k8s.resources import RESOURCES, ResourceType, by_plural

Obj = dict[str, Any]
NAMESPACE = "rolerabbit-production"
APP_IMAGE = "ghcr.io/rolerabbit/app"
WORKER_IMAGE = "ghcr.io/rolerabbit/worker"
CURRENT_TAG, PREVIOUS_TAG = "v1.2.3", "v1.2.2"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _add(cluster: Cluster, rt: ResourceType, obj: Obj) -> Obj:
    obj = {"apiVersion": rt.api_version, "kind": rt.kind, **obj}
    obj = apply_defaults(rt.plural, obj)
    if rt.has_generation:
        obj["metadata"]["generation"] = 1
    return cluster.store.put(rt.bucket, obj)


def _node(index: int) -> Obj:
    name = f"node-{index}"
    resources = {"cpu": "4", "memory": "16Gi", "pods": "110", "ephemeral-storage": "100Gi"}
    conditions = [
        (
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
        ),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    ]
    return {
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
            },
        },
        "spec": {"podCIDR": f"10.244.{index}.0/24"},
        "status": {
            "capacity": resources,
            "allocatable": resources,
            "conditions": [
                {
                    "type": t,
                    "status": s,
                    "reason": r,
                    "message": m,
                    "lastHeartbeatTime": None,
                    "lastTransitionTime": None,
                }
                for t, s, r, m in conditions
            ],
            "addresses": [
                {"type": "InternalIP", "address": f"10.0.0.{10 + index}"},
                {"type": "Hostname", "address": name},
            ],
            "nodeInfo": {
                "kubeletVersion": "v1.37.1",
                "kubeProxyVersion": "v1.37.1",
                "osImage": "Lab Linux",
                "containerRuntimeVersion": "containerd://1.7.0",
                "architecture": "amd64",
                "operatingSystem": "linux",
                "kernelVersion": "6.1.0",
                "machineID": f"lab-{name}",
                "systemUUID": f"lab-{name}",
                "bootID": f"lab-{name}",
            },
        },
    }


def _probe(port: int) -> Obj:
    return {
        "httpGet": {"path": "/health", "port": port, "scheme": "HTTP"},
        "periodSeconds": 10,
        "timeoutSeconds": 1,
        "successThreshold": 1,
        "failureThreshold": 3,
    }


def _api_container(tag: str) -> Obj:
    return {
        "name": "api",
        "image": f"{APP_IMAGE}:{tag}",
        "ports": [{"name": "http", "containerPort": 3000}],
        "env": [{"name": "DB_POOL_MAX", "value": "20"}, {"name": "PORT", "value": "3000"}],
        "envFrom": [
            {"configMapRef": {"name": "rolerabbit-config"}},
            {"secretRef": {"name": "rolerabbit-secrets"}},
        ],
        "resources": {
            "requests": {"cpu": "250m", "memory": "256Mi"},
            "limits": {"cpu": "1", "memory": "512Mi"},
        },
        "readinessProbe": _probe(3000),
        "livenessProbe": _probe(3000),
    }


def _worker_container(tag: str) -> Obj:
    return {
        "name": "worker",
        "image": f"{WORKER_IMAGE}:{tag}",
        "env": [{"name": "WORKER_CONCURRENCY", "value": "5"}],
        "envFrom": [
            {"configMapRef": {"name": "rolerabbit-config"}},
            {"secretRef": {"name": "rolerabbit-secrets"}},
        ],
        "resources": {
            "requests": {"cpu": "250m", "memory": "256Mi"},
            "limits": {"cpu": "500m", "memory": "512Mi"},
        },
    }


def _deployment(cluster: Cluster, name: str, replicas: int, container: Any) -> None:
    deployments, replicasets = by_plural("deployments", "apps"), by_plural("replicasets", "apps")
    labels = {"app": name}

    def template(tag: str) -> Obj:
        return {
            "metadata": {"labels": dict(labels)},
            "spec": {"containers": [container(tag)], "imagePullSecrets": [{"name": "regcred"}]},
        }

    deployment = _add(
        cluster,
        deployments,
        {
            "metadata": {
                "name": name,
                "namespace": NAMESPACE,
                "labels": dict(labels),
                "annotations": {REVISION: "2"},
            },
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": dict(labels)},
                "template": template(CURRENT_TAG),
                "progressDeadlineSeconds": 60,
            },
        },
    )
    # Revision 1, scaled to zero: the previous release, for rollout undo.
    old_template = apply_defaults("deployments", {"spec": {"template": template(PREVIOUS_TAG)}})[
        "spec"
    ]["template"]
    pod_hash = template_hash(old_template)
    old_template = copy.deepcopy(old_template)
    old_template["metadata"]["labels"][HASH_LABEL] = pod_hash
    _add(
        cluster,
        replicasets,
        {
            "metadata": {
                "name": f"{name}-{pod_hash}",
                "namespace": NAMESPACE,
                "labels": old_template["metadata"]["labels"],
                "annotations": {REVISION: "1"},
                "ownerReferences": [owner_reference(deployment)],
            },
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": {**labels, HASH_LABEL: pod_hash}},
                "template": old_template,
            },
            "status": {"replicas": 0, "observedGeneration": 1},
        },
    )


def seed_cluster(cluster: Cluster, seed: str = "rolerabbit") -> None:
    if seed not in ("rolerabbit", "empty"):
        raise ValueError(f"unknown seed {seed!r}: choose rolerabbit or empty")
    core = {rt.plural: rt for rt in RESOURCES if rt.group == ""}
    with cluster.lock:
        for namespace in (
            "default",
            "kube-system",
            "kube-public",
            *([NAMESPACE] if seed == "rolerabbit" else []),
        ):
            _add(cluster, core["namespaces"], {"metadata": {"name": namespace}})
        for index in (1, 2, 3):
            _add(cluster, core["nodes"], _node(index))
        cluster.store.put(
            "services",
            default_service(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {
                        "name": "kubernetes",
                        "namespace": "default",
                        "labels": {"component": "apiserver", "provider": "kubernetes"},
                    },
                    "spec": {"ports": [{"name": "https", "port": 443, "targetPort": 6443}]},
                },
                "10.96.0.1",
            ),
        )
        if seed == "empty":
            return
        _add(
            cluster,
            core["configmaps"],
            {
                "metadata": {
                    "name": "rolerabbit-config",
                    "namespace": NAMESPACE,
                    "labels": {"app": "rolerabbit"},
                },
                "data": {
                    "NODE_ENV": "production",
                    "DB_POOL_MAX": "20",
                    "DB_POOL_MIN": "2",
                    "DB_TIMEOUT": "5000",
                    "FEATURE_STRIPE_ENABLED": "true",
                    "FEATURE_CLOUDFLARE_ENABLED": "true",
                    "LOG_LEVEL": "info",
                    "QUEUE_NAME": "rolerabbit-jobs",
                },
            },
        )
        _add(
            cluster,
            core["secrets"],
            {
                "metadata": {
                    "name": "rolerabbit-secrets",
                    "namespace": NAMESPACE,
                    "labels": {"app": "rolerabbit"},
                },
                "type": "Opaque",
                "data": {
                    "DATABASE_URL": _b64(
                        "postgresql://rolerabbit:lab-not-a-secret@127.0.0.1:5432/rolerabbit"
                    ),
                    "REDIS_URL": _b64("redis://127.0.0.1:6379/0"),
                    "JWT_SECRET": _b64("lab-jwt-signing-key-not-a-secret"),
                },
            },
        )
        auth = _b64("rolerabbit-ci:lab-registry-token-not-a-secret")
        docker_config = {
            "auths": {
                "ghcr.io": {
                    "username": "rolerabbit-ci",
                    "password": "lab-registry-token-not-a-secret",
                    "auth": auth,
                }
            }
        }
        _add(
            cluster,
            core["secrets"],
            {
                "metadata": {"name": "regcred", "namespace": NAMESPACE},
                "type": "kubernetes.io/dockerconfigjson",
                "data": {".dockerconfigjson": _b64(json.dumps(docker_config))},
            },
        )
        _deployment(cluster, "rolerabbit-api", 3, _api_container)
        _deployment(cluster, "rolerabbit-deployment-worker", 2, _worker_container)
        for name, port, target in (
            ("rolerabbit-api", 80, 3000),
            ("rolerabbit-deployment-worker", 9090, 9090),
        ):
            cluster.store.put(
                "services",
                default_service(
                    {
                        "apiVersion": "v1",
                        "kind": "Service",
                        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app": name}},
                        "spec": {
                            "selector": {"app": name},
                            "ports": [{"name": "http", "port": port, "targetPort": target}],
                        },
                    },
                    f"10.96.{10 + port % 7}.{port % 250}",
                ),
            )
