"""Endpoints controller: each selector-bearing Service lists its pods' IPs.

Ready pods go to ``addresses``, others to ``notReadyAddresses``, with the
service's target ports, so the suite can check that a service has backends.
"""

from __future__ import annotations

from typing import Any

from lab.k8s.cluster import Cluster
from lab.k8s.replicasets import pod_ready
from lab.k8s.resources import ENDPOINTS, PODS, SERVICES
from lab.k8s.selectors import match_label_selector

Obj = dict[str, Any]


def _address(pod: Obj) -> Obj:
    metadata = pod["metadata"]
    return {
        "ip": (pod.get("status") or {}).get("podIP", ""),
        "nodeName": (pod.get("spec") or {}).get("nodeName", ""),
        "targetRef": {
            "kind": "Pod",
            "namespace": metadata.get("namespace", ""),
            "name": metadata["name"],
            "uid": metadata["uid"],
        },
    }


def reconcile_endpoints(cluster: Cluster) -> None:
    store = cluster.store
    for service in store.items(SERVICES.bucket):
        selector = (service.get("spec") or {}).get("selector")
        if not selector:
            continue
        namespace, name = service["metadata"]["namespace"], service["metadata"]["name"]
        pods = [
            p
            for p in store.items(PODS.bucket, namespace)
            if (p.get("status") or {}).get("podIP")
            and match_label_selector({"matchLabels": selector}, p["metadata"].get("labels") or {})
        ]
        ports = [
            {
                k: v
                for k, v in (
                    ("name", p.get("name")),
                    ("port", p.get("targetPort", p.get("port"))),
                    ("protocol", p.get("protocol", "TCP")),
                )
                if v is not None
            }
            for p in (service.get("spec") or {}).get("ports") or []
        ]
        ready = [_address(p) for p in pods if pod_ready(p)]
        not_ready = [_address(p) for p in pods if not pod_ready(p)]
        subset: Obj = {"ports": ports}
        if ready:
            subset["addresses"] = ready
        if not_ready:
            subset["notReadyAddresses"] = not_ready
        current = store.get(ENDPOINTS.bucket, namespace, name)
        wanted = {
            "kind": "Endpoints",
            "apiVersion": "v1",
            "metadata": {
                **(current["metadata"] if current else {}),
                "name": name,
                "namespace": namespace,
                "labels": service["metadata"].get("labels") or {},
            },
            "subsets": [subset] if pods else [],
        }
        store.put(ENDPOINTS.bucket, wanted)
