"""What every deployment remediation plan shares: its target, its workload, its rollout wait.

A plan names its target as `<namespace>/deployment/<name>`, reads the deployment's workload
from the session snapshot, claims the kind of change it makes (so one run makes it once,
across remediations: remediations/rollouts.py `change_claim`), and ends with a bounded
`kubectl rollout status`. Not a plugin of its own: no fixtures live here.
"""

from __future__ import annotations

from collections.abc import Sequence

from checks.deployment.model import Workload, build_workload
from fixtures.kubernetes import Kube
from fixtures.kubernetes_snapshot import KubeSnapshot
from opscheck import Action, Plan
from remediations import rollouts


def deployment_target(namespace: str, name: str) -> str:
    return f"{namespace}/deployment/{name}"


def plan_with_rollout_wait(
    kube: Kube,
    namespace: str,
    name: str,
    timeout_s: float,
    actions: Sequence[Action],
    change: str,
) -> Plan:
    """A plan of actions that claims `change` ("rollback", "restart", "scale", "resources")
    of the deployment, followed by a bounded `kubectl rollout status`."""

    def wait() -> None:
        rollouts.wait_for_rollout(kube, namespace, name, timeout_s)

    return Plan(
        deployment_target(namespace, name),
        actions,
        claims=[rollouts.change_claim(namespace, name, change)],
        wait=wait,
        wait_description=f"kubectl rollout status deployment/{name} -n {namespace} "
        f"--timeout={timeout_s:g}s",
    )


def workload_of(snapshot: KubeSnapshot, name: str, role: str = "") -> Workload:
    return build_workload(
        role,
        name,
        snapshot.namespace,
        snapshot.deployments(),
        snapshot.replicasets(),
        snapshot.pods(),
    )
