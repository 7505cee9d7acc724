"""The emulated cluster: every piece of state, in one object passed around.

The HTTP layer, the controllers, the kubelet simulation and the hooks all
work on a :class:`Cluster`; nothing is process-global, so several emulators
can run in one process (tests) and :meth:`Cluster.reset` really starts over.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lab.k8s.backends import Backends
from lab.k8s.events import EventRecorder
from lab.k8s.faults import Faults
from lab.k8s.logs import PodLogs
from lab.k8s.registry import ImageRegistry
from lab.k8s.resources import DEPLOYMENTS, REPLICASETS
from lab.k8s.stats import RequestStats
from lab.k8s.store import Store

Obj = dict[str, Any]

# Buckets the seed makes no object in and no controller or lab process acts on, so a
# conditional reset gives them back their seeded state by emptying them: a read-only sweep
# takes and releases its sweep Lease, and that alone must not replace every pod.
RESTORED_IN_PLACE = frozenset({"leases"})


@dataclass
class Settings:
    token: str | None = None
    api_log_file: str | None = None
    seed: str = "rolerabbit"
    pod_startup_seconds: float = 0.5
    # How often metrics.k8s.io measures (metrics-server's --metric-resolution, 15 s by
    # default); between measurements it serves the same one. 0: measure at every read.
    metric_resolution_seconds: float = 15.0
    metric_resolution_origin: float = 0.0  # epoch seconds of a measurement (ticks count from it)
    # How often an idle watch sends a BOOKMARK when the client allows them.
    bookmark_seconds: float = 1.0
    # How often a crash-looping container restarts (seconds).
    crash_interval_seconds: float = 1.0
    # Time between ErrImagePull and ImagePullBackOff.
    image_backoff_seconds: float = 1.0
    # The regcred pull secret's (registry host, username, password): the lab's registry's
    # real credentials, given by the supervisor (--registry-credentials FILE).
    registry_credentials: tuple[str, str, str] = (
        "ghcr.io",
        "rolerabbit-ci",
        "lab-registry-token-not-a-secret",
    )
    # rolerabbit-secrets' DATABASE_URL: the lab's real one for the API's role, given by the
    # supervisor (--app-secrets FILE), so the API pods connect with what the Secret says.
    app_database_url: str = "postgresql://rolerabbit:lab-not-a-secret@127.0.0.1:5432/rolerabbit"


class Cluster:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = Store()
        self.recorder = EventRecorder(self.store)
        self.faults = Faults()
        self.registry = ImageRegistry()
        self.logs = PodLogs()
        self.stats = RequestStats()
        # The lab processes serving pods (pod proxy, pods' log files); the lab posts them.
        self.backends = Backends()
        # The buckets written through the API since the last seed, and whether a fault
        # hook ran: a conditional reset (`POST /_lab/reset {"if_changed": true}`) re-seeds
        # only when either changed what the seed made (see needs_reseed).
        self.written: set[str] = set()
        self.hooked = False

    @property
    def lock(self) -> Any:
        return self.store.lock

    @property
    def needs_reseed(self) -> bool:
        """Whether a conditional reset must re-seed: a hook ran, or the API wrote a bucket
        that a conditional reset cannot give back its seeded state in place."""
        return self.hooked or not self.written <= RESTORED_IN_PLACE

    def restore_in_place(self) -> list[str]:
        """Give the buckets in RESTORED_IN_PLACE back their seeded state (the seed makes no
        object in them) without touching anything else; the caller holds the lock."""
        removed = []
        for bucket in sorted(self.written & RESTORED_IN_PLACE):
            for obj in self.store.items(bucket):
                meta = obj["metadata"]
                self.store.remove(bucket, meta.get("namespace", ""), meta["name"])
                removed.append(f"{bucket}/{meta['name']}")
        self.written.clear()
        return removed

    def seeded(self) -> None:
        """The store now holds exactly the seed."""
        self.written.clear()
        self.hooked = False

    def owner(self, obj: Obj, kind: str) -> str | None:
        """Name of the controlling owner of the given kind, if any."""
        for ref in obj["metadata"].get("ownerReferences") or []:
            if ref.get("kind") == kind and ref.get("controller", True):
                return str(ref.get("name"))
        return None

    def deployment_of(self, pod: Obj) -> str | None:
        """The deployment a pod belongs to, through its replica set."""
        rs_name = self.owner(pod, "ReplicaSet")
        if rs_name is None:
            return None
        rs = self.store.get(REPLICASETS.bucket, pod["metadata"].get("namespace", ""), rs_name)
        return None if rs is None else self.owner(rs, "Deployment")

    def newest_replicaset(self, namespace: str, deployment: str) -> Obj | None:
        owned = [
            rs
            for rs in self.store.items(REPLICASETS.bucket, namespace)
            if self.owner(rs, "Deployment") == deployment
        ]
        if not owned or self.store.get(DEPLOYMENTS.bucket, namespace, deployment) is None:
            return None
        return max(
            owned,
            key=lambda rs: int(
                rs["metadata"].get("annotations", {}).get("deployment.kubernetes.io/revision", "0")
            ),
        )
