"""deploy/ against the code it is generated from: the Roles' rules, the CronJob's deadlines.

scripts/deploy-generate writes them from fixtures/kubernetes_access.py, the catalogue's
remediations and the deploy profile's budgets; these tests fail when a committed file has
drifted from that, when a remediation is missing from the declared access, or when a rule
grants a wildcard or a read of every Secret.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import yaml

from fixtures.kubernetes_access import REMEDIATIONS, SWEEP
from tests.catalogue import catalogue
from tests.deploy.deploy_support import ROOT, SCRIPT, generator

ROLE_FILES = ("deploy/base/rbac-readonly.yaml", "deploy/overlays/fix/rbac-fixer.yaml")


def documents(path: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((ROOT / path).read_text()) if d]


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120
    )


def test_the_committed_files_are_what_the_generator_writes() -> None:
    result = run_script("--check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_a_drifted_file_is_named() -> None:
    module = generator()
    files = module.generated()
    [(path, text)] = [(p, t) for p, t in files.items() if p.name == "rbac-fixer.yaml"]
    assert "deployments/scale" in text
    drifted = {p: t.replace("deployments/scale", "deployments/status") for p, t in files.items()}
    stale = [p for p, t in drifted.items() if p.read_text() != t]
    assert stale == [path]


def test_a_bad_argument_is_one_usage_line() -> None:
    result = run_script("--wirte")
    assert result.returncode == 4
    assert result.stdout == ("usage: scripts/deploy-generate [--write | --check] (not '--wirte')\n")
    assert result.stderr == ""


def test_every_remediation_of_the_catalogue_is_declared() -> None:
    specs = generator().remediation_specs()
    assert sorted(REMEDIATIONS) == sorted(specs)
    # What `pytest --catalogue` shows pointing at a remediation is among them.
    shown = {e.remediation.split()[0] for e in catalogue() if "-R" in e.remediation.split()[0]}
    assert shown and shown <= set(REMEDIATIONS)


@pytest.mark.parametrize("path", ROLE_FILES)
def test_rules_grant_no_wildcard_and_no_listing_of_secrets(path: str) -> None:
    for role in documents(path):
        assert role["kind"] in ("Role", "ClusterRole")
        for rule in role["rules"]:
            words = [*rule["apiGroups"], *rule["resources"], *rule["verbs"]]
            assert not any("*" in w for w in words), rule
            if "" in rule["apiGroups"] and "secrets" in rule["resources"]:
                assert set(rule["verbs"]) <= {"get", "patch"}, rule


def test_the_fixer_role_leaves_out_the_destructive_remediations() -> None:
    [role] = documents("deploy/overlays/fix/rbac-fixer.yaml")
    granted = {
        (g, r) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]
    }
    # SEC-R03 (rotate a Secret) is destructive: without --allow-destructive it never runs.
    assert ("", "secrets") not in granted
    assert ("apps", "deployments/scale") in granted and ("", "pods") in granted


def test_the_readonly_role_reads_and_takes_the_lease_only() -> None:
    writes = {
        name
        for access in SWEEP
        for name in access.names()
        if name.split()[0] not in ("get", "list")
    }
    assert writes == {
        "create leases.coordination.k8s.io",
        "delete leases.coordination.k8s.io",
        "update leases.coordination.k8s.io",
    }


def test_the_deadline_is_the_sum_of_the_budgets() -> None:
    module = generator()
    items = module.collected_checks()
    assert items > 50  # a full sweep: every section's checks
    base = documents("deploy/base/deadline.yaml")[0]
    fix = documents("deploy/overlays/fix/deadline.yaml")[0]
    profile = yaml.safe_load((ROOT / "deploy/base/rolerabbit.yaml").read_text())
    budgets = profile["profiles"]["production"]
    check_s = budgets["timeouts"]["check_budget_s"]
    fix_s = budgets.get("fix", {}).get("budget_s", 300)  # the FixPolicy default
    assert base["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"] == 60 + items * check_s
    assert fix["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"] == 60 + items * (
        check_s + fix_s
    )


def test_the_cronjobs_profile_is_the_production_profile_without_a_kubeconfig_context() -> None:
    # kustomize cannot read files outside deploy/, so the ConfigMap's profile is a copy:
    # it must not drift from rolerabbit.yaml's production profile (in a pod there is no
    # kubeconfig, hence no context).
    def production(path: str) -> dict[str, Any]:
        profile: dict[str, Any] = yaml.safe_load((ROOT / path).read_text())["profiles"][
            "production"
        ]
        return profile

    deployed, source = production("deploy/base/rolerabbit.yaml"), production("rolerabbit.yaml")
    source["kubernetes"] = {k: v for k, v in source["kubernetes"].items() if k != "context"}
    assert deployed == source
