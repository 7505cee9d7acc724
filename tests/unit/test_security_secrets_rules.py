"""Unit tests of the secret-hygiene rules (SEC-101..104) and their settings, on small YAML.

leaky.yaml overlays healthy.yaml in tests/data/security/ (top-level lists replace the
healthy ones). Time is pinned to 2026-01-01T00:00:00Z; nothing here talks to a cluster.
Every message is also searched for the literal values the data holds: none may appear.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from checks.security.secrets import literal_secrets, plaintext_env, secret_age, stale_secrets
from checks.security.settings import SecuritySettings
from checks.security.tokens import missing_pull_secrets, unneeded_tokens
from fixtures.kubernetes import KubeApiError, ReadForbidden
from fixtures.kubernetes_resources import SECRET_METADATA, SERVICEACCOUNTS
from opscheck import Finding, NoData

DATA = Path(__file__).resolve().parents[1] / "data" / "security"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
NS = "rolerabbit-production"
S = SecuritySettings(secret_api_access_deployments=["rolerabbit-operator"])
VALUES = ("plain-text-value-1", "plain-text-value-2", "plain-text-value-3")


def load(scenario: str = "healthy") -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DATA / "healthy.yaml").read_text())
    if scenario != "healthy":
        data.update(yaml.safe_load((DATA / f"{scenario}.yaml").read_text()))
    return data


def told(result: Finding | NoData | None) -> str:
    """The verdict as one text (summary and evidence), checked to hold no secret value."""
    if result is None:
        return "passed"
    head = f"inconclusive: {result.missing}" if isinstance(result, NoData) else result.summary
    text = "\n".join([head, *result.evidence])
    assert not any(value in text for value in VALUES), text
    return text


def forbidden(resource: Any, verb: str = "list") -> NoData:
    error = KubeApiError(403, "Forbidden", "no", resource.path(NS))
    return ReadForbidden(resource, NS, error, verb).no_data


def test_a_healthy_namespace_passes_every_rule() -> None:
    data = load()
    assert stale_secrets(data["secrets"], S, NS, NOW) is None
    assert plaintext_env(data["deployments"], S, NS, "rolerabbit-secrets") is None
    assert unneeded_tokens(data["deployments"], data["serviceaccounts"], S, NS) is None
    assert missing_pull_secrets(data["deployments"], data["secrets"], NS) is None


def test_rotation_age_from_the_annotation_else_the_creation_time() -> None:
    [annotated, created] = load()["secrets"]
    age = secret_age(annotated, S.secret_rotated_annotation, NOW)
    assert (age.source, age.age_s, age.note) == ("rotated", 31 * 86400.0, "")
    age = secret_age(created, S.secret_rotated_annotation, NOW)
    assert (age.source, age.age_s) == ("created", 61 * 86400.0)


def test_stale_missing_and_malformed_secrets_fail_sec_101() -> None:
    settings = S.model_copy(
        update={"secret_names": ["rolerabbit-secrets", "stripe-keys", "regcred"]}
    )
    text = told(stale_secrets(load("leaky")["secrets"], settings, NS, NOW))
    lines = text.splitlines()
    assert lines[0] == (
        "1 of 3 named Secrets older than the rotation age of 90 days (rolerabbit-secrets: "
        "214 days); 1 named Secrets not found in namespace rolerabbit-production"
    )
    assert (
        "secret/rolerabbit-secrets: rotated 214 days ago (2025-06-01T00:00:00Z), older than "
        "the rotation age of 90 days"
    ) in lines
    assert (
        "stripe-keys: annotation rolerabbit.io/rotated-at='last tuesday' is not an RFC 3339 "
        "time: age taken from creationTimestamp"
    ) in lines
    assert (
        "secret/stripe-keys: created (never annotated as rotated) 7.0 days ago "
        "(2025-12-25T00:00:00Z), within the rotation age of 90 days"
    ) in lines
    assert any(
        line.startswith(
            "secret/regcred not found in namespace rolerabbit-production: the "
            "profile names it (security.secret_names)"
        )
        for line in lines
    )
    assert (
        "record it: kubectl annotate secret rolerabbit-secrets -n rolerabbit-production "
        "rolerabbit.io/rotated-at=$(date -u +%Y-%m-%dT%H:%M:%SZ) --overwrite"
    ) in lines


def test_a_rotation_time_in_the_future_is_not_trusted() -> None:
    secret = {
        "metadata": {
            "name": "s",
            "creationTimestamp": "2025-01-01T00:00:00Z",
            "annotations": {"rolerabbit.io/rotated-at": "2027-01-01T00:00:00Z"},
        }
    }
    age = secret_age(secret, "rolerabbit.io/rotated-at", NOW)
    assert (age.source, age.age_s) == ("created", 365 * 86400.0)
    assert "is in the future" in age.note


def test_secrets_that_cannot_be_read_leave_sec_101_and_sec_104_inconclusive() -> None:
    no = forbidden(SECRET_METADATA, "get")  # read by name, never listed
    assert told(stale_secrets(no, S, NS, NOW)) == (
        "inconclusive: cannot judge the rotation of rolerabbit-secrets, regcred: no Secrets: "
        "getting secrets in namespace rolerabbit-production is forbidden (HTTP 403) — grant "
        "get on secrets to this user (kubectl auth can-i get secrets -n "
        "rolerabbit-production)\nGET HTTP 403 Forbidden on "
        "/api/v1/namespaces/rolerabbit-production/secrets: no"
    )
    assert told(missing_pull_secrets(load()["deployments"], no, NS)).startswith(
        "inconclusive: cannot resolve image pull secrets: no Secrets: getting secrets"
    )


def test_literal_secret_values_fail_sec_102_naming_only_where_they_are() -> None:
    deployments = load("leaky")["deployments"]
    found = [
        (p.deployment, p.container, p.variable, p.why)
        for d in deployments
        for p in literal_secrets(d, S)
    ]
    assert found == [
        ("rolerabbit-api", "init container migrate", "DATABASE_URL", "a URL with a password"),
        ("rolerabbit-api", "container api", "STRIPE_API_KEY", "a secret-like name"),
        ("rolerabbit-deployment-worker", "container worker", "db_password", "a secret-like name"),
    ]
    lines = told(plaintext_env(deployments, S, NS, "rolerabbit-secrets")).splitlines()
    assert lines[0] == (
        "3 secret-like env vars set as plain text in the pod templates of 2 Deployments "
        "(rolerabbit-api, rolerabbit-deployment-worker; threshold 0)"
    )
    assert (
        "deployment/rolerabbit-api container api: STRIPE_API_KEY set with a literal value "
        "(a secret-like name), not valueFrom.secretKeyRef"
    ) in lines
    assert (
        "read it from there: kubectl set env deployment/rolerabbit-api -c api -n "
        "rolerabbit-production --from=secret/rolerabbit-secrets --keys=STRIPE_API_KEY"
    ) in lines
    assert (
        "move STRIPE_API_KEY into secret/rolerabbit-secrets: kubectl patch secret "
        "rolerabbit-secrets -n rolerabbit-production --type merge -p "
        '\'{"stringData":{"STRIPE_API_KEY":"<value>"}}\''
    ) in lines


def test_the_secret_name_patterns_are_settings() -> None:
    narrow = SecuritySettings(secret_env_names="STRIPE", secret_url_env_names="^NEVER$")
    found = [p.variable for d in load("leaky")["deployments"] for p in literal_secrets(d, narrow)]
    assert found == ["STRIPE_API_KEY"]
    with pytest.raises(ValidationError, match="not a regular expression"):
        SecuritySettings(secret_env_names="(")
    with pytest.raises(ValidationError, match="matches every name"):
        SecuritySettings(secret_env_names=".*")
    with pytest.raises(ValidationError, match="is not an annotation key"):
        SecuritySettings(secret_rotated_annotation="rotated at")


def test_tokens_mounted_without_need_fail_sec_103() -> None:
    data = load("leaky")
    lines = told(unneeded_tokens(data["deployments"], data["serviceaccounts"], S, NS)).splitlines()
    assert lines[0] == (
        "2 Deployments mount a service-account token they do not need (rolerabbit-api, "
        "rolerabbit-deployment-worker; API access: rolerabbit-operator)"
    )
    assert lines[1:3] == [
        "deployment/rolerabbit-api: token mounted (neither the pod template nor "
        "serviceaccount default sets it false)",
        "deployment/rolerabbit-deployment-worker: token mounted (the pod template sets "
        "automountServiceAccountToken: true)",
    ]
    assert (
        "turn it off: kubectl patch deployment rolerabbit-api -n rolerabbit-production -p "
        '\'{"spec":{"template":{"spec":{"automountServiceAccountToken":false}}}}\' (or for '
        "every pod of the account: kubectl patch serviceaccount default -n "
        "rolerabbit-production -p '{\"automountServiceAccountToken\":false}')"
    ) in lines


def test_without_service_accounts_only_the_templates_are_judged() -> None:
    no = forbidden(SERVICEACCOUNTS)
    healthy = load()["deployments"]
    assert told(unneeded_tokens(healthy, no, S, NS)).startswith(
        "inconclusive: cannot tell whether rolerabbit-api mount a service-account token: no "
        "ServiceAccounts: listing serviceaccounts in namespace rolerabbit-production is "
        "forbidden (HTTP 403)"
    )
    off = [
        {
            "metadata": {"name": "a"},
            "spec": {"template": {"spec": {"automountServiceAccountToken": False}}},
        }
    ]
    assert unneeded_tokens(off, no, S, NS) is None
    text = told(unneeded_tokens(load("leaky")["deployments"], no, S, NS))
    assert text.startswith("1 Deployments mount a service-account token they do not need")
    assert "not judged: rolerabbit-api (no ServiceAccounts: listing serviceaccounts" in text


def test_dangling_pull_secrets_fail_sec_104() -> None:
    data = load("leaky")
    lines = told(missing_pull_secrets(data["deployments"], data["secrets"], NS)).splitlines()
    assert lines[:2] == [
        "1 image pull secret references of Deployments name no Secret (regcred; threshold 0)",
        "deployment/rolerabbit-api: imagePullSecrets names secret/regcred, not found in "
        "namespace rolerabbit-production",
    ]
