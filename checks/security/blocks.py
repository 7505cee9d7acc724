"""Pure rules of containment: which addresses may be blocked (SEC-R01), the block's
NetworkPolicy, the blocks in force, and the expired ones (SEC-151, lifted by SEC-R02).

No rule talks to a server. A block is a `networking.k8s.io/v1` NetworkPolicy the suite made
(its `LABELS`), annotated with the address it blocks, its expiry (RFC 3339) and the check
that caused it. NetworkPolicies only ever allow, and they add up: a pod selected by several
admits what any of them admits. So one block admitting "everything but A" next to another
admitting "everything but B" would let A in through the second. Every block of the suite
therefore excepts every address the suite blocks (`ip_blocks`), and a new block or a
lifted one brings the others' lists up to date; a policy of someone else's selecting the
same pods for ingress would admit what ours exclude, so the planner refuses to block there.

A block holds from the moment it is made: requests or logins from a blocked address older
than its block (plus `settle_s`, the time a CNI takes to program it) are contained, and
the request and login checks no longer count them, saying so; any later one still counts,
so a block that does not hold leaves the check failing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from checks.database.wording import duration, plural
from checks.security.containment_settings import ContainmentSettings, Network
from checks.security.finding_data import ExpiredBlocks
from checks.security.secrets import parse_rfc3339
from opscheck import Finding, NoData

Obj = Mapping[str, Any]
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
MANAGED_BY = "app.kubernetes.io/managed-by"
SUITE = "rolerabbit-opscheck"
BLOCK_LABEL = "opscheck.rolerabbit.io/block"
LABELS = {MANAGED_BY: SUITE, BLOCK_LABEL: "address"}
ADDRESS = "opscheck.rolerabbit.io/blocked-address"
EXPIRES = "opscheck.rolerabbit.io/expires"
CAUSE = "opscheck.rolerabbit.io/cause"


@dataclass(frozen=True)
class Block:
    """One of the suite's block policies as listed."""

    name: str
    address: str
    expires: datetime | None  # None: no parseable expiry
    expires_text: str
    cause: str
    created: datetime | None


def rfc3339(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_block(policy: Obj) -> bool:
    labels = (policy.get("metadata") or {}).get("labels") or {}
    return all(labels.get(k) == v for k, v in LABELS.items())


def blocks_in(policies: Iterable[Obj]) -> list[Block]:
    """The suite's block policies (its labels), oldest first; others are not ours."""
    found = []
    for policy in policies:
        if not is_block(policy):
            continue
        meta = policy.get("metadata") or {}
        notes = meta.get("annotations") or {}
        text = str(notes.get(EXPIRES, ""))
        found.append(
            Block(
                str(meta.get("name")),
                str(notes.get(ADDRESS, "")),
                parse_rfc3339(text),
                text,
                str(notes.get(CAUSE, "")),
                parse_rfc3339(meta.get("creationTimestamp")),
            )
        )
    return sorted(found, key=lambda b: (b.created or datetime.max.replace(tzinfo=UTC), b.name))


def in_force(blocks: Iterable[Block], now: datetime) -> dict[str, datetime]:
    """Address -> when its block was made, for the blocks not expired (or not parseable:
    those still block until a person lifts them)."""
    held: dict[str, datetime] = {}
    for b in blocks:
        if b.created is None or (b.expires is not None and b.expires <= now):
            continue
        held[b.address] = min(b.created, held.get(b.address, b.created))
    return held


def contained(
    address: str, last_seen: datetime, held: Mapping[str, datetime], settle_s: float
) -> bool:
    """The address is blocked, and this was seen before its block could hold (its making
    plus `settle_s`, the time a CNI takes to program it)."""
    since = held.get(address)
    if since is None:
        return False
    seen_at = last_seen if last_seen.tzinfo else last_seen.replace(tzinfo=UTC)
    return seen_at < since + timedelta(seconds=settle_s)


# -- what may be blocked --------------------------------------------------------------------


def address_of(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _within(address: Address, ranges: Sequence[Network]) -> Network | None:
    return next((n for n in ranges if n.version == address.version and address in n), None)


def block_refusal(text: str, s: ContainmentSettings, own: Iterable[str]) -> str | None:
    """Why `text` must not be blocked (None: it may): allow-listed, the suite's own (`own`,
    its interfaces', and the configured ones), or in a protected range."""
    address = address_of(text)
    if address is None:
        return f"{text!r} is not an IP address"
    if (net := _within(address, s.allowed())) is not None:
        return f"{address} is allow-listed (security_containment.allowed_cidrs {net})"
    mine = {str(a) for a in map(address_of, [*own, *s.own_addresses]) if a is not None}
    if str(address) in mine:
        return f"{address} is the suite's own address: blocking it would cut the suite off"
    if (net := _within(address, s.protected())) is not None:
        return (
            f"{address} is in a protected range (security_containment.protected_cidrs {net}: "
            "the cluster's and private ranges)"
        )
    return None


def policy_name(text: str, s: ContainmentSettings) -> str:
    """`opscheck-block-203-0-113-7`; IPv6 spelled out in full, so always a valid name."""
    address = address_of(text)
    spelled = address.exploded if isinstance(address, ipaddress.IPv6Address) else str(address)
    return s.policy_prefix + spelled.replace(".", "-").replace(":", "-")


def host_cidr(text: str) -> str:
    address = ipaddress.ip_address(text)
    return f"{address}/{address.max_prefixlen}"


def ip_blocks(blocked: Iterable[str]) -> list[dict[str, Any]]:
    """The `from` peers admitting every source but `blocked`: each family's whole range
    with its blocked hosts excepted, and every pod of the cluster (in-cluster callers such
    as the ingress controller or Prometheus are not what a block is about)."""
    valid = {a for a in map(address_of, blocked) if a is not None}  # an edited note: skipped
    addresses = sorted(valid, key=lambda a: (a.version, a))
    peers: list[dict[str, Any]] = []
    for whole, version in (("0.0.0.0/0", 4), ("::/0", 6)):
        hosts = [host_cidr(str(a)) for a in addresses if a.version == version]
        peers.append({"ipBlock": {"cidr": whole, **({"except": hosts} if hosts else {})}})
    return [*peers, {"namespaceSelector": {}}]


def block_policy(
    address: str,
    namespace: str,
    pod_labels: Mapping[str, str],
    blocked: Iterable[str],
    expires: datetime,
    cause: str,
    s: ContainmentSettings,
) -> dict[str, Any]:
    """The NetworkPolicy blocking `address` (and excepting every other `blocked` one)."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": policy_name(address, s),
            "namespace": namespace,
            "labels": dict(LABELS),
            "annotations": {
                ADDRESS: str(ipaddress.ip_address(address)),
                EXPIRES: rfc3339(expires),
                CAUSE: cause,
            },
        },
        "spec": {
            "podSelector": {"matchLabels": dict(pod_labels)},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": ip_blocks([address, *blocked])}],
        },
    }


def excepted(policy: Obj) -> set[str]:
    """The hosts a policy's ipBlocks except, as addresses."""
    hosts = set()
    for rule in (policy.get("spec") or {}).get("ingress") or []:
        for peer in rule.get("from") or []:
            for cidr in (peer.get("ipBlock") or {}).get("except") or []:
                hosts.add(str(cidr).split("/")[0])
    return hosts


def selects(policy: Obj, labels: Mapping[str, str]) -> bool:
    """The policy's podSelector matches these labels (matchLabels and matchExpressions)."""
    selector = (policy.get("spec") or {}).get("podSelector") or {}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for term in selector.get("matchExpressions") or []:
        key, op, values = term.get("key"), term.get("operator"), term.get("values") or []
        matched = {
            "In": labels.get(key) in values,
            "NotIn": labels.get(key) not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }.get(op, False)
        if not matched:
            return False
    return True


def restricting(policies: Iterable[Obj], labels: Mapping[str, str]) -> list[str]:
    """Others' policies selecting these pods for ingress: a block next to them would
    admit what they keep out (policies add up)."""
    found = []
    for p in policies:
        spec = p.get("spec") or {}
        types = spec.get("policyTypes") or ["Ingress"]
        if not is_block(p) and "Ingress" in types and selects(p, labels):
            found.append(str((p.get("metadata") or {}).get("name")))
    return found


# -- SEC-151 ---------------------------------------------------------------------------------


def expired_blocks(blocks: Sequence[Block], now: datetime) -> Finding | NoData | None:
    """SEC-151: the suite's blocks whose expiry has passed, or that carry none it can read
    (those are a person's to judge: never lifted automatically)."""
    expired = [(b, b.expires) for b in blocks if b.expires is not None and b.expires <= now]
    unreadable = [b for b in blocks if b.expires is None]
    if not expired and not unreadable:
        return None
    parts = []
    if expired:
        its = "its" if len(expired) == 1 else "their"
        parts.append(f"{plural(len(expired), 'block')} past {its} expiry")
    if unreadable:
        parts.append(f"{plural(len(unreadable), 'block')} without a readable expiry ({EXPIRES})")
    evidence = [
        f"{_what(b)}, expired {rfc3339(at)}, {duration((now - at).total_seconds())} ago"
        for b, at in expired
    ] + [
        f"{_what(b)}, expiry {b.expires_text or '(none)'} is not RFC 3339: a person decides"
        for b in unreadable
    ]
    return Finding(
        f"{' and '.join(parts)} of {plural(len(blocks), 'block')} the suite made",
        evidence,
        ExpiredBlocks(tuple(b.name for b, _ in expired)),
    )


def _what(b: Block) -> str:
    return f"networkpolicy/{b.name}: blocks {b.address or '?'} (cause {b.cause or '?'})"


def block_counts(blocks: Sequence[Block], now: datetime) -> str:
    """What SEC-151 measured, for its output."""
    held = in_force(blocks, now)
    return f"{plural(len(blocks), 'block')} made by the suite, {len(held)} in force"
