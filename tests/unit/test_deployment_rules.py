"""Unit tests of the Deployment Failures rules and remediation planning on small YAML files.

Each scenario in tests/data/deployment/ overlays healthy.yaml (top-level lists replace the
healthy ones). Time is pinned to 2026-01-01T01:00:00Z; nothing here talks to a cluster.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from pydantic import ValidationError

from checks import deployment as rules
from checks.deployment.finding_data import FailingPods, LimitsToRaise
from checks.deployment.image_refs import ImageRef, ImageVerdict
from checks.deployment.model import Workload, build_workload
from checks.deployment.settings import DeploymentSettings
from fixtures.kubeconfig import kubeconfig_paths, unusable_kubeconfig
from fixtures.kubernetes import Kube, KubeApiError, Listing, NotServed, ReadForbidden, readable
from fixtures.kubernetes_resources import EVENTS, HPAS, NODES, POD_METRICS, SECRETS, Resource
from fixtures.kubernetes_snapshot import KubeSnapshot
from fixtures.kubernetes_target import KubeTarget
from opscheck import DependencyUnavailable, Finding, Inconclusive, NoData, SnapshotStore
from opscheck.settings.targets import KubernetesTarget
from remediations import deployment as fixes

DATA = Path(__file__).resolve().parents[1] / "data" / "deployment"
NOW = datetime(2026, 1, 1, 1, 0, tzinfo=UTC)
S = DeploymentSettings()
SECRET_VALUES = ("not-json-secret-value", "bm90LWpzb24tc2VjcmV0LXZhbHVl", "c2VjcmV0LXZhbHVl")


def load(scenario: str = "healthy") -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DATA / "healthy.yaml").read_text())
    if scenario != "healthy":
        data.update(yaml.safe_load((DATA / f"{scenario}.yaml").read_text()))
    return data


def workload(data: dict[str, Any]) -> Workload:
    return build_workload(
        "api",
        "rolerabbit-api",
        "rolerabbit-production",
        data["deployments"],
        data["replicasets"],
        data["pods"],
    )


def verdict(data: dict[str, Any], image: str) -> ImageVerdict:
    """What a registry holding the scenario's `registry` listing answers of `image`."""
    listing = {r["name"]: set(r["tags"]) for r in data["registry"]["repositories"]}
    ref = ImageRef.parse(image)
    if ref.digest:
        return ImageVerdict(image, "unknown", ref.host, f"registry {ref.host} answered HTTP 500")
    if ref.tag in listing.get(f"{ref.host}/{ref.name}", set()):
        return ImageVerdict(image, "present", ref.host, f"in registry {ref.host}")
    detail = f"not in registry {ref.host}: HEAD /v2/{ref.name}/manifests/{ref.tag} answered 404"
    return ImageVerdict(image, "missing", ref.host, detail)


def registry(data: dict[str, Any]) -> dict[str, ImageVerdict]:
    """The verdicts of every image the scenario's deployments and replica sets name."""
    images = [
        i
        for obj in [*data["deployments"], *data["replicasets"]]
        for i in rules.images_of((obj.get("spec") or {}).get("template") or {})
    ]
    return {i: verdict(data, i) for i in images}


def asker(data: dict[str, Any]) -> Any:
    """A RegistryClient.verdicts stand-in over the scenario's listing (plans read only)."""
    return lambda images, secrets: {i: verdict(data, i) for i in images}


def shown(finding: Any) -> str:
    return "\n".join([finding.summary, *finding.evidence])


def live(data: dict[str, Any]) -> set[tuple[str, str]]:
    return {("Pod", p["metadata"]["name"]) for p in data["pods"]}


# -- healthy: every rule passes ------------------------------------------------------------


REQUIRED = [("ConfigMap", "rolerabbit-config"), ("Secret", "rolerabbit-secrets")]


def per_deployment_rules(w: Workload, data: dict[str, Any]) -> dict[str, Any]:
    """Every per-deployment rule's verdict on `w`, fed from the scenario's lists."""
    return {
        "rollout": rules.rollout_stuck(w, S, NOW),
        "containers": rules.containers_failing(w, S),
        "images": rules.image_pulls(w, S, registry(data)),
        "pending": rules.pending_pods(w, data["events"], S, NOW),
        "restarts": rules.restarts(w, S, NOW),
        "pull secret": rules.pull_secret(w, data["secrets"], "regcred", S),
        "health": rules.health(w, data["events"], S, NOW),
        "config": rules.config_references(w, data["configmaps"], data["secrets"], REQUIRED),
        "oom": rules.oom_killed(w, S, NOW),
        "limits": rules.limits_missing(w),
        "usage": rules.usage_near_limits(w, data["pod_metrics"], S),
        "replicas": rules.replicas_below_minimum(w, data["hpas"], S),
    }


def test_every_rule_passes_on_the_healthy_snapshot() -> None:
    data = load()
    w = workload(data)
    assert len(w.pods) == 3, "the worker's pod is not the API's"
    results = {
        **per_deployment_rules(w, data),
        "in progress": rules.rollout_in_progress(w, S, NOW),
        "events": rules.warning_events(data["events"], live(data), S, NOW),
        "nodes": rules.node_pressure(data["nodes"], S),
    }
    assert {k: v for k, v in results.items() if v is not None} == {}


def test_a_missing_deployment_fails_dep_101_only_and_the_others_cannot_judge() -> None:
    data = load()
    data["deployments"] = [{"metadata": {"name": "rolerabbit-web"}}]
    w = workload(data)
    finding = rules.rollout_stuck(w, S, NOW)
    assert isinstance(finding, Finding)
    assert finding.summary == (
        "deployment/rolerabbit-api not found in namespace rolerabbit-production "
        "(expected 1 deployment)"
    )
    assert finding.evidence[0] == "deployments in namespace rolerabbit-production: rolerabbit-web"
    for name, result in per_deployment_rules(w, data).items():
        if name == "rollout":
            continue
        assert isinstance(result, NoData), name
        assert result.missing.startswith(
            "deployment/rolerabbit-api not found in namespace rolerabbit-production: no "
        ), name
        assert result.missing.endswith("to judge (DEP-101 fails on the missing deployment)")
    data["deployments"] = []
    empty = rules.rollout_stuck(workload(data), S, NOW)
    assert isinstance(empty, Finding)
    assert "has no deployments at all: is kubernetes.namespace right?" in empty.evidence[0]


# -- DEP-101 rollout -----------------------------------------------------------------------


def test_rollout_past_its_progress_deadline_fails() -> None:
    finding = rules.rollout_stuck(workload(load("bad_rollout")), S, NOW)
    assert finding is not None
    assert finding.summary.startswith(
        "rollout of deployment/rolerabbit-api made no progress for more than its 60s deadline"
    )
    text = shown(finding)
    assert "current revision 3 (rolerabbit-api-dddd3): ghcr.io/rolerabbit/app:v9.9.9" in text
    assert "previous revision 2" in text
    assert "pod/rolerabbit-api-dddd3-p1 api: ImagePullBackOff" in text


def _rolling(data: dict[str, Any], started: str) -> dict[str, Any]:
    status = data["deployments"][0]["status"]
    status["conditions"][1] = {
        "type": "Progressing",
        "status": "True",
        "reason": "ReplicaSetUpdated",
    }
    data["replicasets"][2]["metadata"]["creationTimestamp"] = started
    return data


def test_rollout_within_the_settle_window_is_in_progress_not_failed() -> None:
    w = workload(_rolling(load("bad_rollout"), "2026-01-01T00:58:00Z"))
    assert rules.rollout_stuck(w, S, NOW) is None
    progress = rules.rollout_in_progress(w, S, NOW)
    assert progress is not None
    assert progress.startswith("rollout of deployment/rolerabbit-api in progress for 120s")
    assert "settle window 600s" in progress


def test_rollout_past_the_settle_window_fails() -> None:
    w = workload(_rolling(load("bad_rollout"), "2026-01-01T00:40:00Z"))
    finding = rules.rollout_stuck(w, S, NOW)
    assert finding is not None
    assert "not complete after 1200s (settle window 600s)" in finding.summary
    assert rules.rollout_in_progress(w, S, NOW) is None


# -- DEP-102..105 pods ------------------------------------------------------------------------


def test_crash_looping_containers_fail_with_their_reason() -> None:
    finding = rules.containers_failing(workload(load("crashing")), S)
    assert finding is not None
    assert finding.summary == (
        "2 of 3 pods of deployment/rolerabbit-api have containers failing to start "
        "(CrashLoopBackOff x2; threshold 0)"
    )
    assert finding.data_as(FailingPods).reasons == ("CrashLoopBackOff",)


def test_image_pull_errors_and_a_missing_tag_fail() -> None:
    data = load("bad_rollout")
    finding = rules.image_pulls(workload(data), S, registry(data))
    assert finding is not None
    assert finding.summary.startswith(
        "1 pods of deployment/rolerabbit-api cannot pull ghcr.io/rolerabbit/app:v9.9.9 "
        "(ImagePullBackOff x1)"
    )
    assert (
        "ghcr.io/rolerabbit/app:v9.9.9: not in registry ghcr.io: HEAD "
        "/v2/rolerabbit/app/manifests/v9.9.9 answered 404"
    ) in shown(finding)


def test_image_pull_errors_fail_when_the_registry_cannot_judge_and_say_so() -> None:
    data = load("bad_rollout")
    unjudged = {
        image: ImageVerdict(image, "unknown", "ghcr.io", "registry ghcr.io answered HTTP 500")
        for image in registry(data)
    }
    finding = rules.image_pulls(workload(data), S, unjudged)
    assert isinstance(finding, Finding)
    assert (
        "whether the images exist was not checked: registry ghcr.io answered HTTP 500"
        in finding.evidence
    )


def test_a_missing_tag_fails_before_any_pod_tries_it() -> None:
    data = load()
    data["deployments"][0]["spec"]["template"]["spec"]["containers"][0]["image"] = (
        "ghcr.io/rolerabbit/app:v1.2.4"
    )
    finding = rules.image_pulls(workload(data), S, registry(data))
    assert finding is not None
    assert finding.summary == "1 image references missing from their registry (threshold 0)"


def test_an_unschedulable_pod_says_why_from_its_event() -> None:
    data = load("crashing")
    finding = rules.pending_pods(workload(data), data["events"], S, NOW)
    assert finding is not None
    assert finding.summary == (
        "1 pods of deployment/rolerabbit-api Pending longer than 300s (1 unschedulable; "
        "threshold 0)"
    )
    assert finding.evidence == [
        "pod/rolerabbit-api-bbbb2-p3 Unschedulable for 1200s: "
        "0/3 nodes are available: 3 Insufficient memory."
    ]


def test_rising_restarts_fail_and_old_ones_do_not() -> None:
    data = load("crashing")
    finding = rules.restarts(workload(data), S, NOW)
    assert finding is not None
    assert finding.summary == (
        "2 containers of deployment/rolerabbit-api restarting: up to 7 restarts, the last 20s "
        "ago (threshold > 3 within 600s)"
    )
    later = datetime(2026, 1, 1, 2, 0, tzinfo=UTC)
    assert rules.restarts(workload(data), S, later) is None


# -- DEP-106 pull secret, DEP-109 configuration ---------------------------------------------


def test_a_broken_pull_secret_fails_without_showing_its_value() -> None:
    data = load("misconfigured")
    finding = rules.pull_secret(workload(data), data["secrets"], "regcred", S)
    assert finding is not None
    assert finding.summary == (
        "pull secret regcred unusable for deployment/rolerabbit-api: 3 problems (threshold 0)"
    )
    text = shown(finding)
    assert "secret regcred has type 'Opaque', not kubernetes.io/dockerconfigjson" in text
    assert ".dockerconfigjson is not base64-encoded JSON (value not shown)" in text
    assert "the pod template do not reference regcred" in text
    assert not any(value in text for value in SECRET_VALUES)


def test_a_pull_secret_without_credentials_for_the_image_registry_fails() -> None:
    data = load()
    data["deployments"][0]["spec"]["template"]["spec"]["containers"][0]["image"] = "busybox:1"
    finding = rules.pull_secret(workload(data), data["secrets"], "regcred", S)
    assert finding is not None
    assert "secret regcred has no credentials for docker.io (has: ghcr.io)" in finding.evidence


def test_missing_pull_secret_is_named() -> None:
    data = load()
    finding = rules.pull_secret(workload(data), [], "regcred", S)
    assert finding is not None
    assert "secret regcred not found in namespace rolerabbit-production" in finding.evidence


def test_missing_config_key_and_secret_fail_by_name_only() -> None:
    data = load("misconfigured")
    required = [("ConfigMap", "rolerabbit-config"), ("Secret", "rolerabbit-secrets")]
    finding = rules.config_references(workload(data), data["configmaps"], data["secrets"], required)
    assert finding is not None
    assert finding.summary == (
        "3 configuration references of deployment/rolerabbit-api do not resolve "
        "(1 missing keys; threshold 0)"
    )
    assert finding.evidence == [
        "Secret rolerabbit-secrets not found in namespace rolerabbit-production",
        "container api: key FEATURE_NEW_BILLING not found in ConfigMap rolerabbit-config",
        "container api: Secret rolerabbit-secrets not found",
    ]
    assert not any(value in shown(finding) for value in SECRET_VALUES)


# -- DEP-107 health, DEP-108 events ------------------------------------------------------------


def test_unready_pods_and_probe_failures_fail_quoting_the_probe() -> None:
    data = load("crashing")
    finding = rules.health(workload(data), data["events"], S, NOW)
    assert finding is not None
    assert finding.summary == (
        "3 of 3 pods of deployment/rolerabbit-api not Ready for more than 120s; "
        "8 probe failures in 600s (threshold 5): "
        "Readiness probe failed: HTTP probe failed with statuscode: 503"
    )
    assert "Liveness" not in shown(finding), "an hour-old probe failure is outside the window"


def test_warning_events_are_grouped_and_gone_pods_do_not_fail() -> None:
    data = load("bad_rollout")
    finding = rules.warning_events(data["events"], live(data), S, NOW)
    assert finding is not None
    assert finding.summary.startswith(
        "10 Warning events in the last 900s on 1 objects (BackOff x9, Failed x1;"
    )
    assert finding.evidence[-1] == (
        "BackOff x4 on pod/rolerabbit-api-zzzz0-gone: an old pod that is gone (not failing)"
    )
    assert rules.warning_events(data["events"], set(), S, NOW) is None


# -- DEP-110..114 resources and replicas ----------------------------------------------------------


def test_oom_killed_names_the_container_and_its_limit() -> None:
    finding = rules.oom_killed(workload(load("crashing")), S, NOW)
    assert finding is not None
    assert finding.summary == (
        "2 containers of deployment/rolerabbit-api last terminated OOMKilled within 3600s: "
        "api (limit 512Mi) (threshold 0)"
    )
    assert finding.data == LimitsToRaise("rolerabbit-api", {"api": ("memory",)})


def test_containers_without_limits_fail() -> None:
    finding = rules.limits_missing(workload(load("misconfigured")))
    assert finding is not None
    assert finding.summary == (
        "2 of 2 containers of deployment/rolerabbit-api have no CPU/memory limit (threshold 0)"
    )
    assert finding.evidence == [
        "container api: no cpu limit",
        "container sidecar: no cpu or memory limit",
    ]


def test_usage_near_limits_fails_per_container_and_resource() -> None:
    data = load("crashing")
    finding = rules.usage_near_limits(workload(data), data["pod_metrics"], S)
    assert finding is not None
    assert "worst api memory at 98% of its limit (threshold 75%)" in finding.summary
    assert finding.evidence == [
        "pod/rolerabbit-api-bbbb2-p1 api cpu: 950m of 1000m (95%)",
        "pod/rolerabbit-api-bbbb2-p1 api memory: 500Mi of 512Mi (98%)",
    ]
    assert finding.data == LimitsToRaise("rolerabbit-api", {"api": ("cpu", "memory")})


def test_node_pressure_fails() -> None:
    finding = rules.node_pressure(load("misconfigured")["nodes"], S)
    assert finding is not None
    assert finding.summary == "1 of 1 nodes under pressure (MemoryPressure x1; threshold 0)"


def test_replicas_below_minimum_respect_an_hpa() -> None:
    data = load("misconfigured")
    finding = rules.replicas_below_minimum(workload(data), data["hpas"], S)
    assert finding is not None
    assert finding.summary == (
        "deployment/rolerabbit-api scaled to 1 replicas (1 available) < minimum 2 "
        "(minReplicas of HorizontalPodAutoscaler rolerabbit-api)"
    )
    without = rules.replicas_below_minimum(workload(data), [], S)
    assert without is not None
    assert "< minimum 3 (deployment.min_replicas.api)" in without.summary


# -- small parsers and settings ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [("250m", 0.25), ("1", 1.0), ("512Mi", 512 * 2**20), ("1Gi", 2**30), ("120000000n", 0.12)],
)
def test_quantities(text: str, value: float) -> None:
    assert rules.quantity(text) == pytest.approx(value)


DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("image", "parts"),
    [
        ("ghcr.io/rolerabbit/app:v1.2.3", ("ghcr.io", "rolerabbit/app", "v1.2.3", "")),
        ("localhost:5000/app", ("localhost:5000", "app", "latest", "")),
        ("localhost/app:1", ("localhost", "app", "1", "")),
        ("registry.example.com:5000/a/b/c:x", ("registry.example.com:5000", "a/b/c", "x", "")),
        ("nginx", ("docker.io", "library/nginx", "latest", "")),
        ("nginx:1.27", ("docker.io", "library/nginx", "1.27", "")),
        ("bitnami/redis:7", ("docker.io", "bitnami/redis", "7", "")),
        ("docker.io/nginx", ("docker.io", "library/nginx", "latest", "")),
        ("index.docker.io/library/nginx", ("docker.io", "library/nginx", "latest", "")),
        (f"app@{DIGEST}", ("docker.io", "library/app", "", DIGEST)),
        (f"ghcr.io/x/app:v1@{DIGEST}", ("ghcr.io", "x/app", "v1", DIGEST)),
    ],
)
def test_image_references(image: str, parts: tuple[str, str, str, str]) -> None:
    ref = ImageRef.parse(image)
    assert (ref.host, ref.name, ref.tag, ref.digest) == parts
    assert ref.reference == (parts[3] or parts[2])  # a digest is what is pulled


@pytest.mark.parametrize(
    ("image", "says"),
    [
        ("ghcr.io/RoleRabbit/app:v1", "repository 'RoleRabbit/app' must be lowercase"),
        ("app@sha256:abc", "'sha256:abc' is not a digest"),
        ("app:bad tag", "'bad tag' is not a valid tag"),
        ("ghcr.io/", "repository '' must be lowercase"),
    ],
)
def test_bad_image_references_say_what_is_wrong(image: str, says: str) -> None:
    with pytest.raises(ValueError, match=re.escape(says)):
        ImageRef.parse(image)


def test_registry_endpoints_are_checked_and_hosts_default_to_https() -> None:
    s = DeploymentSettings(registry_endpoints={"ghcr.io": "http://127.0.0.1:5000/"})
    assert s.registry_endpoint("ghcr.io") == "http://127.0.0.1:5000"
    assert s.registry_endpoint("quay.io") == "https://quay.io"
    assert s.registry_endpoint("docker.io") == "https://registry-1.docker.io"
    bad = [
        ({"ghcr.io": "127.0.0.1:5000"}, "must be an http:// or https:// URL"),
        ({"https://ghcr.io": "http://127.0.0.1:5000"}, "without scheme or path"),
        ({"ghcr.io": "http://127.0.0.1:5000/v2"}, "must have no path"),
    ]
    for endpoints, says in bad:
        with pytest.raises(ValidationError, match=re.escape(says)):
            DeploymentSettings(registry_endpoints=endpoints)


def test_settings_are_bounded() -> None:
    with pytest.raises(ValidationError):
        DeploymentSettings(limit_raise_factor=10)
    with pytest.raises(ValidationError):
        DeploymentSettings(min_replicas={"db": 1})


# -- remediation planning (no API call is made: plans only read) ----------------------------


class DataKube:
    """Answers the snapshot's LISTs from a scenario; any other call is a test failure."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.calls: list[str] = []

    def list(
        self, resource: Resource, namespace: str | None, page_size: int, **params: str
    ) -> Listing:
        key = {
            "pods": "pods",
            "deployments": "deployments",
            "replicasets": "replicasets",
            "events": "events",
            "horizontalpodautoscalers": "hpas",
            "configmaps": "configmaps",
            "secrets": "secrets",
        }[resource.name]
        return Listing(copy.deepcopy(self.data.get(key) or []))

    def call(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append(str(args))
        raise AssertionError("planning must not call the API")


def target_of(data: dict[str, Any]) -> KubeTarget:
    kube = cast(Kube, DataKube(data))
    profile = KubernetesTarget()  # the profile's namespace, rolerabbit-production
    return KubeTarget(kube, KubeSnapshot(kube, SnapshotStore(), profile.namespace, 500), 30)


def test_rollback_copies_the_previous_template_without_its_hash_label() -> None:
    data = load("bad_rollout")
    plan = fixes.plan_rollback(target_of(data), "rolerabbit-api", S, registry=asker(data))
    assert plan.refusal is None
    (action,) = plan.actions
    template = action.params["patch"][0]["value"]
    assert template["metadata"]["labels"] == {"app": "rolerabbit-api"}
    assert template["spec"]["containers"][0]["image"] == "ghcr.io/rolerabbit/app:v1.2.3"
    assert action.params["to_revision"] == 2
    assert "kubectl rollout undo deployment/rolerabbit-api" in action.command
    # DEP-R02 and ERR-R03 both plan this: the claim makes one run roll back once.
    assert plan.claims == ["deployment/rolerabbit-production/rolerabbit-api:rollback"]


def test_rollback_refuses_a_previous_revision_that_was_failing_too() -> None:
    data = load("bad_rollout")
    newest = copy.deepcopy(data["replicasets"][2])
    newest["metadata"].update(
        name="rolerabbit-api-eeee4", annotations={"deployment.kubernetes.io/revision": "4"}
    )
    newest["spec"]["template"]["spec"]["containers"][0]["image"] = "ghcr.io/rolerabbit/app:v9.9.8"
    data["replicasets"].append(newest)
    plan = fixes.plan_rollback(target_of(data), "rolerabbit-api", S, registry=asker(data))
    assert plan.actions == ()
    assert plan.refusal is not None
    assert "not rolling deployment/rolerabbit-api back to revision 3: it was failing too" in (
        plan.refusal
    )
    assert "revision 3: pod/rolerabbit-api-dddd3-p1 api ImagePullBackOff" in plan.refusal
    assert "Revision 2 looks healthy." in plan.refusal
    assert "kubectl rollout undo deployment/rolerabbit-api --to-revision=<N>" in plan.refusal


def test_rollback_of_a_healthy_deployment_does_nothing() -> None:
    plan = fixes.plan_rollback(target_of(load()), "rolerabbit-api", S)
    assert plan.actions == () and plan.refusal is None
    assert plan.manual[0].startswith(
        "kubectl rollout status deployment/rolerabbit-api -n rolerabbit-production  # complete"
    )
    assert any("kubectl rollout history deployment/rolerabbit-api" in m for m in plan.manual)


def test_rollback_even_if_complete_undoes_a_healthy_release() -> None:
    """The errors section's bad deployment: healthy pods, but the release brought errors."""
    plan = fixes.plan_rollback(target_of(load()), "rolerabbit-api", S, even_if_complete=True)
    assert plan.refusal is None
    (action,) = plan.actions
    assert "kubectl rollout undo deployment/rolerabbit-api" in action.command
    assert action.params["to_revision"] < int(
        next(d for d in load()["deployments"] if d["metadata"]["name"] == "rolerabbit-api")[
            "metadata"
        ]["annotations"]["deployment.kubernetes.io/revision"]
    )


def test_scale_refuses_to_fight_an_hpa_and_never_scales_down() -> None:
    data = load("misconfigured")
    plan = fixes.plan_scale(target_of(data), "rolerabbit-api", 4)
    assert plan.refusal is not None
    assert plan.refusal.startswith(
        "HorizontalPodAutoscaler rolerabbit-api manages deployment/rolerabbit-api (min 2, max 10)"
    )
    data["hpas"] = []
    plan = fixes.plan_scale(target_of(data), "rolerabbit-api", 4)
    assert plan.actions[0].params["patch"] == {"spec": {"replicas": 4}}
    assert plan.claims == ["deployment/rolerabbit-production/rolerabbit-api:scale"]
    enough = fixes.plan_scale(target_of(load()), "rolerabbit-api", 2)
    assert enough.actions == () and enough.refusal is None
    assert enough.manual[0].startswith(
        "kubectl get deployment/rolerabbit-api -n rolerabbit-production  # already asks for"
    )


def test_restart_claims_the_restart() -> None:
    """DEP-R01 and QUEUE-R02 both restart the workers through this plan: one run, once."""
    worker = "rolerabbit-deployment-worker"
    plan = fixes.plan_rollout_restart(target_of(load()), worker)
    assert plan.claims == [f"deployment/rolerabbit-production/{worker}:restart"]
    assert f"kubectl rollout restart deployment/{worker}" in plan.actions[0].command


def test_raise_limits_is_bounded_by_the_factor_and_the_ceiling() -> None:
    assert fixes.raised("512Mi", "memory", 1.5, "2Gi") == "768Mi"
    assert fixes.raised("1800Mi", "memory", 1.5, "2Gi") == "2048Mi"
    assert fixes.raised("2Gi", "memory", 1.5, "2Gi") is None
    assert fixes.raised("500m", "cpu", 1.5, "4") == "750m"
    data = load("crashing")
    target = target_of(data)
    plan = fixes.plan_raise_limits(target, "rolerabbit-api", {"api": ("memory",)}, S)
    assert plan.claims == ["deployment/rolerabbit-production/rolerabbit-api:resources"]
    patch = plan.actions[0].params["patch"]
    assert json.dumps(patch) == json.dumps(
        {
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {"name": "api", "resources": {"limits": {"memory": "768Mi"}}}
                        ]
                    }
                }
            }
        }
    )
    capped = DeploymentSettings(memory_limit_ceiling="512Mi")
    refused = fixes.plan_raise_limits(target, "rolerabbit-api", {"api": ("memory",)}, capped)
    assert refused.refusal is not None
    assert "memory limit 512Mi is at the ceiling 512Mi" in refused.refusal


def test_revision_health_judges_each_revision() -> None:
    data = load("bad_rollout")
    w = workload(data)
    by_revision = {fixes.revision_of(rs): rs for rs in w.replicasets}
    reg = registry(data)
    assert rules.revision_failures(w, by_revision[2], data["events"], reg, S) == []
    assert rules.revision_failures(w, by_revision[1], data["events"], reg, S) == []
    bad = rules.revision_failures(w, by_revision[3], data["events"], reg, S)
    assert "revision 3: pod/rolerabbit-api-dddd3-p1 api ImagePullBackOff" in bad
    # Scaled to zero, a revision is judged by its pods' events and the registry.
    gone = copy.deepcopy(by_revision[3])
    gone["spec"]["replicas"] = 0
    data["pods"] = [p for p in data["pods"] if "dddd3" not in p["metadata"]["name"]]
    w = workload(data)
    history = rules.revision_failures(w, gone, data["events"], reg, S)
    assert (
        "revision 3: image ghcr.io/rolerabbit/app:v9.9.9 not in registry ghcr.io: HEAD "
        "/v2/rolerabbit/app/manifests/v9.9.9 answered 404"
    ) in history
    assert any(r.startswith("revision 3: BackOff on pod/rolerabbit-api-dddd3-p1") for r in history)


# -- no data: what each rule says when it cannot see --------------------------------------

FORBIDDEN_EVENTS = ReadForbidden(
    EVENTS,
    "rolerabbit-production",
    KubeApiError(
        403,
        "Forbidden",
        'events is forbidden: User "opscheck" cannot list resource "events"',
        "/api/v1/namespaces/rolerabbit-production/events",
    ),
).no_data


def forbidden(
    resource: Resource, namespace: str | None = "rolerabbit-production", verb: str = "list"
) -> NoData:
    path = resource.path(namespace)
    error = KubeApiError(403, "Forbidden", f"{resource.name} is forbidden", path)
    return ReadForbidden(resource, namespace, error, verb).no_data


def without_pods(data: dict[str, Any], replicas: int = 3) -> Workload:
    data["deployments"][0]["spec"]["replicas"] = replicas
    data["pods"] = []
    return workload(data)


def test_a_deployment_that_owns_no_pod_leaves_the_pod_checks_nothing_to_judge() -> None:
    data = load()
    w = without_pods(data)
    verdicts = {
        "DEP-102": rules.containers_failing(w, S),
        "DEP-103": rules.pending_pods(w, data["events"], S, NOW),
        "DEP-104": rules.restarts(w, S, NOW),
        "DEP-107": rules.health(w, data["events"], S, NOW),
        "DEP-110": rules.oom_killed(w, S, NOW),
        "DEP-112": rules.usage_near_limits(w, data["pod_metrics"], S),
    }
    for check_id, result in verdicts.items():
        assert isinstance(result, NoData), check_id
        assert result.missing.startswith("no pods of deployment/rolerabbit-api to judge "), result
        assert "it asks for 3 replicas and owns no pod (DEP-101 judges the rollout)" in (
            result.missing
        )
        assert result.evidence[0] == "revision 2 (rolerabbit-api-bbbb2): 3 replicas wanted, 0 pods"
    # Scaled to zero on purpose, no pod is what was asked for: nothing is missing.
    idle = without_pods(load(), replicas=0)
    assert rules.containers_failing(idle, S) is None
    assert rules.restarts(idle, S, NOW) is None
    assert rules.usage_near_limits(idle, load()["pod_metrics"], S) is None


def test_a_rollout_of_unknown_age_is_no_data_not_in_progress_forever() -> None:
    data = load("bad_rollout")
    for rs in data["replicasets"]:
        rs["metadata"].pop("creationTimestamp", None)
    data["deployments"][0]["status"]["conditions"] = [
        {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated"}
    ]
    w = workload(data)
    result = rules.rollout_stuck(w, S, NOW)
    assert isinstance(result, NoData)
    assert result.missing.startswith("rollout of deployment/rolerabbit-api not complete (")
    assert "since an unknown time: no creationTimestamp on its current ReplicaSet" in (
        result.missing
    )
    assert rules.rollout_in_progress(w, S, NOW) is None
    # Without any ReplicaSet, the rollout is as old as the deployment.
    data["replicasets"] = []
    data["deployments"][0]["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
    aged = rules.rollout_stuck(workload(data), S, NOW)
    assert isinstance(aged, Finding)
    assert "not complete after 3600s (settle window 600s)" in aged.summary


def test_an_image_its_registry_could_not_judge_is_no_data() -> None:
    data = load()
    image = "ghcr.io/rolerabbit/app@" + DIGEST
    data["deployments"][0]["spec"]["template"]["spec"]["containers"][0]["image"] = image
    result = rules.image_pulls(workload(data), S, registry(data))
    assert isinstance(result, NoData)
    assert result.missing == (
        f"cannot tell whether {image} exists: registry ghcr.io answered HTTP 500"
    )
    assert "no pod of deployment/rolerabbit-api reports ErrImagePull or ImagePullBackOff" in (
        result.evidence
    )
    refused = ImageVerdict(image, "refused", "ghcr.io", "the credentials of secret x", "x")
    assert isinstance(rules.image_pulls(workload(data), S, {image: refused}), NoData)
    assert isinstance(rules.image_pulls(workload(data), S, {}), NoData)  # never asked


def test_refused_credentials_fail_the_pull_secret() -> None:
    data = load()
    image = "ghcr.io/rolerabbit/app:v1.2.3"
    detail = "the credentials of secret regcred were refused by registry ghcr.io: HEAD ... 401"
    refused = {image: ImageVerdict(image, "refused", "ghcr.io", detail, "regcred")}
    finding = rules.pull_secret(workload(data), data["secrets"], "regcred", S, refused)
    assert isinstance(finding, Finding)
    assert f"{image}: {detail}" in finding.evidence


def test_unreadable_secrets_leave_the_pull_secret_unknown_but_a_missing_reference_fails() -> None:
    secrets = forbidden(SECRETS, verb="get")  # read by name, never listed
    data = load()
    result = rules.pull_secret(workload(data), secrets, "regcred", S)
    assert isinstance(result, NoData)
    assert result.missing == (
        "cannot tell whether pull secret regcred exists and holds credentials: no Secrets: "
        "getting secrets in namespace rolerabbit-production is forbidden (HTTP 403) — grant "
        "get on secrets to this user (kubectl auth can-i get secrets -n rolerabbit-production)"
    )
    data["deployments"][0]["spec"]["template"]["spec"]["imagePullSecrets"] = []
    finding = rules.pull_secret(workload(data), secrets, "regcred", S)
    assert isinstance(finding, Finding)
    assert "the pod template do not reference regcred in imagePullSecrets" in shown(finding)
    assert f"secret regcred not read: {secrets.missing}" in finding.evidence


def test_unreadable_secrets_leave_secret_references_unresolved_but_configmaps_judged() -> None:
    secrets = forbidden(SECRETS, verb="get")  # read by name, never listed
    data = load()
    result = rules.config_references(workload(data), data["configmaps"], secrets, REQUIRED)
    assert isinstance(result, NoData)
    assert result.missing.startswith(
        "2 configuration references of deployment/rolerabbit-api cannot be resolved: "
        "no Secrets: getting secrets in namespace rolerabbit-production is forbidden (HTTP 403)"
    )
    assert result.evidence == [
        "unresolved: Secret rolerabbit-secrets, Secret rolerabbit-secrets key JWT_SECRET"
    ]
    broken = load("misconfigured")
    finding = rules.config_references(workload(broken), broken["configmaps"], secrets, REQUIRED)
    assert isinstance(finding, Finding)
    assert finding.evidence[0] == (
        "container api: key FEATURE_NEW_BILLING not found in ConfigMap rolerabbit-config"
    )
    assert finding.evidence[-1].startswith("Secret references not resolved: no Secrets:")


def test_unreadable_events_explain_pending_pods_by_their_condition() -> None:
    data = load("crashing")
    finding = rules.pending_pods(workload(data), FORBIDDEN_EVENTS, S, NOW)
    assert isinstance(finding, Finding)
    assert finding.summary.startswith("1 pods of deployment/rolerabbit-api Pending longer")
    assert finding.evidence[-1] == (
        f"reasons from the pods' PodScheduled condition: {FORBIDDEN_EVENTS.missing}"
    )
    assert rules.pending_pods(workload(load()), FORBIDDEN_EVENTS, S, NOW) is None


def test_unreadable_events_leave_probe_failures_uncounted() -> None:
    result = rules.health(workload(load()), FORBIDDEN_EVENTS, S, NOW)
    assert isinstance(result, NoData)
    assert result.missing == (
        "all 3 pods of deployment/rolerabbit-api are Ready, but probe failures cannot be "
        "counted: no Events: listing events in namespace rolerabbit-production is forbidden "
        "(HTTP 403) — grant list on events to this user "
        "(kubectl auth can-i list events -n rolerabbit-production)"
    )
    assert result.evidence == [
        "GET HTTP 403 Forbidden on /api/v1/namespaces/rolerabbit-production/events: "
        'events is forbidden: User "opscheck" cannot list resource "events"'
    ]
    unready = rules.health(workload(load("crashing")), FORBIDDEN_EVENTS, S, NOW)
    assert isinstance(unready, Finding)
    assert unready.summary == (
        "3 of 3 pods of deployment/rolerabbit-api not Ready for more than 120s"
    )
    assert unready.evidence[-1] == f"probe failures not counted: {FORBIDDEN_EVENTS.missing}"
    assert rules.warning_events(FORBIDDEN_EVENTS, set(), S, NOW) == FORBIDDEN_EVENTS
    assert rules.warning_events([], set(), S, NOW) is None, "no events is a pass: they expire"


def test_pod_metrics_absent_unmeasured_or_without_limits_are_no_data() -> None:
    data = load()
    path = POD_METRICS.path("rolerabbit-production")
    absent = Listing(absent=NotServed(POD_METRICS, KubeApiError(404, "Not Found", "", path)))
    result = rules.usage_near_limits(workload(data), readable(lambda: absent), S)
    assert isinstance(result, NoData)
    assert result.missing == (
        "no PodMetrics: metrics.k8s.io answered 404 — is metrics-server installed? "
        "(`kubectl top pods` fails the same way)"
    )
    assert result.evidence == [f"GET HTTP 404 Not Found on {path}"]
    others = [{"metadata": {"name": "someone-else"}, "containers": []}]
    unmeasured = rules.usage_near_limits(workload(data), others, S)
    assert isinstance(unmeasured, NoData)
    assert unmeasured.missing.startswith(
        "no PodMetrics for the 3 running pods of deployment/rolerabbit-api (metrics.k8s.io "
        "listed 1 PodMetrics in namespace rolerabbit-production, none of these pods)"
    )
    data["deployments"][0]["spec"]["template"]["spec"]["containers"][0]["resources"] = {}
    unlimited = rules.usage_near_limits(workload(data), data["pod_metrics"], S)
    assert isinstance(unlimited, NoData)
    assert unlimited.missing.startswith(
        "no CPU or memory limit on any container of deployment/rolerabbit-api"
    )


def test_nodes_unreadable_unlisted_or_silent_are_no_data() -> None:
    nodes = forbidden(NODES, None)
    assert nodes.missing == (
        "no Nodes: listing nodes at the cluster scope is forbidden (HTTP 403) — grant list on "
        "nodes to this user (kubectl auth can-i list nodes)"
    )
    assert rules.node_pressure(nodes, S) == nodes
    none = rules.node_pressure([], S)
    assert isinstance(none, NoData)
    assert none.missing == "no Nodes: the API listed 0 nodes, so no node condition can be read"
    silent = [*load()["nodes"], {"metadata": {"name": "node-2"}, "status": {}}]
    result = rules.node_pressure(silent, S)
    assert isinstance(result, NoData)
    assert result.missing == (
        "1 of 2 nodes report none of the conditions MemoryPressure, DiskPressure, PIDPressure: "
        "their pressure is unknown"
    )


def test_unreadable_hpas_leave_the_minimum_unknown_and_unserved_ones_do_not() -> None:
    data = load()
    hpas = forbidden(HPAS)
    result = rules.replicas_below_minimum(workload(data), hpas, S)
    assert isinstance(result, NoData)
    assert result.missing == (
        "cannot tell the minimum replicas of deployment/rolerabbit-api: no "
        "HorizontalPodAutoscalers: listing horizontalpodautoscalers.autoscaling in namespace "
        "rolerabbit-production is forbidden (HTTP 403) — grant list on "
        "horizontalpodautoscalers.autoscaling to this user "
        "(kubectl auth can-i list horizontalpodautoscalers -n rolerabbit-production)"
    )
    path = HPAS.path("rolerabbit-production")
    unserved = Listing(absent=NotServed(HPAS, KubeApiError(404, "Not Found", "", path)))
    assert readable(lambda: unserved, absent_is_empty=True) == []
    assert rules.replicas_below_minimum(workload(data), unserved, S) is None


def test_a_forbidden_list_is_remembered_and_ends_a_check_inconclusive() -> None:
    """ReadForbidden is both: the store remembers it like an unreachable API, and the core
    reports the check that meets it as inconclusive (its NoData), not failed."""
    error = KubeApiError(403, "Forbidden", "nodes is forbidden", "/api/v1/nodes")
    calls: list[str] = []

    def read() -> Listing:
        calls.append("list")
        raise ReadForbidden(NODES, None, error)

    store = SnapshotStore()
    for _ in range(2):
        with pytest.raises(ReadForbidden) as raised:
            store.get("k8s:v1/nodes:None", read)
    assert calls == ["list"], "one LIST per session, even when it is refused"
    assert isinstance(raised.value, DependencyUnavailable)
    assert isinstance(raised.value, Inconclusive)
    assert str(raised.value) == f"inconclusive: {raised.value.no_data.missing}"
    assert readable(lambda: store.get("k8s:v1/nodes:None", read)) == raised.value.no_data


# -- settings checked together --------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "key", "message"),
    [
        (
            {"pending_threshold_s": 900},
            "pending_threshold_s",
            "pending_threshold_s (900) must be at most settle_window_s (600)",
        ),
        (
            {"settle_window_s": 60, "pending_threshold_s": 30},
            "not_ready_grace_s",
            "not_ready_grace_s (120) must be at most settle_window_s (60)",
        ),
        (
            {"cpu_usage_ratio": 80},
            "cpu_usage_ratio",
            "0 < ratio <= 1: 80 reads like a percentage, write 0.8",
        ),
        ({"memory_usage_ratio": 0}, "memory_usage_ratio", "must be a fraction of the limit"),
        ({"memory_limit_ceiling": "2"}, "memory_limit_ceiling", "2 is 2 bytes: write a unit"),
        ({"cpu_limit_ceiling": "four"}, "cpu_limit_ceiling", "must be a Kubernetes quantity"),
        ({"cpu_limit_ceiling": "0"}, "cpu_limit_ceiling", "must be more than 0"),
        (
            {"image_pull_reasons": ["ErrImagePull", "CrashLoopBackOff"]},
            "image_pull_reasons",
            "CrashLoopBackOff also in deployment.failing_waiting_reasons",
        ),
        ({"pressure_conditions": []}, "pressure_conditions", "at least 1 item"),
    ],
)
def test_settings_are_checked_together(values: dict[str, Any], key: str, message: str) -> None:
    with pytest.raises(ValidationError) as raised:
        DeploymentSettings(**values)
    (error,) = raised.value.errors()
    assert error["loc"] == (key,)
    assert message in error["msg"]


# -- kubeconfig files the client cannot use -------------------------------------------------


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (
            b"not: [yaml",
            "not YAML (line 1, column 11: expected ',' or ']', but got '<stream end>')",
        ),
        (b"just words", "not a kubeconfig: its top level is a string, not a mapping with"),
        (b"- a\n- b\n", "not a kubeconfig: its top level is a list"),
        (b"clusters: 5\n", "not a kubeconfig: 'clusters' is a number, not a list"),
        (b"users: [token-abc]\n", "not a kubeconfig: 'users[0]' is a string, not a mapping"),
        (b"", "the file is empty"),
        (b"\xff\xfe", "not a text file (not UTF-8), so not a kubeconfig"),
    ],
)
def test_an_unusable_kubeconfig_is_described_without_quoting_it(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    path = tmp_path / "kubeconfig"
    path.write_bytes(content)
    said = unusable_kubeconfig(kubeconfig_paths(str(path)))
    assert said is not None and said.startswith(problem), said
    assert "token-abc" not in said


def test_kubeconfig_lists_name_the_bad_file_and_skip_missing_ones(tmp_path: Path) -> None:
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.write_text("apiVersion: v1\nclusters: []\ncontexts: []\nusers: []\n")
    bad.write_text("not: [yaml")
    gone = tmp_path / "gone"
    assert unusable_kubeconfig(kubeconfig_paths(f"{gone}:{good}")) is None
    said = unusable_kubeconfig(kubeconfig_paths(f"{good}:{bad}"))
    assert said is not None and said.startswith(f"{bad}: not YAML (line 1")
    assert unusable_kubeconfig([gone]) == "cannot read it (No such file or directory)"


def test_ages_without_a_timestamp_are_no_data_not_young() -> None:
    """A Pending pod, a restart or an unready pod whose age cannot be read is not taken for
    a new one: the verdict that depends on its age is NoData."""
    data = load("crashing")
    for pod in data["pods"]:
        pod["metadata"].pop("creationTimestamp", None)
        for status in pod["status"].get("containerStatuses") or []:
            ((status.get("lastState") or {}).get("terminated") or {}).pop("finishedAt", None)
        for cond in pod["status"].get("conditions") or []:
            cond.pop("lastTransitionTime", None)
    w = workload(data)
    pending = rules.pending_pods(w, data["events"], S, NOW)
    assert isinstance(pending, NoData)
    assert pending.missing == (
        "1 Pending pods of deployment/rolerabbit-api have no creationTimestamp: cannot tell "
        "whether they are Pending longer than 300s (rolerabbit-api-bbbb2-p3)"
    )
    restarted = rules.restarts(w, S, NOW)
    assert isinstance(restarted, NoData)
    assert restarted.missing.startswith(
        "2 containers of deployment/rolerabbit-api restarted more than 3 times but have no "
        "lastState.terminated.finishedAt: cannot tell whether the last restart was within 600s ("
    )
    unready = rules.health(w, [], S, NOW)
    assert isinstance(unready, NoData)
    assert unready.missing.startswith(
        "3 unready pods of deployment/rolerabbit-api have no Ready transition time or "
        "creationTimestamp: cannot tell whether they are past the 120s grace ("
    )


def test_secret_names_are_every_secret_a_template_names_once() -> None:
    from checks.deployment.configuration import secret_names

    template = {
        "spec": {
            "imagePullSecrets": [{"name": "regcred"}, {"name": "mirror"}],
            "containers": [
                {
                    "name": "api",
                    "envFrom": [{"secretRef": {"name": "app"}}, {"configMapRef": {"name": "c"}}],
                    "env": [
                        {"name": "A", "valueFrom": {"secretKeyRef": {"name": "db", "key": "u"}}},
                        {"name": "B", "valueFrom": {"secretKeyRef": {"name": "app", "key": "k"}}},
                    ],
                }
            ],
            "volumes": [
                {"name": "tls", "secret": {"secretName": "tls", "optional": True}},
                {"name": "cfg", "configMap": {"name": "c"}},
            ],
        }
    }
    assert secret_names(template) == ["app", "db", "tls", "regcred", "mirror"]
    assert secret_names({}) == []
