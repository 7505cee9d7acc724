"""Unit tests of DEP-115's rules: which Deployment a release replaces, and what the
registry's answer comes to. Small objects built here; nothing talks to a cluster."""

from __future__ import annotations

from typing import Any

from checks import deployment as rules
from checks.deployment.image_refs import ImageVerdict, Status
from opscheck import Finding, NoData

APP = "ghcr.io/rolerabbit/app"


def deployment(name: str, *images: str, secrets: tuple[str, ...] = ("regcred",)) -> Any:
    containers = [{"name": f"c{i}", "image": image} for i, image in enumerate(images)]
    spec = {"containers": containers, "imagePullSecrets": [{"name": s} for s in secrets]}
    return {"metadata": {"name": name}, "spec": {"template": {"spec": spec}}}


API = deployment("rolerabbit-api", f"{APP}:v1.2.3")
WORKER = deployment("worker", "ghcr.io/rolerabbit/worker:v1.2.3", secrets=("one", "two"))


def test_the_target_is_the_deployment_running_the_same_repository() -> None:
    release = rules.Release(f"{APP}:v1.3.0")
    assert rules.release_target(release, [API, WORKER]) is API
    by_digest = rules.Release(f"{APP}@sha256:" + "a" * 64)
    assert rules.release_target(by_digest, [WORKER, API]) is API
    assert rules.target_pull_secrets(WORKER) == ["one", "two"]


def test_a_named_deployment_wins_and_must_exist() -> None:
    release = rules.Release(f"{APP}:v1.3.0", "worker")
    assert rules.release_target(release, [API, WORKER]) is WORKER
    missing = rules.release_target(rules.Release(f"{APP}:v2", "gone"), [API, WORKER])
    assert missing == NoData(
        "--release-deployment gone: no such Deployment (there are: rolerabbit-api, worker)"
    )


def test_no_or_two_deployments_running_the_repository_ask_for_a_name() -> None:
    twin = deployment("canary", f"{APP}:v1.2.4")
    two = rules.release_target(rules.Release(f"{APP}:v2"), [API, twin])
    assert isinstance(two, NoData)
    assert two.missing == (
        f"cannot tell which Deployment {APP}:v2 replaces: 2 Deployments run {APP} "
        "(canary, rolerabbit-api); name it with --release-deployment NAME"
    )
    none = rules.release_target(rules.Release("nginx:1.27"), [API])
    assert isinstance(none, NoData)
    assert "no Deployment runs docker.io/library/nginx" in none.missing
    unread = rules.release_target(rules.Release(f"{APP}:v2"), NoData("deployments: HTTP 403"))
    assert unread == NoData(
        f"cannot tell which Deployment {APP}:v2 replaces: deployments: HTTP 403"
    )


def told(status: Status) -> ImageVerdict:
    return ImageVerdict(f"{APP}:v2", status, "ghcr.io", "the registry's detail", "regcred")


def test_present_passes_missing_and_refused_fail_anything_else_is_unjudged() -> None:
    release, target = rules.Release(f"{APP}:v2"), "rolerabbit-api"
    where = f"release {APP}:v2 (replacing deployment/{target})"
    assert rules.release_image(release, target, told("present")) is None
    missing = rules.release_image(release, target, told("missing"))
    assert isinstance(missing, Finding)
    assert missing.summary.startswith(f"{where} is not in its registry")
    assert "the registry's detail" in missing.evidence
    refused = rules.release_image(release, target, told("refused"))
    assert isinstance(refused, Finding)
    assert refused.summary.startswith(
        f"{where} cannot be pulled with the Deployment's pull secret regcred"
    )
    assert rules.release_image(release, target, told("unknown")) == NoData(
        f"cannot tell whether {where} is in its registry: the registry's detail"
    )
