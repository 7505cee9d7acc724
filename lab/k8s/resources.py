"""The catalogue of API resources the emulator serves.

One :class:`ResourceType` per (group, version, plural).  ``storage`` names the
bucket in the store that holds the objects, so that two API views of the same
data (core/v1 events and events.k8s.io/v1 events) share one bucket.  Metrics
resources are ``virtual``: computed on read, never stored.
"""

from __future__ import annotations

from dataclasses import dataclass

READ_VERBS = ("get", "list", "watch")
ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    categories: tuple[str, ...] = ()
    storage: str = ""
    virtual: bool = False
    has_generation: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def bucket(self) -> str:
        return self.storage or self.plural

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"


CORE = "v1"
_ALL = ("all",)

RESOURCES: tuple[ResourceType, ...] = (
    ResourceType("", CORE, "namespaces", "namespace", "Namespace", False, ("ns",), ("status",)),
    ResourceType("", CORE, "nodes", "node", "Node", False, ("no",), ("status",)),
    ResourceType("", CORE, "pods", "pod", "Pod", True, ("po",), ("status", "log"), categories=_ALL),
    ResourceType("", CORE, "events", "event", "Event", True, ("ev",)),
    ResourceType("", CORE, "configmaps", "configmap", "ConfigMap", True, ("cm",)),
    ResourceType("", CORE, "secrets", "secret", "Secret", True),
    ResourceType("", CORE, "serviceaccounts", "serviceaccount", "ServiceAccount", True, ("sa",)),
    ResourceType(
        "", CORE, "services", "service", "Service", True, ("svc",), ("status",), categories=_ALL
    ),
    ResourceType("", CORE, "endpoints", "endpoints", "Endpoints", True, ("ep",)),
    ResourceType(
        "apps",
        "v1",
        "deployments",
        "deployment",
        "Deployment",
        True,
        ("deploy",),
        ("status", "scale"),
        categories=_ALL,
        has_generation=True,
    ),
    ResourceType(
        "apps",
        "v1",
        "replicasets",
        "replicaset",
        "ReplicaSet",
        True,
        ("rs",),
        ("status", "scale"),
        categories=_ALL,
        has_generation=True,
    ),
    ResourceType(
        "events.k8s.io", "v1", "events", "event", "Event", True, ("ev",), storage="events"
    ),
    ResourceType(
        "networking.k8s.io",
        "v1",
        "networkpolicies",
        "networkpolicy",
        "NetworkPolicy",
        True,
        ("netpol",),
        has_generation=True,
    ),
    # What runners coordinate with (the suite's sweep Lease, leader election): plain
    # objects, no status, optimistic concurrency on resourceVersion like every write.
    ResourceType("coordination.k8s.io", "v1", "leases", "lease", "Lease", True),
    # What `kubectl apply -k deploy/overlays/...` creates: stored and served, never run or
    # enforced (no CronJob controller, no authorizer).
    ResourceType(
        "batch",
        "v1",
        "cronjobs",
        "cronjob",
        "CronJob",
        True,
        ("cj",),
        ("status",),
        categories=_ALL,
        has_generation=True,
    ),
    ResourceType("rbac.authorization.k8s.io", "v1", "roles", "role", "Role", True),
    ResourceType(
        "rbac.authorization.k8s.io", "v1", "rolebindings", "rolebinding", "RoleBinding", True
    ),
    ResourceType(
        "rbac.authorization.k8s.io", "v1", "clusterroles", "clusterrole", "ClusterRole", False
    ),
    ResourceType(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "clusterrolebinding",
        "ClusterRoleBinding",
        False,
    ),
    ResourceType(
        "metrics.k8s.io",
        "v1beta1",
        "pods",
        "",
        "PodMetrics",
        True,
        verbs=("get", "list"),
        storage="metrics.pods",
        virtual=True,
    ),
    ResourceType(
        "metrics.k8s.io",
        "v1beta1",
        "nodes",
        "",
        "NodeMetrics",
        False,
        verbs=("get", "list"),
        storage="metrics.nodes",
        virtual=True,
    ),
)

GROUP_VERSIONS: tuple[tuple[str, str], ...] = (
    ("apps", "v1"),
    ("events.k8s.io", "v1"),
    ("networking.k8s.io", "v1"),
    ("coordination.k8s.io", "v1"),
    ("batch", "v1"),
    ("rbac.authorization.k8s.io", "v1"),
    ("metrics.k8s.io", "v1beta1"),
)

_BY_PATH = {(r.group, r.version, r.plural): r for r in RESOURCES}


def lookup(group: str, version: str, plural: str) -> ResourceType | None:
    return _BY_PATH.get((group, version, plural))


def resources_in(group: str, version: str) -> list[ResourceType]:
    return [r for r in RESOURCES if r.group == group and r.version == version]


def by_plural(plural: str, group: str = "") -> ResourceType:
    """The resource type owning a storage bucket (used by controllers)."""
    found = _BY_PATH.get((group, "v1", plural))
    if found is None:
        raise KeyError(plural)
    return found


PODS = by_plural("pods")
NODES = by_plural("nodes")
NAMESPACES = by_plural("namespaces")
EVENTS = by_plural("events")
CONFIGMAPS = by_plural("configmaps")
SECRETS = by_plural("secrets")
SERVICEACCOUNTS = by_plural("serviceaccounts")
SERVICES = by_plural("services")
ENDPOINTS = by_plural("endpoints")
DEPLOYMENTS = by_plural("deployments", "apps")
REPLICASETS = by_plural("replicasets", "apps")
