"""Builders for the seeded nodes and containers (see :mod:`lab.k8s.seed`)."""

from __future__ import annotations

import base64
import json
from typing import Any

Obj = dict[str, Any]
APP_IMAGE = "ghcr.io/rolerabbit/app"
WORKER_IMAGE = "ghcr.io/rolerabbit/worker"


def pull_secret(host: str, username: str, password: str, name: str = "regcred") -> Obj:
    """A kubernetes.io/dockerconfigjson Secret with one registry's credentials."""
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    entry = {"username": username, "password": password, "auth": auth}
    config = json.dumps({"auths": {host: entry}})
    return {
        "metadata": {"name": name, "namespace": "rolerabbit-production"},
        "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": base64.b64encode(config.encode()).decode()},
    }


NODE_INDEXES = (1, 2, 3)  # the seeded nodes: node-1, node-2, node-3


def node_name(index: int) -> str:
    return f"node-{index}"


def node(index: int) -> Obj:
    name = node_name(index)
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


def api_container(tag: str) -> Obj:
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


def worker_container(tag: str) -> Obj:
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
