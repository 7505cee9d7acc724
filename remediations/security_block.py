"""SEC-R01: block the client addresses a check flagged; SEC-R02: lift the suite's expired
blocks.

A block is a `networking.k8s.io/v1` NetworkPolicy on the API's pods (checks/security/
blocks.py builds it) admitting every source but the blocked addresses, with an expiry
(`security_containment.block_duration_s`). Policies add up, so each of the suite's blocks
excepts every address the suite blocks: a new block, or a lifted one, brings the others'
lists up to date with a merge patch. Nothing is blocked when any flagged address may not be
(allow-listed, the suite's own, a protected range): the plan is refused, naming it, and
nothing changes. Neither is anything blocked where another NetworkPolicy already selects
the API's pods for ingress: ours would admit what that one keeps out.

The suite's own addresses are its interfaces' (psutil) and `own_addresses`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psutil
import pytest

from checks.security.blocks import (
    Block,
    block_policy,
    block_refusal,
    blocks_in,
    excepted,
    in_force,
    ip_blocks,
    policy_name,
    restricting,
)
from checks.security.containment_settings import ContainmentSettings
from checks.security.finding_data import ExpiredBlocks, Offenders
from fixtures.kubernetes import Listing, readable
from fixtures.kubernetes_target import KubeTarget
from opscheck import Action, Finding, NoData, Plan, Planner, RemediationSpec
from opscheck.environment import Environment
from remediations.rollouts import MERGE, patch_action

BLOCK = RemediationSpec(
    "SEC-R01",
    "security_block_address",
    "Block the flagged addresses",
    "creates one NetworkPolicy per flagged address on the API's pods admitting every other "
    "source, expiring after security_containment.block_duration_s; refused for an "
    "allow-listed address, the suite's own, or one in a protected range",
    reads=Offenders,
)
LIFT = RemediationSpec(
    "SEC-R02",
    "security_lift_expired_blocks",
    "Lift expired blocks",
    "deletes the suite's block NetworkPolicies past their expiry (never one without a "
    "readable expiry, never another's), and drops their addresses from the others",
    reads=ExpiredBlocks,
)
LIST_BLOCKS = (
    "kubectl get networkpolicy -n {namespace} -l app.kubernetes.io/managed-by=rolerabbit-opscheck"
    " -o custom-columns=NAME:.metadata.name,ADDRESS:.metadata.annotations.opscheck\\.rolerabbit"
    "\\.io/blocked-address,EXPIRES:.metadata.annotations.opscheck\\.rolerabbit\\.io/expires"
)


def listing(namespace: str) -> str:
    """LIST_BLOCKS for a plan's manual steps (which are not filled from the profile)."""
    return LIST_BLOCKS.replace("{namespace}", namespace)


def policies_path(namespace: str, name: str = "") -> str:
    base = f"/apis/networking.k8s.io/v1/namespaces/{namespace}/networkpolicies"
    return f"{base}/{name}" if name else base


def own_addresses() -> list[str]:
    """The addresses the suite connects from: its interfaces' (the configured ones are
    added by the rule)."""
    return [
        str(a.address).split("%")[0]
        for addrs in psutil.net_if_addrs().values()
        for a in addrs
        if a.family.name in ("AF_INET", "AF_INET6")
    ]


def _target(namespace: str) -> str:
    return f"{namespace}/networkpolicies"


def _listed(target: KubeTarget) -> Listing | str:
    policies = readable(target.snapshot.networkpolicies)
    if isinstance(policies, NoData):
        return f"the NetworkPolicies of {target.namespace} cannot be read: {policies.missing}"
    return policies


def sync_actions(
    target: KubeTarget, policies: Iterable[Any], blocks: Iterable[Block], addresses: set[str]
) -> list[Action]:
    """Merge patches bringing each remaining block's excepted hosts to `addresses`."""
    remaining = {b.name for b in blocks}
    actions = []
    for p in policies:
        name = p["metadata"]["name"]
        if name not in remaining or excepted(p) == addresses:
            continue
        patch = {"spec": {"ingress": [{"from": ip_blocks(addresses)}]}}
        summary = f"except {', '.join(sorted(addresses)) or 'nothing'} in networkpolicy/{name}"
        actions.append(
            patch_action(
                target, policies_path(target.namespace, name), patch, kind=MERGE, summary=summary
            )
        )
    return actions


def plan_block(
    target: KubeTarget,
    offenders: Offenders,
    s: ContainmentSettings,
    api_deployment: str,
    own: Sequence[str],
) -> Plan:
    ns = target.namespace
    where = _target(ns)
    if not offenders.addresses:
        return Plan(where, refusal="the finding names no client address to block")
    refusals = [r for a in offenders.addresses if (r := block_refusal(a, s, own))]
    if refusals:
        return Plan(where, refusal="; ".join(refusals) + "; nothing blocked")
    labels = dict(s.pod_selector)
    if not labels:
        deployment = target.snapshot.deployment(api_deployment) or {}
        labels = ((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    if not labels:
        return Plan(
            where,
            refusal=f"no pod labels to select: deployment/{api_deployment} has no "
            "spec.selector.matchLabels; set security_containment.pod_selector",
        )
    policies = _listed(target)
    if isinstance(policies, str):
        return Plan(where, refusal=policies)
    if others := restricting(policies, labels):
        return Plan(
            where,
            refusal=f"networkpolicy {', '.join(others)} already select the API's pods for "
            "ingress: policies add up, so a block would admit what they keep out; add the "
            "address to their except lists by hand",
        )
    blocks = blocks_in(policies)
    held = in_force(blocks, datetime.now(UTC))
    addresses = [str(ipaddress.ip_address(a)) for a in offenders.addresses]
    new = sorted({a for a in addresses if a not in held})
    if not new:
        return Plan(
            where,
            manual=[
                f"{', '.join(addresses)} already blocked, and still seen: is the "
                "NetworkPolicy enforced (a CNI that enforces policies)? " + listing(ns)
            ],
        )
    expires = datetime.now(UTC) + timedelta(seconds=s.block_duration_s)
    everyone = {b.address for b in blocks} | set(new)
    selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    pods = [
        p["metadata"]["name"]
        for p in target.snapshot.pods()
        if all((p["metadata"].get("labels") or {}).get(k) == v for k, v in labels.items())
    ]
    actions = []
    for address in new:
        body = block_policy(address, ns, labels, everyone, expires, offenders.check, s)
        name = body["metadata"]["name"]
        path = policies_path(ns, name)
        radius = (
            f"blocks {address} only: selects pods {selector} ({len(pods)} now), every other "
            f"source and in-cluster pod still admitted; expires in {s.block_duration_s:g}s"
        )
        exists = any(b.name == name for b in blocks)

        def run(body: dict[str, Any] = body, path: str = path, exists: bool = exists) -> str:
            if exists:  # expired, not yet lifted: renewed in place
                target.kube.call("PUT", path, body=body)
                return f"renewed networkpolicy/{body['metadata']['name']}"
            target.kube.call("POST", policies_path(ns), body=body)
            return f"created networkpolicy/{body['metadata']['name']}"

        verb = f"PUT {path}" if exists else f"POST {policies_path(ns)}"
        actions.append(
            Action("kubernetes", f"{verb} networkpolicy/{name}   # {radius}", run, {"body": body})
        )
    renewed = {policy_name(a, s) for a in new}  # their bodies already except everyone
    actions += sync_actions(
        target, policies, [b for b in blocks if b.name not in renewed], everyone
    )
    claims = [f"networkpolicy/{ns}/{policy_name(a, s)}:block" for a in new]
    # The check must keep passing past the settling time: a block that does not hold shows.
    return Plan(where, actions, claims=claims, settle_s=s.settle_s + 2)


def plan_lift(target: KubeTarget, expired: ExpiredBlocks) -> Plan:
    ns = target.namespace
    where = _target(ns)
    policies = _listed(target)
    if isinstance(policies, str):
        return Plan(where, refusal=policies)
    now = datetime.now(UTC)
    blocks = blocks_in(policies)
    lift = [b for b in blocks if b.name in expired.policies and b.expires and b.expires <= now]
    if not lift:
        return Plan(
            where,
            manual=[
                listing(ns),
                "a block without a readable expiry is a person's call: kubectl annotate "
                f"networkpolicy <name> -n {ns} --overwrite "
                "opscheck.rolerabbit.io/expires=<RFC 3339 time>, or kubectl delete it",
            ],
        )
    actions = []
    for b in lift:
        path = policies_path(ns, b.name)

        def run(path: str = path, name: str = b.name) -> str:
            target.kube.call("DELETE", path)
            return f"deleted networkpolicy/{name}"

        actions.append(
            Action(
                "kubernetes",
                f"DELETE {path}   # kubectl delete networkpolicy/{b.name} -n {ns}: lifts the "
                f"block of {b.address}, expired {b.expires_text}",
                run,
            )
        )
    lifted = {b.name for b in lift}
    rest = [b for b in blocks if b.name not in lifted]
    actions += sync_actions(target, policies, rest, {b.address for b in rest})
    return Plan(where, actions, claims=[f"networkpolicy/{ns}/{n}:lift" for n in sorted(lifted)])


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture
def security_block_address(kube_target: KubeTarget, environment: Environment) -> Planner:
    profile = environment.profile
    s = profile.section(ContainmentSettings)

    def plan(finding: Finding) -> Plan:
        offenders = finding.data_as(Offenders)
        own = own_addresses()
        return plan_block(kube_target, offenders, s, profile.kubernetes.api_deployment, own)

    return plan


@pytest.fixture
def security_lift_expired_blocks(kube_target: KubeTarget) -> Planner:
    def plan(finding: Finding) -> Plan:
        return plan_lift(kube_target, finding.data_as(ExpiredBlocks))

    return plan
