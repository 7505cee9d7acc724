"""The background "just enough controller" loop.

Every ``interval`` seconds, holding the store lock, it runs the deployment
controller, the replica set controller and the kubelet simulation, in that order, from
one snapshot of pods indexed by owner (no per-object lookups), again while a pass changed
something (at most ``PASSES``), then the endpoints controller. It also owns the log file
tails (the API log file of a standalone emulator, and each pod backend's own file).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from lab.k8s.backends import PodLogFiles
from lab.k8s.cluster import Cluster
from lab.k8s.deployments import DeploymentController
from lab.k8s.endpoints import reconcile_endpoints
from lab.k8s.kubelet import Kubelet
from lab.k8s.logs import API_APP_LABEL, ApiLogTail
from lab.k8s.replicasets import pod_ready, reconcile_replicaset
from lab.k8s.resources import DEPLOYMENTS, ENDPOINTS, PODS, REPLICASETS, SERVICES

Obj = dict[str, Any]
log = logging.getLogger(__name__)
PASSES = 4  # controller passes per tick at most: a rollout step takes three


def pods_by_owner(pods: list[Obj]) -> dict[str, list[Obj]]:
    index: dict[str, list[Obj]] = {}
    for pod in pods:
        for ref in pod["metadata"].get("ownerReferences") or []:
            index.setdefault(ref.get("uid", ""), []).append(pod)
    return index


class Controller:
    def __init__(self, cluster: Cluster, interval: float = 0.1) -> None:
        self.cluster = cluster
        self.interval = interval
        self.deployments = DeploymentController(cluster)
        self.kubelet = Kubelet(cluster)
        self._stop = threading.Event()
        self._endpoints_seen: tuple[int, ...] = ()
        self._thread = threading.Thread(target=self._run, name="k8s-controller", daemon=True)
        self._tail: ApiLogTail | None = None
        self._log_files = PodLogFiles(cluster.backends, cluster.logs, self.first_container)

    def start(self) -> None:
        if self.cluster.settings.api_log_file:
            self._tail = ApiLogTail(
                self.cluster.settings.api_log_file, self.cluster.logs, self.ready_api_pods
            )
            self._tail.start()
        self._log_files.start()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        if self._tail is not None:
            self._tail.stop()
        self._log_files.stop()

    def reset(self) -> None:
        with self.cluster.lock:
            self.deployments.reset()
            self.kubelet.reset()

    def first_container(self, namespace: str, pod: str) -> str | None:
        """The pod's first container's name; None when the pod does not exist."""
        with self.cluster.lock:
            found = self.cluster.store.get(PODS.bucket, namespace, pod)
        if found is None:
            return None
        return str(((found.get("spec") or {}).get("containers") or [{}])[0].get("name", ""))

    def ready_api_pods(self) -> list[tuple[str, str, str]]:
        with self.cluster.lock:
            targets = []
            for pod in self.cluster.store.items(PODS.bucket):
                if (pod["metadata"].get("labels") or {}).get("app") == API_APP_LABEL and pod_ready(
                    pod
                ):
                    container = ((pod.get("spec") or {}).get("containers") or [{}])[0].get(
                        "name", ""
                    )
                    targets.append(
                        (pod["metadata"]["namespace"], pod["metadata"]["name"], str(container))
                    )
            return targets

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception:  # keep the cluster alive; a bad object must not stop every controller
                log.exception("controller tick failed")

    def tick(self) -> None:
        store = self.cluster.store
        with store.lock:
            # Real controllers react to each change they see at once (informers and work
            # queues), not on a timer: a pod turning Ready lets the Deployment controller
            # scale the old ReplicaSet down, whose pod the ReplicaSet controller deletes,
            # which lets the next new pod be created, all within milliseconds. So within a
            # tick the controllers run again while their last pass changed something
            # (bounded), rather than one step of a rollout per tick.
            for _ in range(PASSES):
                before = self._workload_versions()
                self._reconcile_workloads()
                if self._workload_versions() == before:
                    break
            # Endpoints follow the Services and their pods' readiness alone (and are put
            # back if someone changed them): nothing to do while none of the three changed.
            if self._endpoint_inputs() != self._endpoints_seen:
                reconcile_endpoints(self.cluster)
                self._endpoints_seen = self._endpoint_inputs()

    def _reconcile_workloads(self) -> None:
        store = self.cluster.store
        by_owner = pods_by_owner(store.items(PODS.bucket))
        for deployment in store.items(DEPLOYMENTS.bucket):
            namespace = deployment["metadata"]["namespace"]
            self.deployments.reconcile(
                deployment, store.items(REPLICASETS.bucket, namespace), by_owner
            )
        for rs in store.items(REPLICASETS.bucket):
            reconcile_replicaset(self.cluster, rs, by_owner.get(rs["metadata"]["uid"], []))
        self.kubelet.tick(store.items(PODS.bucket))

    def _workload_versions(self) -> tuple[int, ...]:
        store = self.cluster.store
        return tuple(store.bucket_version(r.bucket) for r in (DEPLOYMENTS, REPLICASETS, PODS))

    def _endpoint_inputs(self) -> tuple[int, ...]:
        store = self.cluster.store
        return tuple(store.bucket_version(r.bucket) for r in (PODS, SERVICES, ENDPOINTS))
