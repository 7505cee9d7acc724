"""DEP-R01: `kubectl rollout restart`, and why a restart would not help a failing start.

A restart is refused when the container cannot start for a reason a new pod would share (a
configuration reference that does not resolve, an invalid image name) or when only the
current revision fails while the previous one serves (a bad release: roll back instead).
"""

from __future__ import annotations

from checks import deployment as rules
from checks.deployment.finding_data import FailingPods
from checks.deployment.model import Workload, revision_of, rollout_state
from fixtures.kubernetes_snapshot import KubeSnapshot
from fixtures.kubernetes_target import KubeTarget
from opscheck import Finding, Plan
from remediations import rollouts


def plan_rollout_restart(target: KubeTarget, deployment: str) -> Plan:
    """`kubectl rollout restart deployment/NAME` and a bounded `rollout status`.

    Claims the deployment's restart: DEP-R01 and QUEUE-R02 both restart the workers, and
    one run restarts them once.
    """
    action = rollouts.rollout_restart(target, deployment)
    return rollouts.change_then_wait(target, deployment, [action], "restart")


def restart_refusal(
    w: Workload, failing: FailingPods, snapshot: KubeSnapshot, config_map: str
) -> str | None:
    """Why a restart would not help a container that fails to start (None: it may)."""
    reasons = set(failing.reasons)
    if "CreateContainerConfigError" in reasons:
        broken = rules.config_references(w, snapshot.configmaps(), snapshot.secrets(), [])
        if isinstance(broken, Finding):  # NoData: the references cannot be told; may help
            return (
                "a restart cannot fix a configuration reference that does not resolve: "
                + "; ".join(broken.evidence)
                + f". Add the key, then restart: kubectl edit configmap {config_map} -n "
                f"{w.namespace} && pytest -k DEP-102 --fix"
            )
    if "InvalidImageName" in reasons:
        return (
            f"the image reference of {w.ref} is invalid; set a valid one "
            f"(kubectl set image {w.ref} <container>=<image>:<tag> -n {w.namespace}) "
            "or roll back: pytest -k DEP-101 --fix"
        )
    previous = w.previous
    if (
        failing.current_revision_only
        and w.deployment is not None
        and not rollout_state(w.deployment)[0]
        and previous is not None
        and int((previous.get("status") or {}).get("readyReplicas", 0)) > 0
    ):
        return (
            f"revision {revision_of(w.current or {})} of {w.ref} fails to start while revision "
            f"{revision_of(previous)} still serves: a bad release, not a transient crash. "
            "Roll back instead: pytest -k DEP-101 --fix"
        )
    return None
