"""Credentials a pod is given (SEC-103, SEC-104): service-account tokens mounted only where
the pods call the Kubernetes API, and image pull secrets that exist.

A pod mounts its service account's token unless its spec, or else its ServiceAccount,
says `automountServiceAccountToken: false` (the pod's setting wins). A token in a pod that
never calls the API is a credential an intruder in that pod gets for free. Secrets are
read as metadata only (their names are all SEC-104 needs).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from checks.security.settings import SecuritySettings
from opscheck import Finding, NoData

Obj = dict[str, Any]


def _name(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def _pod_spec(deployment: Obj) -> Obj:
    template = (deployment.get("spec") or {}).get("template") or {}
    spec: Obj = template.get("spec") or {}
    return spec


def account_of(deployment: Obj) -> str:
    spec = _pod_spec(deployment)
    return str(spec.get("serviceAccountName") or spec.get("serviceAccount") or "default")


def mounts_token(deployment: Obj, accounts: dict[str, Obj] | None) -> tuple[bool | None, str]:
    """Whether the pods mount a token (None: cannot tell without the ServiceAccounts), and why."""
    pod = _pod_spec(deployment).get("automountServiceAccountToken")
    if pod is False:
        return False, "the pod template sets automountServiceAccountToken: false"
    if pod is True:
        return True, "the pod template sets automountServiceAccountToken: true"
    name = account_of(deployment)
    if accounts is None:
        return None, f"serviceaccount {name}'s setting unknown"
    account = accounts.get(name)
    if account is None:
        return True, f"serviceaccount {name} not found, so nothing turns the mount off"
    if account.get("automountServiceAccountToken") is False:
        return False, f"serviceaccount {name} sets automountServiceAccountToken: false"
    return True, f"neither the pod template nor serviceaccount {name} sets it false"


def unneeded_tokens(
    deployments: Sequence[Obj] | NoData,
    accounts: Sequence[Obj] | NoData,
    settings: SecuritySettings,
    namespace: str,
) -> Finding | NoData | None:
    """SEC-103: only the Deployments the profile says call the Kubernetes API
    (security.secret_api_access_deployments) mount a service-account token.

    Without the ServiceAccounts (403), a template that turns the mount off is still
    judged; the others are unresolved, and if nothing else fails the verdict is NoData."""
    if isinstance(deployments, NoData):
        return NoData(f"cannot judge token mounts: {deployments.missing}", deployments.evidence)
    by_name = None if isinstance(accounts, NoData) else {_name(a): a for a in accounts}
    needed = set(settings.secret_api_access_deployments)
    mounted, unknown = [], []
    for deployment in deployments:
        name = _name(deployment)
        if name in needed:
            continue
        mounts, why = mounts_token(deployment, by_name)
        if mounts is None:
            unknown.append(name)
        elif mounts:
            mounted.append((name, account_of(deployment), why))
    if mounted:
        evidence = [f"deployment/{d}: token mounted ({why})" for d, _, why in mounted]
        for d, account, _ in mounted:
            evidence.append(
                f"turn it off: kubectl patch deployment {d} -n {namespace} -p "
                '\'{"spec":{"template":{"spec":{"automountServiceAccountToken":false}}}}\' '
                f"(or for every pod of the account: kubectl patch serviceaccount {account} -n "
                f"{namespace} -p '{{\"automountServiceAccountToken\":false}}')"
            )
        evidence.append(
            "a Deployment whose pods call the Kubernetes API needs its token: list it in "
            "security.secret_api_access_deployments"
        )
        if isinstance(accounts, NoData):
            evidence.append(f"not judged: {', '.join(unknown)} ({accounts.missing})")
        return Finding(
            f"{len(mounted)} Deployments mount a service-account token they do not need "
            f"({', '.join(d for d, _, _ in mounted)}; API access: "
            f"{', '.join(sorted(needed)) or 'none'})",
            evidence,
        )
    if unknown and isinstance(accounts, NoData):
        return NoData(
            f"cannot tell whether {', '.join(unknown)} mount a service-account token: "
            f"{accounts.missing}",
            accounts.evidence,
        )
    return None


def missing_pull_secrets(
    deployments: Sequence[Obj] | NoData, secrets: Sequence[Obj] | NoData, namespace: str
) -> Finding | NoData | None:
    """SEC-104: every image pull secret a Deployment's pod template names exists."""
    for read in (deployments, secrets):
        if isinstance(read, NoData):
            return NoData(f"cannot resolve image pull secrets: {read.missing}", read.evidence)
    assert not isinstance(deployments, NoData) and not isinstance(secrets, NoData)
    existing = {_name(s) for s in secrets}
    dangling = [
        (_name(d), str(ref.get("name", "")))
        for d in deployments
        for ref in _pod_spec(d).get("imagePullSecrets") or []
        if str(ref.get("name", "")) not in existing
    ]
    if not dangling:
        return None
    evidence = [
        f"deployment/{d}: imagePullSecrets names secret/{s}, not found in namespace {namespace}"
        for d, s in dangling
    ]
    evidence += [
        f"create it: kubectl create secret docker-registry {s} -n {namespace} "
        "--docker-server=<registry> --docker-username=<user> --docker-password=<token>, or "
        f"drop the reference: kubectl edit deployment {d} -n {namespace} "
        "(spec.template.spec.imagePullSecrets)"
        for d, s in dangling
    ]
    names = sorted({s for _, s in dangling})
    return Finding(
        f"{len(dangling)} image pull secret references of Deployments name no Secret "
        f"({', '.join(names)}; threshold 0)",
        evidence,
    )
