"""The deployment section's faults: real Kubernetes API changes and the emulator's hooks.

One module per kind of fault; `lab faults` lists them with the checks they trip. Pods that
cannot start count once past the lab profile's seconds, and those faults return from inject
once they do; DEP-101 calls a deployment short of replicas without a short progress deadline
a rollout in progress, so such faults leave it unjudged. The Kubernetes client and the
spec-restoring base faults (lab/faults/_kubernetes.py) are re-exported from here.
"""

from __future__ import annotations

from lab.faults._kubernetes import KubeApi, SpecRestoringFault
from lab.faults.deployment import capacity, pods, releases

__all__ = ["KubeApi", "SpecRestoringFault", "capacity", "pods", "releases"]
