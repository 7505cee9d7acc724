"""The emulator's controllers react within a tick, as event-driven controllers do.

Driven tick by tick in this process (no thread, no timer), so each tick's effect is seen
exactly: the tick in which a rolling update's new pod turns Ready also scales the old
ReplicaSet down (its pod goes) and creates the next new pod.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from lab.k8s.cluster import Cluster, Settings
from lab.k8s.controller import Controller
from lab.k8s.replicasets import pod_ready
from lab.k8s.resources import DEPLOYMENTS, PODS
from lab.k8s.seed import seed_cluster
from lab.settings import NAMESPACE

API = "rolerabbit-api"
STARTUP_S = 0.2


def api_pods(cluster: Cluster) -> dict[str, bool]:
    """The API pods by name: Ready or not."""
    with cluster.store.lock:
        pods = cluster.store.items(PODS.bucket, NAMESPACE)
    return {
        p["metadata"]["name"]: pod_ready(p)
        for p in pods
        if (p["metadata"].get("labels") or {}).get("app") == API
    }


def change_template(cluster: Cluster) -> None:
    with cluster.store.lock:
        deployment: dict[str, Any] = copy.deepcopy(
            cluster.store.get(DEPLOYMENTS.bucket, NAMESPACE, API)
        )
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        container.setdefault("env", []).append({"name": "ROLL", "value": "1"})
        deployment["metadata"]["generation"] += 1
        cluster.store.put(DEPLOYMENTS.bucket, deployment)


def test_a_rollout_step_follows_its_pod_turning_ready_in_the_same_tick() -> None:
    cluster = Cluster(Settings(token="t", pod_startup_seconds=STARTUP_S))
    seed_cluster(cluster)
    controller = Controller(cluster)
    for _ in range(3):
        controller.tick()
        time.sleep(STARTUP_S)
    old = api_pods(cluster)
    assert len(old) == 3 and all(old.values())

    change_template(cluster)
    controller.tick()
    first = api_pods(cluster).keys() - old.keys()
    assert len(first) == 1  # maxSurge 25% of 3: one new pod at a time
    time.sleep(STARTUP_S)
    controller.tick()  # the new pod turns Ready, and in the same tick:
    now = api_pods(cluster)
    assert all(now[p] for p in first)
    assert len(old.keys() - now.keys()) == 1  # an old pod went
    assert len(now.keys() - old.keys() - first) == 1  # the next new pod is there
    for _ in range(2):  # the two remaining steps take one startup each
        time.sleep(STARTUP_S)
        controller.tick()
    final = api_pods(cluster)
    assert not final.keys() & old.keys() and len(final) == 3 and all(final.values())
