"""The lab control API under ``/_lab/``: fault hooks, reset, stats.

Never under /api or /apis, never authenticated, JSON in and out.  Every hook
is idempotent (posting it twice changes nothing more) and clearable, either
with ``"enabled": false`` in the same body or through ``/_lab/hooks/clear``.
Targets name a namespace (default ``rolerabbit-production``) and either a
``deployment`` or a ``pod``; a deployment target covers all its pods.

=================================  ==========================================================
``POST /_lab/hooks/<name>``        body and effect
=================================  ==========================================================
crashloop                          {deployment|pod, scope: all|existing|new, interval_seconds,
                                   exit_code}: containers CrashLoopBackOff, restartCount
                                   rising every interval, lastState.terminated Error
oom                                {deployment|pod, interval_seconds}: as crashloop with
                                   lastState.terminated.reason OOMKilled, exit code 137
image-unpullable                   {image}: pulls of that exact image fail (ErrImagePull, then
                                   ImagePullBackOff); tags the lab never pushed to its
                                   registry always do
memory-climb                       {deployment|pod, mib_per_second}: PodMetrics memory grows
cpu-usage                          {deployment|pod, millicores}: PodMetrics CPU fixed
pending-unschedulable              {deployment, message?}: new pods stay Pending, no node,
                                   FailedScheduling events quoting message (default
                                   "0/3 nodes are available: 3 Insufficient memory.")
probe-failure                      {deployment|pod, message?}: running but not Ready, Unhealthy
                                   events (default "Readiness probe failed: HTTP probe failed
                                   with statuscode: 503")
node-condition                     {node, type: MemoryPressure|DiskPressure|PIDPressure,
                                   status: "True"|"False"}: sets the node condition
add-logs                           {pod | deployment [+ newest_revision: true], lines: [str],
                                   container?}: appends lines to the pods' log buffers
warning-event                      {kind, name, reason, message, type?: Warning}: records an
                                   Event on that object (deduplicated, count++)
set-pod-startup                    {seconds}: delay before new containers run and turn Ready
metric-resolution                  {seconds}: metrics.k8s.io measures every that many seconds
                                   (metrics-server's --metric-resolution), from now on
seed-pods                          {count, namespace?: "bench", prefix?: "bench",
                                   labels?}: creates that many bare pods (benchmarks)
clear                              {hook?}: clears one hook by name, or every hook
=================================  ==========================================================

Other endpoints: ``GET /_lab/hooks`` (what is in force), ``POST /_lab/reset``
(wipe and reseed; with ``{"if_changed": true}`` only when a hook or an API write changed
what the seed made since the last reseed, else it empties the buckets the seed leaves
empty, such as a sweep's Lease, and clears the pods' logs unless ``"clear_logs": false``),
``GET /_lab/stats``
(request counts such as ``{"list pods": 3}``; ``?agent=NAME`` counts one client only, named by
its User-Agent's product, ``?served=cache`` the LISTs asking for ``resourceVersion=0``,
``?shape=metadata`` the requests answered with metadata only, and ``?by=agent``,
``?by=served`` or ``?by=shape`` groups them: :mod:`lab.k8s.stats`),
``POST /_lab/stats/reset``,
and ``GET|POST /_lab/pod-backends`` (the lab processes serving
pods, see :mod:`lab.k8s.backends`; a post changes no cluster object).
Errors come back as Kubernetes ``Status`` objects (400 for a bad body, 404 for
an unknown target or endpoint).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lab.k8s import errors
from lab.k8s.backends import parse_backends
from lab.k8s.cluster import Cluster
from lab.k8s.faults import CrashLoop, Target
from lab.k8s.hook_actions import HookActions
from lab.k8s.routing import Request, Response
from lab.k8s.seed import seed_cluster
from lab.k8s.stats import DIMENSIONS

if TYPE_CHECKING:
    from lab.k8s.controller import Controller

Obj = dict[str, Any]
DEFAULT_NAMESPACE = "rolerabbit-production"
DEFAULT_UNSCHEDULABLE = "0/3 nodes are available: 3 Insufficient memory."
DEFAULT_PROBE = "Readiness probe failed: HTTP probe failed with statuscode: 503"


def _target(body: Obj, allow_pod: bool = True) -> Target:
    namespace = str(body.get("namespace") or DEFAULT_NAMESPACE)
    if body.get("deployment"):
        return Target("deployment", namespace, str(body["deployment"]))
    if allow_pod and body.get("pod"):
        return Target("pod", namespace, str(body["pod"]))
    wanted = "deployment or pod" if allow_pod else "deployment"
    raise errors.bad_request(f"the hook needs a target: give {wanted!r} (and namespace)")


def _enabled(body: Obj) -> bool:
    return body.get("enabled", True) is not False


def _number(body: Obj, key: str, default: float | None = None) -> float:
    value = body.get(key, default)
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise errors.bad_request(f"{key!r} must be a number")
    return float(value)


class LabApi:
    def __init__(self, cluster: Cluster, controller: Controller) -> None:
        self.cluster = cluster
        self.controller = controller
        self.actions = HookActions(cluster)
        self._hooks: dict[str, Callable[[Obj], Obj]] = {
            "crashloop": self._crashloop,
            "oom": self._oom,
            "image-unpullable": self._image_unpullable,
            "memory-climb": self._memory_climb,
            "cpu-usage": self._cpu_usage,
            "pending-unschedulable": self._unschedulable,
            "probe-failure": self._probe_failure,
            "node-condition": self.actions.node_condition,
            "add-logs": self.actions.add_logs,
            "warning-event": self.actions.warning_event,
            "set-pod-startup": self._pod_startup,
            "metric-resolution": self._metric_resolution,
            "seed-pods": self.actions.seed_pods,
            "clear": self._clear,
        }

    def handle(self, request: Request) -> Response:
        try:
            return self._dispatch(request)
        except errors.ApiError as error:
            return Response.error(error)

    def _dispatch(self, request: Request) -> Response:
        path, method = request.path.rstrip("/"), request.method
        cluster = self.cluster
        if path == "/_lab/stats" and method == "GET":
            params = request.params
            agent, served = params.get("agent") or None, params.get("served") or None
            shape, by = params.get("shape") or None, params.get("by")
            if by is None:
                return Response.of(cluster.stats.snapshot(agent, served, shape))
            if by not in DIMENSIONS:
                raise errors.bad_request(f"by must be one of {', '.join(DIMENSIONS)}")
            return Response.of(cluster.stats.grouped(by, agent, served, shape))
        if path == "/_lab/stats/access" and method == "GET":
            return Response.of(cluster.stats.access(request.params.get("agent") or None))
        if path == "/_lab/stats/reset" and method == "POST":
            cluster.stats.reset()
            return Response.of({"ok": True})
        if path == "/_lab/pod-backends" and method == "GET":
            return Response.of(cluster.backends.describe())
        if path == "/_lab/pod-backends" and method == "POST":
            backends = parse_backends(request.json_body())
            cluster.backends.replace(backends)
            return Response.of({"ok": True, "pods": sorted(backends.pods)})
        if path == "/_lab/hooks" and method == "GET":
            with cluster.lock:
                return Response.of(self.actions.describe())
        if path == "/_lab/reset" and method == "POST":
            body = request.json_body() or {}
            if isinstance(body, dict) and body.get("if_changed") and not cluster.needs_reseed:
                with cluster.lock:
                    restored = cluster.restore_in_place()
                    if body.get("clear_logs", True) is not False:
                        cluster.logs.clear()  # the pods stay: only what they logged goes
                return Response.of({"ok": True, "reseeded": False, "removed": restored})
            self.reset()
            return Response.of({"ok": True, "reseeded": True})
        name = path.removeprefix("/_lab/hooks/")
        if name in self._hooks and method == "POST":
            body = request.json_body() or {}
            if not isinstance(body, dict):
                raise errors.bad_request("the hook body must be a JSON object")
            with cluster.lock:
                before = self._state()
                result = self._hooks[name](body)
                cluster.faults.touch()
                # A hook that changed nothing (clearing what a re-seed already cleared, as
                # `lab reset` does right after one) leaves nothing for a re-seed to undo.
                cluster.hooked = cluster.hooked or self._state() != before
            return Response.of({"ok": True, "hook": name, **result})
        raise errors.ApiError(404, "NotFound", f"no lab endpoint {method} {path}")

    def _state(self) -> tuple[Any, ...]:
        """What a hook can change: the faults in force, the unpullable images, the pods'
        start-up delay and metrics resolution, and (through the store's version) objects.
        The pods' logs are left out: hooks add lines only for a fault, and a reset after
        a fault clears them (the lab asks for that: `clear_logs`)."""
        cluster, faults = self.cluster, self.cluster.faults
        tables = (faults.crashloop, faults.oom, faults.memory_climb, faults.cpu_usage,
                  faults.unschedulable, faults.probe_failure)  # fmt: skip
        return (
            tuple(sorted(table.items(), key=repr) for table in tables),
            tuple(cluster.registry.unpullable()),
            cluster.settings.pod_startup_seconds,
            cluster.settings.metric_resolution_seconds,
            cluster.store.resource_version,
        )

    def reset(self) -> None:
        cluster = self.cluster
        with cluster.lock:
            cluster.store.clear()
            cluster.recorder.reset()
            cluster.faults.clear()
            cluster.registry.reset()
            cluster.logs.clear()
            cluster.settings.pod_startup_seconds = self.actions.initial_startup
            cluster.settings.metric_resolution_seconds = self.actions.initial_resolution
            self.controller.reset()
            seed_cluster(cluster, cluster.settings.seed)
            cluster.seeded()

    def _crash(self, table: dict[Target, CrashLoop], body: Obj, reason: str, code: int) -> Obj:
        target = _target(body)
        if not _enabled(body):
            table.pop(target, None)
            return {"active": False}
        scope = str(body.get("scope") or "all")
        if scope not in ("all", "existing", "new"):
            raise errors.bad_request("scope must be all, existing or new")
        existing = table.get(target)
        if existing is None or (existing.existing, existing.new) != (
            scope != "new",
            scope != "existing",
        ):
            table[target] = CrashLoop(
                existing=scope != "new",
                new=scope != "existing",
                existing_uids=self.actions.pod_uids(target),
                interval=_number(body, "interval_seconds", cluster_interval(self.cluster)),
                exit_code=int(body.get("exit_code", code)),
                reason=reason,
            )
        return {"active": True, "scope": scope}

    def _crashloop(self, body: Obj) -> Obj:
        return self._crash(self.cluster.faults.crashloop, body, "Error", 1)

    def _oom(self, body: Obj) -> Obj:
        return self._crash(self.cluster.faults.oom, body, "OOMKilled", 137)

    def _image_unpullable(self, body: Obj) -> Obj:
        image = body.get("image")
        if not isinstance(image, str) or not image:
            raise errors.bad_request("'image' must name an image reference")
        self.cluster.registry.mark_unpullable(image, _enabled(body))
        return {"active": _enabled(body), "image": image}

    def _memory_climb(self, body: Obj) -> Obj:
        target, table = _target(body), self.cluster.faults.memory_climb
        if not _enabled(body):
            table.pop(target, None)
            return {"active": False}
        rate = _number(body, "mib_per_second", 5.0)
        if target not in table or table[target][0] != rate:
            table[target] = (rate, time.time())  # wall time: metrics are measured at ticks
        return {"active": True}

    def _cpu_usage(self, body: Obj) -> Obj:
        target, table = _target(body), self.cluster.faults.cpu_usage
        if not _enabled(body):
            table.pop(target, None)
            return {"active": False}
        table[target] = int(_number(body, "millicores"))
        return {"active": True}

    def _unschedulable(self, body: Obj) -> Obj:
        target, table = _target(body, allow_pod=False), self.cluster.faults.unschedulable
        if not _enabled(body):
            table.pop(target, None)
            return {"active": False}
        table[target] = str(body.get("message") or DEFAULT_UNSCHEDULABLE)
        return {"active": True}

    def _probe_failure(self, body: Obj) -> Obj:
        target, table = _target(body), self.cluster.faults.probe_failure
        if not _enabled(body):
            table.pop(target, None)
            return {"active": False}
        table[target] = str(body.get("message") or DEFAULT_PROBE)
        return {"active": True}

    def _pod_startup(self, body: Obj) -> Obj:
        seconds = _number(body, "seconds", self.actions.initial_startup)
        if not _enabled(body):
            seconds = self.actions.initial_startup
        self.cluster.settings.pod_startup_seconds = max(0.0, seconds)
        return {"seconds": self.cluster.settings.pod_startup_seconds}

    def _metric_resolution(self, body: Obj) -> Obj:
        settings = self.cluster.settings
        seconds = _number(body, "seconds", self.actions.initial_resolution)
        if not _enabled(body):
            seconds = self.actions.initial_resolution
        if seconds < 0:
            raise errors.bad_request("'seconds' must be 0 (measure at every read) or more")
        settings.metric_resolution_seconds = seconds
        settings.metric_resolution_origin = time.time()
        return {"seconds": seconds}

    def _clear(self, body: Obj) -> Obj:
        name = body.get("hook")
        faults = self.cluster.faults
        tables: dict[str, dict[Target, Any]] = {
            "crashloop": faults.crashloop,
            "oom": faults.oom,
            "memory-climb": faults.memory_climb,
            "cpu-usage": faults.cpu_usage,
            "pending-unschedulable": faults.unschedulable,
            "probe-failure": faults.probe_failure,
        }
        if name is None:
            faults.clear()
            self.cluster.registry.clear_unpullable()
            self.actions.clear_node_conditions()
            self.cluster.settings.pod_startup_seconds = self.actions.initial_startup
            self.cluster.settings.metric_resolution_seconds = self.actions.initial_resolution
            return {"cleared": "all"}
        if name in tables:
            tables[name].clear()
        elif name == "image-unpullable":
            self.cluster.registry.clear_unpullable()
        elif name == "node-condition":
            self.actions.clear_node_conditions()
        elif name == "set-pod-startup":
            self.cluster.settings.pod_startup_seconds = self.actions.initial_startup
        elif name == "metric-resolution":
            self.cluster.settings.metric_resolution_seconds = self.actions.initial_resolution
        elif name not in self._hooks:
            raise errors.bad_request(f"unknown hook {name!r}")
        return {"cleared": name}


def cluster_interval(cluster: Cluster) -> float:
    return cluster.settings.crash_interval_seconds
