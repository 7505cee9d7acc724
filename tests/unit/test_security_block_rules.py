"""Containment's pure rules (SEC-R01's refusals and policy, SEC-151's expiry, what a block
in force contains) on a small data file (tests/data/security/blocks.yaml), its settings,
and the lab balancer's NetworkPolicy enforcement (lab/services/network_policy.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

import checks
from checks.security import blocks as rules
from checks.security.containment_settings import ContainmentSettings
from checks.security.finding_data import ExpiredBlocks, Offenders
from checks.security.logins import uncontained as logins_uncontained
from checks.security.requests import Request, Requests, uncontained
from lab.services.network_policy import admitted
from opscheck import Finding
from opscheck.settings import profile_model

DATA = Path(__file__).resolve().parents[1] / "data" / "security" / "blocks.yaml"
S = ContainmentSettings(allowed_cidrs=["198.51.100.0/24"], own_addresses=["192.0.2.10"])
API = {"app": "rolerabbit-api"}


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(DATA.read_text())
    return loaded


def now(data: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(data["now"])


def test_only_the_suites_labelled_policies_are_blocks(data: dict[str, Any]) -> None:
    blocks = rules.blocks_in(data["policies"])
    assert [(b.name, b.address, b.cause) for b in blocks] == [
        ("opscheck-block-203-0-113-8", "203.0.113.8", "SEC-113"),
        ("opscheck-block-203-0-113-7", "203.0.113.7", "SEC-122"),
        ("opscheck-block-203-0-113-9", "203.0.113.9", "SEC-121"),
    ]
    assert blocks[0].expires == datetime(2026, 11, 30, 10, tzinfo=UTC)
    assert blocks[2].expires is None and blocks[2].expires_text == "tomorrow"


def test_expired_and_unreadable_blocks_fail_sec_151(data: dict[str, Any]) -> None:
    blocks = rules.blocks_in(data["policies"])
    found = rules.expired_blocks(blocks, now(data))
    assert isinstance(found, Finding)
    assert found.summary == (
        "1 block past its expiry and 1 block without a readable expiry "
        "(opscheck.rolerabbit.io/expires) of 3 blocks the suite made"
    )
    assert found.evidence == [
        "networkpolicy/opscheck-block-203-0-113-8: blocks 203.0.113.8 (cause SEC-113), "
        "expired 2026-11-30T10:00:00Z, 2.0h ago",
        "networkpolicy/opscheck-block-203-0-113-9: blocks 203.0.113.9 (cause SEC-121), "
        "expiry tomorrow is not RFC 3339: a person decides",
    ]
    # Only the expired one is handed to the fix: the unreadable one is a person's call.
    assert found.data == ExpiredBlocks(("opscheck-block-203-0-113-8",))


def test_blocks_within_their_expiry_pass(data: dict[str, Any]) -> None:
    blocks = rules.blocks_in(data["policies"])
    assert rules.expired_blocks(blocks[1:2], now(data)) is None
    assert rules.expired_blocks([], now(data)) is None
    found = rules.expired_blocks(blocks[:1], now(data) - timedelta(hours=3))
    assert found is None  # not yet expired three hours earlier


def test_blocks_in_force_and_what_they_contain(data: dict[str, Any]) -> None:
    blocks = rules.blocks_in(data["policies"])
    held = rules.in_force(blocks, now(data))
    # 203.0.113.8 expired (it still blocks until lifted, but no longer contains anything
    # new); 203.0.113.9's unreadable expiry holds until a person acts.
    assert held == {
        "203.0.113.7": datetime(2026, 11, 30, 10, tzinfo=UTC),
        "203.0.113.9": datetime(2026, 11, 30, 11, tzinfo=UTC),
    }
    made = held["203.0.113.7"]
    assert rules.contained("203.0.113.7", made - timedelta(minutes=5), held, 10)
    assert rules.contained("203.0.113.7", made + timedelta(seconds=5), held, 10)  # settling
    assert not rules.contained("203.0.113.7", made + timedelta(seconds=5), held, 0)
    assert not rules.contained("203.0.113.7", made + timedelta(seconds=30), held, 10)
    assert not rules.contained("198.51.100.1", made - timedelta(minutes=5), held, 10)
    assert rules.contained("203.0.113.7", made.replace(tzinfo=None), held, 10)  # naive: UTC


def test_requests_from_before_a_block_are_no_longer_judged() -> None:
    made = datetime(2026, 11, 30, 10, tzinfo=UTC)
    held = {"203.0.113.7": made}

    def req(address: str, seconds: float) -> Request:
        return Request(made + timedelta(seconds=seconds), address, 404, "GET", "/.env")

    reqs = Requests(
        [req("203.0.113.7", -30), req("203.0.113.7", -1), req("203.0.113.7", 60), req("x", -1)],
        60.0,
        4,
    )
    kept, notes = uncontained(reqs, held, 10)
    assert [(r.address, r.at - made) for r in kept.requests] == [
        ("203.0.113.7", timedelta(seconds=60)),  # after the block: it does not hold
        ("x", timedelta(seconds=-1)),
    ]
    assert notes == [
        "203.0.113.7 blocked since 2026-11-30 10:00:00Z: its 2 requests from before the "
        "block not judged"
    ]
    rows = [
        {"address": "203.0.113.7", "last_seen": made - timedelta(seconds=1)},
        {"address": "203.0.113.8", "last_seen": made},
        {"address": "203.0.113.7", "last_seen": "not a time"},
    ]
    assert logins_uncontained(rows, held, 10) == rows[1:]


@pytest.mark.parametrize(
    ("address", "refusal"),
    [
        ("198.51.100.23", "198.51.100.23 is allow-listed (security_containment.allowed_cidrs "
         "198.51.100.0/24)"),
        ("192.0.2.10", "192.0.2.10 is the suite's own address: blocking it would cut the "
         "suite off"),
        ("10.4.0.7", "10.4.0.7 is in a protected range (security_containment.protected_cidrs "
         "10.0.0.0/8: the cluster's and private ranges)"),
        ("127.0.0.1", "127.0.0.1 is in a protected range (security_containment."
         "protected_cidrs 127.0.0.0/8: the cluster's and private ranges)"),
        ("fe80::1", "fe80::1 is in a protected range (security_containment.protected_cidrs "
         "fe80::/10: the cluster's and private ranges)"),
        ("(no address)", "'(no address)' is not an IP address"),
        ("203.0.113.7", None),
        ("2001:db8::7", None),
    ],
)  # fmt: skip
def test_what_may_not_be_blocked(address: str, refusal: str | None) -> None:
    assert rules.block_refusal(address, S, own=["::1"]) == refusal


def test_an_interface_address_is_the_suites_own() -> None:
    bare = ContainmentSettings(protected_cidrs=[])
    assert rules.block_refusal("203.0.113.5", bare, own=["203.0.113.5"]) == (
        "203.0.113.5 is the suite's own address: blocking it would cut the suite off"
    )
    assert rules.block_refusal("203.0.113.5", bare, own=[]) is None


def test_the_block_policy_selects_the_api_pods_and_excepts_every_blocked_host() -> None:
    expires = datetime(2026, 12, 1, 12, tzinfo=UTC)
    policy = rules.block_policy(
        "203.0.113.7", "prod", API, ["2001:db8::9", "203.0.113.8"], expires, "SEC-122", S
    )
    assert policy == {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": "opscheck-block-203-0-113-7",
            "namespace": "prod",
            "labels": {
                "app.kubernetes.io/managed-by": "rolerabbit-opscheck",
                "opscheck.rolerabbit.io/block": "address",
            },
            "annotations": {
                "opscheck.rolerabbit.io/blocked-address": "203.0.113.7",
                "opscheck.rolerabbit.io/expires": "2026-12-01T12:00:00Z",
                "opscheck.rolerabbit.io/cause": "SEC-122",
            },
        },
        "spec": {
            "podSelector": {"matchLabels": {"app": "rolerabbit-api"}},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [
                        {
                            "ipBlock": {
                                "cidr": "0.0.0.0/0",
                                "except": ["203.0.113.7/32", "203.0.113.8/32"],
                            }
                        },
                        {"ipBlock": {"cidr": "::/0", "except": ["2001:db8::9/128"]}},
                        {"namespaceSelector": {}},
                    ]
                }
            ],
        },
    }
    assert rules.excepted(policy) == {"203.0.113.7", "203.0.113.8", "2001:db8::9"}
    # An address someone edited into a note is skipped, not a crash of the plan.
    assert rules.ip_blocks(["edited", "203.0.113.7"])[0] == {
        "ipBlock": {"cidr": "0.0.0.0/0", "except": ["203.0.113.7/32"]}
    }
    assert rules.policy_name("2001:db8::7", S) == (
        "opscheck-block-2001-0db8-0000-0000-0000-0000-0000-0007"
    )


def test_others_policies_selecting_the_api_pods_for_ingress(data: dict[str, Any]) -> None:
    assert rules.restricting(data["policies"], API) == ["allow-from-ingress"]
    assert rules.restricting(data["policies"], {"app": "rolerabbit-deployment-worker"}) == []


def test_the_lab_enforces_policies_as_a_cni(data: dict[str, Any]) -> None:
    """Policies add up: the block of .7 admits .8 and .8's admits .7 unless each excepts
    both, as the suite's blocks do; pods no policy selects admit everyone."""
    policies = data["policies"][:2]
    assert not admitted(policies, API, "203.0.113.7")
    assert not admitted(policies, API, "203.0.113.8")
    assert admitted(policies, API, "198.51.100.4")
    assert admitted(policies, API, "2001:db8::1")
    assert admitted(policies, {"app": "rolerabbit-deployment-worker"}, "203.0.113.7")
    one_each = [
        rules.block_policy(a, "prod", API, [], datetime.now(UTC), "SEC-121", S)
        for a in ("203.0.113.7", "203.0.113.8")
    ]
    assert admitted(one_each, API, "203.0.113.7")  # the other policy lets it in
    # someone else's policy admitting only in-cluster pods: no outside client gets in
    assert not admitted([data["policies"][3]], API, "198.51.100.4")
    # a policy with no rule admits nothing; one with an empty rule everything
    assert not admitted([data["policies"][2]], API, "198.51.100.4")
    assert admitted([{"spec": {"podSelector": {}, "ingress": [{}]}}], API, "203.0.113.7")


def test_offenders_name_the_check_and_its_addresses() -> None:
    assert Offenders("SEC-121", ("203.0.113.7",)).addresses == ("203.0.113.7",)


def test_containment_settings_validate_ranges_at_load() -> None:
    with pytest.raises(ValidationError, match=r"not a CIDR: '10\.0\.0\.1/8' \(.*host bits"):
        ContainmentSettings(allowed_cidrs=["10.0.0.1/8"])
    with pytest.raises(ValidationError, match=r"not a CIDR: 'office' .*example: 203"):
        ContainmentSettings(protected_cidrs=["office"])
    with pytest.raises(ValidationError, match=r"not an IP address: 'nat-gw'"):
        ContainmentSettings(own_addresses=["nat-gw"])
    with pytest.raises(ValidationError, match="policy_prefix"):
        ContainmentSettings(policy_prefix="Block_")
    with pytest.raises(ValidationError, match="block_duration_s"):
        ContainmentSettings(block_duration_s=0)
    with pytest.raises(ValidationError, match="settle_s"):
        ContainmentSettings(settle_s=-1)
    assert ContainmentSettings().block_duration_s == 86400
    assert "10.0.0.0/8" in ContainmentSettings().protected_cidrs


def test_the_profile_takes_security_containment() -> None:
    model = profile_model(checks.sections())
    profile = model.model_validate(
        {"security_containment": {"block_duration_s": 3600, "allowed_cidrs": ["192.0.2.0/24"]}}
    )
    s = profile.section(ContainmentSettings)
    assert (s.block_duration_s, s.allowed_cidrs) == (3600, ["192.0.2.0/24"])
    assert profile.placeholders()["block_prefix"] == "opscheck-block-"
    with pytest.raises(ValidationError, match="not a CIDR"):
        model.model_validate({"security_containment": {"allowed_cidrs": ["10.0.0.0/33"]}})
