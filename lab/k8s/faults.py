"""State of the injected faults, read by the kubelet simulation and metrics.

The HTTP side lives in :mod:`lab.k8s.hooks`; this module only holds what is
in force.  A target is a deployment or a pod in a namespace; a pod matches a
deployment target when it belongs to one of the deployment's replica sets.
Every change bumps :attr:`Faults.generation` so the kubelet re-examines pods
it had considered settled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Target:
    kind: str  # "deployment" or "pod"
    namespace: str
    name: str


@dataclass
class CrashLoop:
    existing: bool
    new: bool
    existing_uids: frozenset[str]
    interval: float
    exit_code: int = 1
    reason: str = "Error"


@dataclass
class Faults:
    crashloop: dict[Target, CrashLoop] = field(default_factory=dict)
    oom: dict[Target, CrashLoop] = field(default_factory=dict)
    memory_climb: dict[Target, tuple[float, float]] = field(default_factory=dict)  # MiB/s, start
    cpu_usage: dict[Target, int] = field(default_factory=dict)  # millicores
    unschedulable: dict[Target, str] = field(default_factory=dict)  # message
    probe_failure: dict[Target, str] = field(default_factory=dict)  # message
    generation: int = 0

    def touch(self) -> None:
        self.generation += 1

    def clear(self) -> None:
        for table in (
            self.crashloop,
            self.oom,
            self.memory_climb,
            self.cpu_usage,
            self.unschedulable,
            self.probe_failure,
        ):
            table.clear()
        self.touch()


def lookup(
    table: dict[Target, T], pod_namespace: str, pod_name: str, deployment: str | None
) -> T | None:
    """The fault for a pod: a pod-level entry wins over its deployment's."""
    found = table.get(Target("pod", pod_namespace, pod_name))
    if found is None and deployment:
        found = table.get(Target("deployment", pod_namespace, deployment))
    return found


def crash_applies(loop: CrashLoop, pod_uid: str) -> bool:
    """Whether a crash-loop fault covers this pod (pods that existed, new ones, or both)."""
    is_new = pod_uid not in loop.existing_uids
    return (loop.new and is_new) or (loop.existing and not is_new)
