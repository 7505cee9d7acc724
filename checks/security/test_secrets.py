"""Security Incidents, secret hygiene: rotation, plain-text values, tokens, pull secrets.

Thin: each check reads the session's Kubernetes snapshot (one LIST per type per sweep,
shared with the deployment checks: the Deployments), calls its rule in
checks/security/secrets.py or tokens.py and returns the verdict. Secrets are read as
metadata only (`kube_snapshot.secret_metadata`: a PartialObjectMetadata per named Secret,
each by GET, never listed), so the suite never receives a Secret's value, and no message
ever shows one.

A list this user may not read (HTTP 403) or the API does not serve reaches the rule as
NoData through `readable()`: the check is inconclusive, never green. SEC-101's fix is
SEC-R03 (rotate the keys security_response.rotate lists); the others have no automatic
fix: each failure gives the exact kubectl steps with the profile's names.
"""

from __future__ import annotations

from datetime import UTC, datetime

from checks.security.secrets import plaintext_env, stale_secrets
from checks.security.settings import SecuritySettings
from checks.security.tokens import missing_pull_secrets, unneeded_tokens
from fixtures.kubernetes import readable
from fixtures.kubernetes_snapshot import KubeSnapshot
from opscheck import check, verdict
from opscheck.settings import Profile
from remediations.security import ROTATE_SECRET

SECTION = "security"
BREACH = "Data breach suspected"


def now() -> datetime:
    return datetime.now(UTC)


@check(
    "SEC-101",
    title="Named Secrets rotated within the rotation age",
    section_marker=SECTION,
    symptom=f"{BREACH} (revoke compromised API keys)",
    remediation=ROTATE_SECRET,
    manual=[
        "kubectl get secrets -n {namespace} -o custom-columns='NAME:.metadata.name,"
        "CREATED:.metadata.creationTimestamp,ROTATED:.metadata.annotations.{rotated_annotation_path}'",
        "./scripts/rotate-secrets.ts force-rotate  # the runbook's rotation: new values at "
        "their source",
        "kubectl patch secret {secret} -n {namespace} --type merge "
        '-p \'{"stringData":{"<KEY>":"<new value>"}}\'  # each key rotated',
        "kubectl annotate secret {secret} -n {namespace} "
        "{rotated_annotation}=$(date -u +%Y-%m-%dT%H:%M:%SZ) --overwrite",
        "kubectl rollout restart deployment/{api_deployment} deployment/{worker_deployment} "
        "-n {namespace}",
    ],
)
def test_secret_rotation(kube_snapshot: KubeSnapshot, profile: Profile) -> None:
    settings = profile.section(SecuritySettings)
    secrets = readable(kube_snapshot.secret_metadata)
    verdict(stale_secrets(secrets, settings, kube_snapshot.namespace, now()))


@check(
    "SEC-102",
    title="No plain-text secrets in Deployment env",
    section_marker=SECTION,
    symptom=BREACH,
    manual=[
        "kubectl get deployments -n {namespace} -o jsonpath='{range .items[*]}"
        "{.metadata.name}: {range .spec.template.spec.containers[*].env[*]}{.name} "
        '{end}{"\\n"}{end}\'  # names only',
        "kubectl patch secret {secret} -n {namespace} --type merge "
        '-p \'{"stringData":{"<VAR>":"<value>"}}\'',
        "kubectl set env deployment/<name> -c <container> -n {namespace} "
        "--from=secret/{secret} --keys=<VAR>",
        "rotate the value: it was readable by anyone who may get deployments or replicasets",
    ],
)
def test_plaintext_env(kube_snapshot: KubeSnapshot, profile: Profile) -> None:
    settings = profile.section(SecuritySettings)
    deployments = readable(kube_snapshot.deployments)
    secret = profile.kubernetes.secret
    verdict(plaintext_env(deployments, settings, kube_snapshot.namespace, secret))


@check(
    "SEC-103",
    title="Service-account tokens mounted only where the API is called",
    section_marker=SECTION,
    symptom="Unauthorized access detected",
    manual=[
        "kubectl get deployments -n {namespace} -o custom-columns='NAME:.metadata.name,"
        "ACCOUNT:.spec.template.spec.serviceAccountName,"
        "AUTOMOUNT:.spec.template.spec.automountServiceAccountToken'",
        "kubectl patch deployment <name> -n {namespace} "
        '-p \'{"spec":{"template":{"spec":{"automountServiceAccountToken":false}}}}\'',
        "kubectl patch serviceaccount default -n {namespace} "
        "-p '{\"automountServiceAccountToken\":false}'",
        "a deployment that calls the Kubernetes API: list it in "
        "security.secret_api_access_deployments",
    ],
)
def test_token_automount(kube_snapshot: KubeSnapshot, profile: Profile) -> None:
    settings = profile.section(SecuritySettings)
    deployments = readable(kube_snapshot.deployments)
    accounts = readable(kube_snapshot.serviceaccounts)
    verdict(unneeded_tokens(deployments, accounts, settings, kube_snapshot.namespace))


@check(
    "SEC-104",
    title="Image pull secrets referenced exist",
    section_marker=SECTION,
    symptom="Unauthorized access detected",
    manual=[
        "kubectl get deployments -n {namespace} -o custom-columns='NAME:.metadata.name,"
        "PULL:.spec.template.spec.imagePullSecrets[*].name'",
        "kubectl get secrets -n {namespace} -o name",
        "kubectl create secret docker-registry {pull_secret} --docker-server=ghcr.io "
        "--docker-username=<user> --docker-password=<token> -n {namespace}",
    ],
)
def test_pull_secrets_exist(kube_snapshot: KubeSnapshot) -> None:
    deployments = readable(kube_snapshot.deployments)
    secrets = readable(kube_snapshot.secret_metadata)
    verdict(missing_pull_secrets(deployments, secrets, kube_snapshot.namespace))
