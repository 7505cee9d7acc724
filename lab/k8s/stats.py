"""Request counters per verb and resource, served at ``GET /_lab/stats``.

The suite uses them to prove its checks read snapshots (one LIST per type)
rather than polling object by object.

Each request is also counted under its client, named by the product of its
``User-Agent`` (``kubectl/v1.30.0 (linux/amd64)`` is ``kubectl``; none is
``unknown``), so a count can leave out the lab's own background clients (the
pod->process bridges list pods twice a second as ``rolerabbit-lab-bridge``, the API
balancer NetworkPolicies and API pods once a second as ``rolerabbit-lab-balancer``):

    GET /_lab/stats                     {"list pods": 3, ...}  every client
    GET /_lab/stats?agent=NAME          the same, for one client only
    GET /_lab/stats?by=agent            {"NAME": {"list pods": 1, ...}, ...}

And by how a LIST was served: ``cache`` when it asked for ``resourceVersion=0`` (any
version: a real API server answers it from its watch cache), ``storage`` otherwise (a
consistent read, from etcd on a real server); other verbs are ``storage`` too:

    GET /_lab/stats?served=cache        the LISTs served as from the watch cache
    GET /_lab/stats?by=served           {"cache": {...}, "storage": {...}}

And by what the client asked to be shown (its Accept header): ``object`` (the resource's
own JSON), ``metadata`` (``as=PartialObjectMetadata(List)``: metadata only, no values) or
``table`` (``as=Table``, kubectl's):

    GET /_lab/stats?shape=metadata      the requests answered with metadata only
    GET /_lab/stats?by=shape            {"metadata": {...}, "object": {...}}

Filters combine (``?agent=kubectl&served=cache&shape=object``).

And as RBAC names what was asked: the verb and the resource as ``kubectl auth can-i``
spells it, with its API group and subresource (``list deployments.apps``, ``patch
deployments.apps/scale``, ``get pods/log``, ``get pods/proxy``), so a client's requests can
be held to a Role's rules (the plain keys above leave out the core and apps groups):

    GET /_lab/stats/access?agent=NAME   {"get pods/log": 2, "list deployments.apps": 1, ...}

Benchmarks also read `serving_cpu_s`: the CPU seconds the HTTP handler threads spent on
Kubernetes API requests (the emulator's own serving cost, apart from its controller thread
and from its client's).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping

UNKNOWN_AGENT = "unknown"
DIMENSIONS = ("agent", "served", "shape")
SHAPES = ("object", "metadata", "table")


def agent_of(headers: Mapping[str, str]) -> str:
    """The product name of a request's User-Agent: its first token, without the version."""
    value = (headers.get("User-Agent") or "").strip()
    product = value.split(None, 1)[0].split("/", 1)[0] if value else ""
    return product or UNKNOWN_AGENT


def served_from(verb: str, params: Mapping[str, str]) -> str:
    return "cache" if verb == "list" and params.get("resourceVersion") == "0" else "storage"


def shape_of(headers: Mapping[str, str]) -> str:
    """What the Accept header asks to be shown: metadata only, a Table, or the object."""
    accept = headers.get("Accept") or ""
    if "as=PartialObjectMetadata" in accept:
        return "metadata"
    return "table" if "as=Table" in accept else "object"


class RequestStats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        # (agent, served, shape) -> "verb resource" -> count
        self._counts: dict[tuple[str, str, str], Counter[str]] = {}
        # agent -> "verb resource.group/subresource" -> count
        self._access: dict[str, Counter[str]] = {}
        self.serving_cpu_s = 0.0

    def add_cpu(self, seconds: float) -> None:
        with self._lock:
            self.serving_cpu_s += seconds

    def count(
        self,
        verb: str,
        resource: str,
        agent: str = UNKNOWN_AGENT,
        served: str = "storage",
        shape: str = "object",
        access: str = "",
    ) -> None:
        """Count one request; `access` is its resource as RBAC names it (default
        `resource`)."""
        with self._lock:
            key = (agent, served, shape)
            self._counts.setdefault(key, Counter())[f"{verb} {resource}"] += 1
            self._access.setdefault(agent, Counter())[f"{verb} {access or resource}"] += 1

    def access(self, agent: str | None = None) -> dict[str, int]:
        """Counts by "verb resource.group/subresource", of every client or one."""
        with self._lock:
            total: Counter[str] = Counter()
            for name, counts in self._access.items():
                if agent in (None, name):
                    total.update(counts)
            return dict(sorted(total.items()))

    def snapshot(
        self, agent: str | None = None, served: str | None = None, shape: str | None = None
    ) -> dict[str, int]:
        """Counts by "verb resource": every request's, or those of one client / one way /
        one shape."""
        with self._lock:
            total: Counter[str] = Counter()
            for key, counts in self._counts.items():
                if _selected(key, agent, served, shape):
                    total.update(counts)
            return dict(sorted(total.items()))

    def grouped(
        self,
        by: str,
        agent: str | None = None,
        served: str | None = None,
        shape: str | None = None,
    ) -> dict[str, dict[str, int]]:
        """The counts of each client (by="agent"), each way of serving (by="served") or
        each shape shown (by="shape")."""
        index = DIMENSIONS.index(by)
        with self._lock:
            groups: dict[str, Counter[str]] = {}
            for key, counts in self._counts.items():
                if _selected(key, agent, served, shape):
                    groups.setdefault(key[index], Counter()).update(counts)
            return {name: dict(sorted(c.items())) for name, c in sorted(groups.items())}

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
            self._access.clear()
            self.serving_cpu_s = 0.0


def _selected(
    key: tuple[str, str, str], agent: str | None, served: str | None, shape: str | None
) -> bool:
    return all(want in (None, got) for want, got in zip((agent, served, shape), key, strict=True))
