"""deploy/'s overlays applied to the emulator with the real kubectl (`kubectl apply -k`), then
read back through the API: the CronJob, its ServiceAccount, the Roles and their bindings and
the profile's ConfigMap, as each overlay defines them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from tests.k8s.support import NAMESPACE, Lab

ROOT = Path(__file__).resolve().parents[2]
NS = ("-n", NAMESPACE)
READONLY = "rolerabbit-opscheck-readonly"
FIXER = "rolerabbit-opscheck-fixer"
HASHED = re.compile(r"-[a-z0-9]{10}$")


def apply(lab: Lab, overlay: str) -> list[str]:
    out = lab.kubectl("apply", "-k", str(ROOT / "deploy/overlays" / overlay)).stdout
    return out.splitlines()


def rules(role: Any) -> list[tuple[str, str, tuple[str, ...]]]:
    return [
        (g, r, tuple(rule.verbs))
        for rule in role.rules
        for g in rule.api_groups
        for r in rule.resources
    ]


def committed_rules(path: str, kind: str) -> list[tuple[str, str, tuple[str, ...]]]:
    [role] = [d for d in yaml.safe_load_all((ROOT / path).read_text()) if d["kind"] == kind]
    return [
        (g, r, tuple(x["verbs"]))
        for x in role["rules"]
        for g in x["apiGroups"]
        for r in x["resources"]
    ]


def container(api: client.ApiClient) -> Any:
    cronjob = client.BatchV1Api(api).read_namespaced_cron_job("rolerabbit-opscheck", NAMESPACE)
    return cronjob, cronjob.spec.job_template.spec.template.spec.containers[0]


def test_the_readonly_overlay_applies_and_grants_reads_only(
    fresh: Lab, api: client.ApiClient, core: client.CoreV1Api
) -> None:
    created = apply(fresh, "readonly")
    assert all(line.endswith(" created") for line in created), created
    # The ConfigMap's name ends in kustomize's hash of its content.
    assert {HASHED.sub("", line.split()[0]) for line in created} == {
        "serviceaccount/rolerabbit-opscheck",
        f"role.rbac.authorization.k8s.io/{READONLY}",
        "clusterrole.rbac.authorization.k8s.io/rolerabbit-opscheck-readonly-nodes",
        f"rolebinding.rbac.authorization.k8s.io/{READONLY}",
        "clusterrolebinding.rbac.authorization.k8s.io/rolerabbit-opscheck-readonly-nodes",
        "configmap/rolerabbit-opscheck-profile",
        "cronjob.batch/rolerabbit-opscheck",
    }
    # Applied again: nothing changes.
    assert all(line.endswith(" unchanged") for line in apply(fresh, "readonly"))

    cronjob, opscheck = container(api)
    assert cronjob.spec.concurrency_policy == "Forbid"
    assert cronjob.spec.starting_deadline_seconds == 300
    assert cronjob.spec.job_template.spec.active_deadline_seconds > 0
    assert opscheck.command == ["pytest"] and "--fix" not in opscheck.args
    assert "--env=production" in opscheck.args
    assert opscheck.env_from[0].secret_ref.name == "rolerabbit-opscheck-dsns"
    template = cronjob.spec.job_template.spec.template.spec
    assert template.service_account_name == "rolerabbit-opscheck"

    # The profile's ConfigMap (its name carries kustomize's content hash) is the one mounted.
    [volume] = [v for v in template.volumes if v.name == "profile"]
    profile = core.read_namespaced_config_map(volume.config_map.name, NAMESPACE)
    assert yaml.safe_load(profile.data["rolerabbit.yaml"])["profiles"]["production"]

    rbac = client.RbacAuthorizationV1Api(api)
    role = rbac.read_namespaced_role(READONLY, NAMESPACE)
    assert rules(role) == committed_rules("deploy/base/rbac-readonly.yaml", "Role")
    binding = rbac.read_namespaced_role_binding(READONLY, NAMESPACE)
    assert [(s.kind, s.name) for s in binding.subjects] == [
        ("ServiceAccount", "rolerabbit-opscheck")
    ]
    nodes = rbac.read_cluster_role("rolerabbit-opscheck-readonly-nodes")
    assert {r for _, r, _ in rules(nodes)} == {"nodes"}
    assert [r.metadata.name for r in rbac.list_namespaced_role(NAMESPACE).items] == [READONLY]
    assert core.read_namespaced_service_account("rolerabbit-opscheck", NAMESPACE)


def test_the_fix_overlay_adds_the_fixer_role_and_the_flag(
    fresh: Lab, api: client.ApiClient
) -> None:
    lines = apply(fresh, "fix")
    assert f"role.rbac.authorization.k8s.io/{FIXER} created" in lines
    assert f"rolebinding.rbac.authorization.k8s.io/{FIXER} created" in lines
    cronjob, opscheck = container(api)
    assert opscheck.args[-1] == "--fix" and "--allow-destructive" not in opscheck.args
    readonly_deadline = yaml.safe_load((ROOT / "deploy/base/deadline.yaml").read_text())
    base_s = readonly_deadline["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"]
    assert cronjob.spec.job_template.spec.active_deadline_seconds > base_s

    rbac = client.RbacAuthorizationV1Api(api)
    fixer = rbac.read_namespaced_role(FIXER, NAMESPACE)
    assert rules(fixer) == committed_rules("deploy/overlays/fix/rbac-fixer.yaml", "Role")
    binding = rbac.read_namespaced_role_binding(FIXER, NAMESPACE)
    assert binding.role_ref.name == FIXER
    assert [(s.kind, s.name) for s in binding.subjects] == [
        ("ServiceAccount", "rolerabbit-opscheck")
    ]
    # The fix overlay keeps the read-only Role: the fixer Role only adds to it.
    names = sorted(r.metadata.name for r in rbac.list_namespaced_role(NAMESPACE).items)
    assert names == [FIXER, READONLY]


@pytest.mark.parametrize("overlay", ["readonly", "fix"])
def test_kubectl_lists_what_the_overlay_created(fresh: Lab, overlay: str) -> None:
    apply(fresh, overlay)
    out = fresh.kubectl("get", "cronjobs,roles,rolebindings", *NS, "-o", "name").stdout
    expected = {
        "cronjob.batch/rolerabbit-opscheck",
        f"role.rbac.authorization.k8s.io/{READONLY}",
        f"rolebinding.rbac.authorization.k8s.io/{READONLY}",
    }
    if overlay == "fix":
        expected |= {
            f"role.rbac.authorization.k8s.io/{FIXER}",
            f"rolebinding.rbac.authorization.k8s.io/{FIXER}",
        }
    assert set(out.split()) == expected
