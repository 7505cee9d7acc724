"""The deployment section's faults: real Kubernetes API changes and the emulator's hooks.

    bad-image             set image to a tag the registry lacks (revisions=2: two bad
                          releases in a row), short progress deadline
                                          -> DEP-101, DEP-103, DEP-105, DEP-107, DEP-108
    registry-auth-failure pulls of the running image fail; a restart
                             -> DEP-101, DEP-103, DEP-105, DEP-107, DEP-108 (manual fix)
    unschedulable-release a new revision whose pods no node can take
                                                          -> DEP-101, DEP-103, DEP-107
    crashloop             existing pods crash-loop (new pods are fine)
                                                 -> DEP-102, DEP-104, DEP-107, DEP-108
    oom                   existing pods are OOMKilled, crash-looping
                                        -> DEP-102, DEP-104, DEP-107, DEP-108, DEP-110
    probe-failure         existing pods fail their readiness probe     -> DEP-107
    unschedulable         one more replica that no node can take       -> DEP-103, DEP-107
    missing-config-key    env from a ConfigMap key that does not exist
                                          -> DEP-102, DEP-103, DEP-107, DEP-108, DEP-109
    regcred-broken        regcred holds credentials for another registry -> DEP-106
    no-limits             the API container's limits removed            -> DEP-111
    cpu-hot               worker containers use 90% of their CPU limit  -> DEP-112
    node-memory-pressure  node-1 reports MemoryPressure                 -> DEP-113
    warning-event         a FailedMount Warning event on an API pod     -> DEP-108
    worker-scaled-down    the worker deployment scaled to 1             -> DEP-114

Pods that cannot start are Pending and unready: DEP-103/107 count them once past the lab
profile's seconds (lab/outputs.py), and those faults return from inject once they are.
DEP-101 calls a deployment short of available replicas without a short progress deadline
a rollout in progress (skipped): the faults list it as unjudged.

One module per kind of fault: releases.py (image, pull credentials, configuration), pods.py
(crashes, probes, Warning events), capacity.py (limits, usage, nodes, scheduling, replicas).
The Kubernetes client and the spec-restoring base faults they build on are in
lab/faults/_kubernetes.py, shared with the errors and performance sections' faults (which
import them from here). `load_fault_modules()` imports this package like any section
module, and the imports below run each module's `@register` once.
"""

from __future__ import annotations

from lab.faults._kubernetes import KubeApi, SpecRestoringFault
from lab.faults.deployment import capacity, pods, releases

__all__ = ["KubeApi", "SpecRestoringFault", "capacity", "pods", "releases"]
