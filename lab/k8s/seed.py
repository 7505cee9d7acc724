"""Seed data: the RoleRabbit production namespace as the runbook describes it.

Seed ``rolerabbit`` (the default) creates namespaces (each with its ``default``
ServiceAccount, as the service-account controller would; the production namespace's
mounts no token unless a pod asks: its pods never call the Kubernetes API), three
nodes, the ConfigMap and Secrets (``rolerabbit-secrets`` annotated with when it was
last rotated, ``rolerabbit.io/rotated-at``), the ``rolerabbit-api`` and
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
from typing import Any

from lab.k8s.cluster import Cluster
from lab.k8s.defaults import apply_defaults, default_service
from lab.k8s.meta import rfc3339
from lab.k8s.replicasets import owner_reference
from lab.k8s.resources import RESOURCES, ResourceType, by_plural
from lab.k8s.revisions import HASH_LABEL, REVISION, template_hash
from lab.k8s.seed_objects import (
    NODE_INDEXES,
    api_container,
    node,
    pull_secret,
    worker_container,
)

Obj = dict[str, Any]
NAMESPACE = "rolerabbit-production"
ROTATED_AT = "rolerabbit.io/rotated-at"
CURRENT_TAG, PREVIOUS_TAG = "v1.2.3", "v1.2.2"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _add(cluster: Cluster, rt: ResourceType, obj: Obj) -> Obj:
    obj = {"apiVersion": rt.api_version, "kind": rt.kind, **obj}
    obj = apply_defaults(rt.plural, obj)
    if rt.has_generation:
        obj["metadata"]["generation"] = 1
    return cluster.store.put(rt.bucket, obj)


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
            account: Obj = {"metadata": {"name": "default", "namespace": namespace}}
            if namespace == NAMESPACE:
                account["automountServiceAccountToken"] = False
            _add(cluster, core["serviceaccounts"], account)
        for index in NODE_INDEXES:
            _add(cluster, core["nodes"], node(index))
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
                    "annotations": {ROTATED_AT: rfc3339()},
                },
                "type": "Opaque",
                "data": {
                    "DATABASE_URL": _b64(cluster.settings.app_database_url),
                    "REDIS_URL": _b64("redis://127.0.0.1:6379/0"),
                    "JWT_SECRET": _b64("lab-jwt-signing-key-not-a-secret"),
                },
            },
        )
        _add(cluster, core["secrets"], pull_secret(*cluster.settings.registry_credentials))
        _deployment(cluster, "rolerabbit-api", 3, api_container)
        _deployment(cluster, "rolerabbit-deployment-worker", 2, worker_container)
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
