"""Deployment Failures: the runbook's deployment and pod diagnosis as checks.

Thin: each check reads the session's Kubernetes snapshot (one paginated LIST per type,
shared by every check), calls its rule in checks/deployment/ and returns the verdict.
Per-deployment checks run once for the API and once for the worker deployment; the test id
is the deployment's name, so a failure (and a suppression) names it.

A check that cannot see is inconclusive, never green: a type this user may not list (HTTP
403) or the cluster does not serve (404, e.g. no metrics-server) reaches the rule as NoData
through `readable()`, so the rule judges what it still can and says exactly what was
missing. The lists every check needs (deployments, replicasets, pods) end the check
inconclusive by themselves when forbidden. A deployment that does not exist fails DEP-101;
the other checks have nothing to judge and say so.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from checks import deployment as rules
from checks.deployment.image_refs import ImageVerdict
from checks.deployment.model import Workload
from checks.deployment.release import Release
from checks.deployment.settings import DeploymentSettings
from fixtures.deployment import WorkloadSource
from fixtures.kubernetes import readable
from fixtures.kubernetes_snapshot import KubeSnapshot
from fixtures.registry import RegistryClient
from opscheck import NoData, check, environment_of, inconclusive, verdict
from opscheck.settings import Profile
from remediations.deployment import RAISE_LIMITS, RESTART, ROLLBACK, SCALE

SECTION = "deployment"
ROLES = ("api", "worker")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "deployment_role" in metafunc.fixturenames:
        target = environment_of(metafunc.config).profile.kubernetes
        names = {"api": target.api_deployment, "worker": target.worker_deployment}
        metafunc.parametrize("deployment_role", ROLES, ids=[names[r] for r in ROLES])


@pytest.fixture
def workload(deployment_role: str, deployment_workloads: WorkloadSource) -> WorkloadView:
    """Reads the deployment from the snapshot at call time: after a fix the re-check, which
    reuses this fixture's value, must see the re-read snapshot, not the one before."""
    return WorkloadView(deployment_workloads, deployment_role)


class WorkloadView:
    def __init__(self, source: WorkloadSource, role: str) -> None:
        self.source, self.role = source, role

    def __call__(self) -> Workload:
        return self.source(self.role)


def image_verdicts(w: Workload, registry: RegistryClient) -> dict[str, ImageVerdict]:
    """What each image's registry says of the deployment's pod template's images."""
    template = w.template()
    return registry.verdicts(rules.images_of(template), rules.pull_secret_names(template))


def now() -> datetime:
    return datetime.now(UTC)


@pytest.mark.predeploy
@check(
    "DEP-101",
    title="Rollout complete",
    section_marker=SECTION,
    symptom="Rollout stuck",
    remediation=ROLLBACK,
    manual=[
        "kubectl rollout status deployment/<name> -n {namespace}",
        "kubectl rollout undo deployment/<name> -n {namespace}",
    ],
)
def test_rollout_complete(
    workload: WorkloadView, profile: Profile, release: Release | None
) -> None:
    current = workload()
    verdict(rules.rollout_stuck(current, profile.section(DeploymentSettings), now()))
    if progress := rules.rollout_in_progress(current, profile.section(DeploymentSettings), now()):
        if release is not None:
            # A gate must not wave a release through while the last one may still fail.
            inconclusive(f"{progress}; deploy {release.image} once it completes")
        pytest.skip(f"[DEP-101] {progress}")


@check(
    "DEP-102",
    title="Containers start",
    section_marker=SECTION,
    symptom="Pods failing to start",
    remediation=RESTART,
    manual=[
        "kubectl describe pod <pod> -n {namespace}",
        "kubectl logs <pod> -n {namespace} --tail=100 --previous",
    ],
)
def test_containers_start(workload: WorkloadView, profile: Profile) -> None:
    verdict(rules.containers_failing(workload(), profile.section(DeploymentSettings)))


@check(
    "DEP-103",
    title="Pods scheduled, not stuck Pending",
    section_marker=SECTION,
    symptom="Pods failing to start",
    manual=[
        "kubectl describe pod <pod> -n {namespace}  # the FailedScheduling event",
        "kubectl describe nodes | grep -A5 'Allocated resources'",
        "add node capacity, or lower resources.requests: kubectl edit deployment <name>",
    ],
)
def test_pods_scheduled(
    workload: WorkloadView, kube_snapshot: KubeSnapshot, profile: Profile
) -> None:
    events = readable(kube_snapshot.events)
    verdict(rules.pending_pods(workload(), events, profile.section(DeploymentSettings), now()))


@check(
    "DEP-104",
    title="Restarts not rising",
    section_marker=SECTION,
    symptom="Pods failing to start",
    remediation=RESTART,
    manual=["kubectl logs <pod> -n {namespace} --previous --tail=100"],
)
def test_restarts(workload: WorkloadView, profile: Profile) -> None:
    verdict(rules.restarts(workload(), profile.section(DeploymentSettings), now()))


@check(
    "DEP-105",
    title="Images pull",
    section_marker=SECTION,
    symptom="Pods failing to start (image pull errors)",
    remediation=ROLLBACK,
    manual=[
        "docker pull <image>  # check the image exists",
        "kubectl get secret {pull_secret} -n {namespace} -o yaml  # registry credentials",
    ],
)
def test_images_pull(
    workload: WorkloadView, deployment_registry: RegistryClient, profile: Profile
) -> None:
    w = workload()
    verdicts = image_verdicts(w, deployment_registry)
    verdict(rules.image_pulls(w, profile.section(DeploymentSettings), verdicts))


@check(
    "DEP-106",
    title="Pull secret usable",
    section_marker=SECTION,
    symptom="Pods failing to start (image pull errors)",
    manual=[
        "kubectl get secret {pull_secret} -n {namespace} -o yaml",
        "kubectl create secret docker-registry {pull_secret} --docker-server=ghcr.io "
        "--docker-username=<user> --docker-password=<token> -n {namespace} "
        "--dry-run=client -o yaml | kubectl apply -f -",
        "kubectl patch deployment <name> -n {namespace} -p "
        '\'{"spec":{"template":{"spec":{"imagePullSecrets":[{"name":"{pull_secret}"}]}}}}\'',
    ],
)
def test_pull_secret(
    workload: WorkloadView,
    kube_snapshot: KubeSnapshot,
    deployment_registry: RegistryClient,
    profile: Profile,
) -> None:
    w, name, secrets = workload(), profile.kubernetes.pull_secret, readable(kube_snapshot.secrets)
    verdicts = image_verdicts(w, deployment_registry)
    verdict(rules.pull_secret(w, secrets, name, profile.section(DeploymentSettings), verdicts))


@check(
    "DEP-107",
    title="Health checks pass",
    section_marker=SECTION,
    symptom="Health checks failing",
    remediation=RESTART,
    manual=[
        "kubectl describe pod <pod> -n {namespace}  # the probe and its failures",
        "kubectl logs <pod> -n {namespace} --tail=100",
    ],
)
def test_health_checks(
    workload: WorkloadView, kube_snapshot: KubeSnapshot, profile: Profile
) -> None:
    events = readable(kube_snapshot.events)
    verdict(rules.health(workload(), events, profile.section(DeploymentSettings), now()))


@check(
    "DEP-108",
    title="No Warning events that matter",
    section_marker=SECTION,
    symptom="Pods failing to start",
    manual=[
        "kubectl get events -n {namespace} --sort-by='.lastTimestamp' "
        "--field-selector type=Warning",
        "kubectl describe <kind>/<name> -n {namespace}",
    ],
)
def test_warning_events(kube_snapshot: KubeSnapshot, profile: Profile) -> None:
    live = {("Pod", p["metadata"]["name"]) for p in kube_snapshot.pods()}
    events = readable(kube_snapshot.events)
    verdict(rules.warning_events(events, live, profile.section(DeploymentSettings), now()))


@pytest.mark.predeploy
@check(
    "DEP-109",
    title="Configuration present",
    section_marker=SECTION,
    symptom="Pods failing to start (application errors)",
    manual=[
        "kubectl get configmap {config_map} -n {namespace} -o yaml",
        "kubectl get secret {secret} -n {namespace}",
        "kubectl edit configmap {config_map} -n {namespace}  # add the key",
        "pytest -k DEP-102 --fix  # kubectl rollout restart once the key exists",
    ],
)
def test_configuration_present(
    workload: WorkloadView, kube_snapshot: KubeSnapshot, profile: Profile
) -> None:
    target = profile.kubernetes
    required = [("ConfigMap", target.config_map), ("Secret", target.secret)]
    configmaps, secrets = readable(kube_snapshot.configmaps), readable(kube_snapshot.secrets)
    verdict(rules.config_references(workload(), configmaps, secrets, required))


@check(
    "DEP-110",
    title="No OOMKilled containers",
    section_marker=SECTION,
    symptom="Pods failing to start (resource limits)",
    remediation=RAISE_LIMITS,
    manual=["kubectl top pods -n {namespace}"],
)
def test_oom_killed(workload: WorkloadView, profile: Profile) -> None:
    verdict(rules.oom_killed(workload(), profile.section(DeploymentSettings), now()))


@check(
    "DEP-111",
    title="Limits set on every container",
    section_marker=SECTION,
    symptom="Pods failing to start (resource limits)",
    severity="medium",
    manual=[
        "kubectl set resources deployment/<name> -c <container> --limits=cpu=<c>,memory=<m> "
        "-n {namespace}"
    ],
)
def test_limits_set(workload: WorkloadView) -> None:
    verdict(rules.limits_missing(workload()))


@check(
    "DEP-112",
    title="Usage below limits",
    section_marker=SECTION,
    symptom="Pods using max CPU/memory",
    remediation=RAISE_LIMITS,
    manual=["kubectl top pods -n {namespace}"],
)
def test_usage_below_limits(
    workload: WorkloadView, kube_snapshot: KubeSnapshot, profile: Profile
) -> None:
    metrics = readable(kube_snapshot.pod_metrics)
    verdict(rules.usage_near_limits(workload(), metrics, profile.section(DeploymentSettings)))


@check(
    "DEP-113",
    title="Nodes without pressure",
    section_marker=SECTION,
    symptom="Pods failing to start (evictions)",
    manual=[
        "kubectl describe node <node>  # Conditions and Allocated resources",
        "kubectl top nodes",
        "kubectl cordon <node> && kubectl drain <node> --ignore-daemonsets "
        "--delete-emptydir-data  # move pods off a node that stays under pressure",
    ],
)
def test_node_pressure(kube_snapshot: KubeSnapshot, profile: Profile) -> None:
    verdict(rules.node_pressure(readable(kube_snapshot.nodes), profile.section(DeploymentSettings)))


@check(
    "DEP-114",
    title="Replicas at their minimum",
    section_marker=SECTION,
    symptom="Worker pods not processing / capacity lost",
    remediation=SCALE,
    manual=[
        "kubectl scale deployment/<name> --replicas=<its minimum, from the failure> -n {namespace}"
    ],
)
def test_replicas(workload: WorkloadView, kube_snapshot: KubeSnapshot, profile: Profile) -> None:
    # A cluster without autoscaling/v2 has no such HPA: the profile's minimum holds.
    hpas = readable(kube_snapshot.hpas, absent_is_empty=True)
    verdict(rules.replicas_below_minimum(workload(), hpas, profile.section(DeploymentSettings)))


@pytest.mark.predeploy
@check(
    "DEP-115",
    title="Release image in its registry",
    section_marker=SECTION,
    symptom="Pods failing to start (image pull errors)",
    manual=[
        "docker manifest inspect <release image>  # does the registry hold the tag?",
        "docker push <release image>  # push the build's image, then gate again",
        "kubectl get secret {pull_secret} -n {namespace} -o yaml  # registry credentials",
    ],
)
def test_release_image(
    release: Release | None,
    kube_snapshot: KubeSnapshot,
    deployment_registry: RegistryClient,
) -> None:
    """The pre-deploy gate's own check: asks the registry for the release, with the pull
    secrets of the Deployment it replaces."""
    if release is None:
        inconclusive("no release given: pass --release IMAGE to check the image to be deployed")
    target = rules.release_target(release, readable(kube_snapshot.deployments))
    if isinstance(target, NoData):
        verdict(target)
        return
    told = deployment_registry.verdict(release.image, rules.target_pull_secrets(target))
    verdict(rules.release_image(release, str(target["metadata"]["name"]), told))
