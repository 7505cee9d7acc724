"""Kubelet simulation: pod status and events from time, the registry and faults.

A scheduled pod waits ``pod_startup_seconds`` in ContainerCreating, then runs
and becomes Ready, with Scheduled/Pulled/Created/Started events.  What can go
wrong, and how it shows (as ``kubectl describe`` and the suite expect):

* image not in the lab registry -> ErrImagePull, then ImagePullBackOff;
* env/envFrom referencing a missing ConfigMap/Secret or key ->
  CreateContainerConfigError, cleared once the reference resolves;
* crashloop/oom faults -> CrashLoopBackOff, restartCount rising every
  ``crash_interval_seconds``, lastState.terminated (Error or OOMKilled);
* probe-failure fault -> running but not Ready, Unhealthy events;
* a pod the lab serves with a process (``/_lab/pod-backends`` names its selector)
  and a readiness probe -> running but not Ready until that process answers;
* unschedulable fault -> Pending without a node, FailedScheduling events.

Pods that reached a steady state are skipped until a fault changes, so an idle
cluster of thousands of pods costs little per tick.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lab.k8s import faults, meta
from lab.k8s.cluster import Cluster
from lab.k8s.container_config import config_error
from lab.k8s.pod_status import first_port, pod_conditions, pod_ip, qos_class
from lab.k8s.resources import PODS

Obj = dict[str, Any]
WARNING_REPEAT_SECONDS = 2.0


@dataclass
class PodRuntime:
    created: float = field(default_factory=meta.monotonic)
    start_time: str = field(default_factory=meta.rfc3339)
    running_since: str | None = None
    restarts: int = 0
    crash_since: float | None = None
    crash_base: int = 0
    last_crash: str | None = None
    crash_reason: tuple[str, int] = ("Error", 1)
    announced: set[str] = field(default_factory=set)
    last_event: dict[str, float] = field(default_factory=dict)


class Kubelet:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self._runtime: dict[str, PodRuntime] = {}
        # uid -> (faults, backends) generations when settled
        self._settled: dict[str, tuple[int, int]] = {}

    def reset(self) -> None:
        self._runtime.clear()
        self._settled.clear()

    def tick(self, pods: list[Obj]) -> None:
        generation = (self.cluster.faults.generation, self.cluster.backends.generation)
        live = set()
        for pod in pods:
            uid = pod["metadata"]["uid"]
            live.add(uid)
            if self._settled.get(uid) == generation:
                continue
            status, settled = self._simulate(pod, self._runtime.setdefault(uid, PodRuntime()))
            if status != pod.get("status"):
                self.cluster.store.put(PODS.bucket, {**pod, "status": status})
            if settled:
                self._settled[uid] = generation
            else:
                self._settled.pop(uid, None)
        for uid in set(self._runtime) - live:
            del self._runtime[uid]
            self._settled.pop(uid, None)

    def _event(
        self,
        pod: Obj,
        runtime: PodRuntime,
        reason: str,
        message: str,
        warning: bool = False,
        once: bool = False,
        component: str = "kubelet",
    ) -> None:
        key = f"{reason}:{message}" if once else reason
        if once and key in runtime.announced:
            return
        last = runtime.last_event.get(key)
        if last is not None and meta.monotonic() - last < WARNING_REPEAT_SECONDS:
            return
        runtime.announced.add(key)
        runtime.last_event[key] = meta.monotonic()
        node = (pod.get("spec") or {}).get("nodeName")
        self.cluster.recorder.record(
            pod, reason, message, "Warning" if warning else "Normal", component, node
        )

    def _simulate(self, pod: Obj, runtime: PodRuntime) -> tuple[Obj, bool]:
        metadata, spec = pod["metadata"], pod.get("spec") or {}
        namespace, name = metadata.get("namespace", ""), metadata["name"]
        previous = pod.get("status") or {}
        qos = qos_class(spec)
        if not spec.get("nodeName"):
            nodes = len(self.cluster.store.items("nodes"))
            message = faults.lookup(
                self.cluster.faults.unschedulable, namespace, name, self.cluster.deployment_of(pod)
            )
            text = str(
                message or f"0/{nodes} nodes are available: {nodes} node(s) were unschedulable."
            )
            self._event(
                pod, runtime, "FailedScheduling", text, warning=True, component="default-scheduler"
            )
            conditions = pod_conditions(
                previous, {"PodScheduled": ("False", "Unschedulable", text)}
            )
            return {"phase": "Pending", "conditions": conditions, "qosClass": qos}, False
        node = spec["nodeName"]
        self._event(
            pod,
            runtime,
            "Scheduled",
            f"Successfully assigned {namespace}/{name} to {node}",
            once=True,
            component="default-scheduler",
        )
        statuses, settled = [], True
        for container in spec.get("containers") or []:
            status, steady = self._container(pod, container, runtime)
            statuses.append(status)
            settled = settled and steady
        started = any(s.get("state", {}).get("running") or s["restartCount"] for s in statuses)
        all_ready = bool(statuses) and all(s["ready"] for s in statuses)
        ready = (
            ("True", "", "")
            if all_ready
            else (
                "False",
                "ContainersNotReady",
                "containers with unready status: ["
                + " ".join(s["name"] for s in statuses if not s["ready"])
                + "]",
            )
        )
        conditions = pod_conditions(
            previous,
            {
                "PodReadyToStartContainers": ("True", "", ""),
                "Initialized": ("True", "", ""),
                "Ready": ready,
                "ContainersReady": ready,
                "PodScheduled": ("True", "", ""),
            },
        )
        node_index = int("".join(ch for ch in node if ch.isdigit()) or "0")
        status = {
            "phase": "Running" if started else "Pending",
            "conditions": conditions,
            "hostIP": f"10.0.0.{10 + node_index}",
            "hostIPs": [{"ip": f"10.0.0.{10 + node_index}"}],
            "podIP": pod_ip(pod, node_index),
            "podIPs": [{"ip": pod_ip(pod, node_index)}],
            "startTime": runtime.start_time,
            "containerStatuses": statuses,
            "qosClass": qos,
        }
        return status, settled and all_ready

    def _container(self, pod: Obj, container: Obj, runtime: PodRuntime) -> tuple[Obj, bool]:
        cluster, settings = self.cluster, self.cluster.settings
        metadata = pod["metadata"]
        namespace, name, uid = metadata.get("namespace", ""), metadata["name"], metadata["uid"]
        cname, image = str(container.get("name", "")), str(container.get("image", ""))
        elapsed = meta.monotonic() - runtime.created
        base: Obj = {
            "name": cname,
            "image": image,
            "imageID": "",
            "ready": False,
            "started": False,
            "restartCount": runtime.restarts,
        }
        if runtime.last_crash:
            reason, code = runtime.crash_reason
            base["lastState"] = {
                "terminated": {
                    "exitCode": code,
                    "reason": reason,
                    "startedAt": runtime.running_since or runtime.start_time,
                    "finishedAt": runtime.last_crash,
                    "containerID": f"containerd://{uid[:8]}",
                }
            }
        else:
            base["lastState"] = {}
        # Only a container not yet started pulls: a running one keeps the image it has.
        if runtime.running_since is None and not cluster.registry.pullable(image):
            self._event(pod, runtime, "Pulling", f'Pulling image "{image}"', once=True)
            detail = f'failed to pull and unpack image "{image}": not found'
            self._event(
                pod,
                runtime,
                "Failed",
                f'Failed to pull image "{image}": rpc error: code = NotFound desc = {detail}',
                warning=True,
                once=True,
            )
            if elapsed < settings.image_backoff_seconds:
                return {
                    **base,
                    "state": {
                        "waiting": {
                            "reason": "ErrImagePull",
                            "message": f"rpc error: code = NotFound desc = {detail}",
                        }
                    },
                }, False
            self._event(pod, runtime, "BackOff", f'Back-off pulling image "{image}"', warning=True)
            return {
                **base,
                "state": {
                    "waiting": {
                        "reason": "ImagePullBackOff",
                        "message": f'Back-off pulling image "{image}"',
                    }
                },
            }, False
        if runtime.running_since is None:
            if elapsed < settings.pod_startup_seconds:
                return {**base, "state": {"waiting": {"reason": "ContainerCreating"}}}, False
            problem = config_error(cluster, namespace, container)
            if problem:
                self._event(pod, runtime, "Failed", f"Error: {problem}", warning=True)
                return {
                    **base,
                    "state": {
                        "waiting": {"reason": "CreateContainerConfigError", "message": problem}
                    },
                }, False
            self._event(
                pod,
                runtime,
                "Pulled",
                f'Container image "{image}" already present on machine',
                once=True,
            )
            self._event(pod, runtime, "Created", f"Created container {cname}", once=True)
            self._event(pod, runtime, "Started", f"Started container {cname}", once=True)
            runtime.running_since = meta.rfc3339()
            cluster.logs.append(namespace, name, cname, f"{cname} starting (image {image})")
            cluster.logs.append(
                namespace, name, cname, f"{cname} ready on port {first_port(container)}"
            )
        base["imageID"] = cluster.registry.image_id(image)
        deployment = cluster.deployment_of(pod)
        crash = faults.lookup(cluster.faults.oom, namespace, name, deployment) or faults.lookup(
            cluster.faults.crashloop, namespace, name, deployment
        )
        if isinstance(crash, faults.CrashLoop) and faults.crash_applies(crash, uid):
            return self._crashing(pod, runtime, base, crash), False
        if runtime.crash_since is not None:  # the fault was cleared: the container stays up now
            runtime.crash_since, runtime.running_since = None, meta.rfc3339()
        running = {
            **base,
            "imageID": base["imageID"],
            "containerID": f"containerd://{uid[:12]}",
            "started": True,
            "state": {"running": {"startedAt": runtime.running_since}},
        }
        probe = faults.lookup(cluster.faults.probe_failure, namespace, name, deployment)
        if probe is not None:
            self._event(pod, runtime, "Unhealthy", str(probe), warning=True)
            return running, False
        if container.get("readinessProbe") and cluster.backends.awaited(pod):
            return running, False  # its probe finds no process listening yet
        return {**running, "ready": True}, True

    def _crashing(self, pod: Obj, runtime: PodRuntime, base: Obj, crash: faults.CrashLoop) -> Obj:
        now = meta.monotonic()
        if runtime.crash_since is None:
            runtime.crash_since, runtime.crash_base = now, runtime.restarts
        restarts = runtime.crash_base + 1 + int((now - runtime.crash_since) / crash.interval)
        metadata = pod["metadata"]
        cname = base["name"]
        if restarts != runtime.restarts or runtime.last_crash is None:
            runtime.restarts, runtime.last_crash = restarts, meta.rfc3339()
            runtime.crash_reason = (crash.reason, crash.exit_code)
            self.cluster.logs.append(
                metadata.get("namespace", ""),
                metadata["name"],
                cname,
                f"{cname} exited: {crash.reason} (exit code {crash.exit_code})",
            )
        pod_ref = f"{metadata['name']}_{metadata.get('namespace', '')}({metadata['uid']})"
        self._event(
            pod,
            runtime,
            "BackOff",
            f"Back-off restarting failed container {cname} in pod {pod_ref}",
            warning=True,
        )
        reason, code = runtime.crash_reason
        return {
            **base,
            "restartCount": restarts,
            "lastState": {
                "terminated": {
                    "exitCode": code,
                    "reason": reason,
                    "startedAt": runtime.running_since,
                    "finishedAt": runtime.last_crash,
                    "containerID": f"containerd://{metadata['uid'][:12]}",
                }
            },
            "state": {
                "waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": f"back-off 10s restarting failed container={cname} pod={pod_ref}",
                }
            },
        }
