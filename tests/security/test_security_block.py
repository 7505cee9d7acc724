"""Containment against the lab: SEC-R01 blocks the scanner's address with a NetworkPolicy
the API balancer enforces, SEC-151 finds the suite's expired blocks and SEC-R02 lifts them.

The scanner fault sends its GETs through the API's Service as 203.0.113.77 (the address
the lab's edge preserves, X-Forwarded-For from loopback). After `--fix` that address gets
no answer at all through the balancer while another one still does, and the request checks
pass: the address's requests from before its block are no longer judged, and they say so.
Refusals (allow-listed, the suite's own, a protected range) change nothing. Every test
starts and ends with no block of the suite's in the namespace.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from checks.security.blocks import CAUSE, EXPIRES, block_policy
from checks.security.containment_settings import ContainmentSettings
from lab.testing import LabHandle
from tests.database.database_support import KUBECTL, Inject, Run, line
from tests.deployment.deployment_support import Emulator
from tests.queue.queue_support import applied, assert_status
from tests.security.block_support import NAMESPACE, POLICIES, answered, blocks, enforced
from tests.security.block_support import no_blocks as no_blocks

SCANNER = "203.0.113.77"
POLICY = "opscheck-block-203-0-113-77"
FAST = "fix: {verify_timeout_s: 45, verify_interval_s: 0.5}\n"
# A window that keeps the scanner's requests from before the block: the checks pass only
# because those are contained, not because they aged out.
WIDE = FAST + "errors: {log_window_s: 120}\nsecurity_requests: {window_s: 120}\n"
TESTED = ["203.0.113.10", "203.0.113.11"]


@pytest.fixture(scope="class")
def scanning(lab: LabHandle) -> Iterator[None]:
    """The scanner fault for a class's tests; cleared after the last of them."""
    lab.inject("security-scanner")
    try:
        yield
    finally:
        lab.clear("security-scanner")


def test_the_fix_blocks_the_address_for_real_and_again_changes_nothing(
    run_checks: Run, fault: Inject, lab: LabHandle, no_blocks: Emulator
) -> None:
    fault("security-scanner")
    assert answered(lab, SCANNER) is not None
    before = datetime.now(UTC)
    fixed = run_checks(
        "-k",
        "SEC-122",
        "--fix",
        "-rA",
        profile=WIDE + "security_containment: {block_duration_s: 3600}",
    )
    assert_status(fixed, {"SEC-122": "fixed"})
    assert [a["remediation_id"] for a in applied(fixed)] == ["SEC-R01"]
    [action] = [a["action"] for a in applied(fixed)]
    assert re.fullmatch(
        rf"POST {POLICIES} networkpolicy/{POLICY}   # blocks {re.escape(SCANNER)} only: selects "
        r"pods app=rolerabbit-api \(\d+ now\), every other source and in-cluster pod still "
        r"admitted; expires in 3600s",
        action,
    ), action
    [policy] = blocks(no_blocks)
    notes = policy["metadata"]["annotations"]
    assert policy["metadata"]["name"] == POLICY
    assert notes["opscheck.rolerabbit.io/blocked-address"] == SCANNER
    assert notes["opscheck.rolerabbit.io/cause"] == "SEC-122"
    expires = datetime.fromisoformat(notes["opscheck.rolerabbit.io/expires"])
    assert before + timedelta(seconds=3590) < expires < datetime.now(UTC) + timedelta(hours=1)
    assert policy["spec"]["podSelector"] == {"matchLabels": {"app": "rolerabbit-api"}}
    assert policy["spec"]["ingress"][0]["from"][0]["ipBlock"] == {
        "cidr": "0.0.0.0/0",
        "except": [f"{SCANNER}/32"],
    }
    # The real effect: the blocked address gets no answer, another one still does.
    assert answered(lab, SCANNER) is None
    assert answered(lab, "203.0.113.78") == 200
    assert answered(lab, "198.51.100.20") == 200

    again = run_checks("-k", "SEC-121 or SEC-122", "--fix", "-rA", profile=WIDE)
    assert_status(again, {"SEC-121": "passed", "SEC-122": "passed"})
    contained = line(
        again,
        rf"^{re.escape(SCANNER)} blocked since .*Z: its \d+ requests from before the block "
        "not judged$",
    )
    assert int(contained.split("its ")[1].split()[0]) >= 10, contained  # SEC-121's floor
    assert applied(again) == []
    assert [p["metadata"]["resourceVersion"] for p in blocks(no_blocks)] == [
        policy["metadata"]["resourceVersion"]
    ]
    assert answered(lab, SCANNER) is None


@pytest.mark.usefixtures("scanning")
class TestNothingIsBlockedWhenItMustNotBe:
    """A dry run, and each refusal, while the scanner runs: one scan serves them all (its
    traffic outlasts each run's window), so its clear waits out the window once."""

    def test_the_dry_run_changes_nothing(
        self, run_checks: Run, lab: LabHandle, no_blocks: Emulator
    ) -> None:
        dry = run_checks("-k", "SEC-122", "--fix", "--dry-run", profile=FAST)
        assert_status(dry, {"SEC-122": "failed"})
        line(dry, rf"would run: \[kubernetes\] POST {POLICIES} networkpolicy/{POLICY}   # blocks")
        assert applied(dry) == []
        assert blocks(no_blocks) == []
        assert answered(lab, SCANNER) is not None

    @pytest.mark.parametrize(
        ("setting", "reason"),
        [
            (
                "allowed_cidrs: [203.0.113.0/24]",
                f"{SCANNER} is allow-listed (security_containment.allowed_cidrs 203.0.113.0/24)",
            ),
            (
                f"own_addresses: [{SCANNER}]",
                f"{SCANNER} is the suite's own address: blocking it would cut the suite off",
            ),
            (
                "protected_cidrs: [203.0.113.64/26]",
                f"{SCANNER} is in a protected range (security_containment.protected_cidrs "
                "203.0.113.64/26: the cluster's and private ranges)",
            ),
        ],
        ids=["allow-listed", "own-address", "protected-range"],
    )
    def test_refusals_change_nothing(
        self,
        run_checks: Run,
        lab: LabHandle,
        no_blocks: Emulator,
        setting: str,
        reason: str,
    ) -> None:
        refused = run_checks(
            "-k", "SEC-122", "--fix", profile=FAST + f"security_containment: {{{setting}}}"
        )
        assert refused.statuses()["SEC-122"] != "fixed", refused.stdout
        assert reason + "; nothing blocked" in refused.stdout
        assert applied(refused) == []
        assert blocks(no_blocks) == []
        assert answered(lab, SCANNER) is not None

    def test_another_policy_on_the_api_pods_is_refused(
        self, run_checks: Run, lab: LabHandle, no_blocks: Emulator
    ) -> None:
        """Someone else's policy selecting the API's pods for ingress: a block beside it would
        admit what it keeps out, so nothing is blocked."""
        theirs = {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "platform-api-ingress"},
            "spec": {
                "podSelector": {"matchLabels": {"app": "rolerabbit-api"}},
                "policyTypes": ["Ingress"],
                "ingress": [{}],
            },
        }
        kubectl_apply(lab, [theirs])
        try:
            refused = run_checks("-k", "SEC-122", "--fix", profile=FAST)
            assert refused.statuses()["SEC-122"] != "fixed", refused.stdout
            assert (
                "networkpolicy platform-api-ingress already select the API's pods for ingress: "
                "policies add up, so a block would admit what they keep out"
            ) in refused.stdout
            assert applied(refused) == [] and blocks(no_blocks) == []
        finally:
            no_blocks.call("DELETE", f"{POLICIES}/platform-api-ingress")


def block(address: str, expires: str) -> dict[str, Any]:
    """A block as SEC-R01 makes it (both test addresses excepted), with this expiry text."""
    policy = block_policy(
        address, NAMESPACE, {"app": "rolerabbit-api"}, TESTED, datetime.now(UTC), "SEC-121",
        ContainmentSettings(),
    )  # fmt: skip
    policy["metadata"]["annotations"][EXPIRES] = expires
    return policy


def kubectl_apply(lab: LabHandle, policies: list[dict[str, Any]]) -> None:
    for policy in policies:
        subprocess.run(
            [KUBECTL, "--kubeconfig", lab.env["KUBECONFIG"], "apply", "-n", NAMESPACE, "-f", "-"],
            input=json.dumps(policy),
            text=True,
            check=True,
            capture_output=True,
            timeout=60,
        )


def test_expired_blocks_are_lifted_and_the_others_stay(
    run_checks: Run, lab: LabHandle, no_blocks: Emulator
) -> None:
    healthy = run_checks("-k", "SEC-151", "-rA", profile=FAST)
    assert_status(healthy, {"SEC-151": "passed"})
    line(healthy, r"^0 blocks made by the suite, 0 in force$")

    past = (datetime.now(UTC) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    later = (datetime.now(UTC) + timedelta(hours=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
    kubectl_apply(
        lab,
        [
            block("203.0.113.10", past),
            block("203.0.113.11", later),
        ],
    )
    enforced(lab, "203.0.113.10", blocked=True)  # an expired block still blocks
    failed = run_checks("-k", "SEC-151", profile=FAST)
    assert_status(failed, {"SEC-151": "failed"})
    line(failed, r"^\[SEC-151\] 1 block past its expiry of 2 blocks the suite made$")
    line(
        failed,
        r"evidence: networkpolicy/opscheck-block-203-0-113-10: blocks 203\.0\.113\.10 "
        rf"\(cause SEC-121\), expired {past}, 2\.0h ago$",
    )

    dry = run_checks("-k", "SEC-151", "--fix", "--dry-run", profile=FAST)
    assert_status(dry, {"SEC-151": "failed"})
    line(dry, rf"would run: \[kubernetes\] DELETE {POLICIES}/opscheck-block-203-0-113-10 ")
    assert len(blocks(no_blocks)) == 2

    fixed = run_checks("-k", "SEC-151", "--fix", profile=FAST)
    assert_status(fixed, {"SEC-151": "fixed"})
    [left] = blocks(no_blocks)
    assert left["metadata"]["name"] == "opscheck-block-203-0-113-11"
    assert left["spec"]["ingress"][0]["from"][0]["ipBlock"]["except"] == ["203.0.113.11/32"]
    enforced(lab, "203.0.113.10", blocked=False)  # lifted: answered again
    assert answered(lab, "203.0.113.10") == 200
    assert answered(lab, "203.0.113.11") is None  # still blocked

    again = run_checks("-k", "SEC-151", "--fix", profile=FAST)
    assert_status(again, {"SEC-151": "passed"})
    assert applied(again) == []


def test_a_block_without_a_readable_expiry_is_left_to_a_person(
    run_checks: Run, lab: LabHandle, no_blocks: Emulator
) -> None:
    kubectl_apply(lab, [block("203.0.113.12", "next week")])
    result = run_checks("-k", "SEC-151", "--fix", profile=FAST)
    assert_status(result, {"SEC-151": "failed"})
    line(
        result,
        r"^\[SEC-151\] 1 block without a readable expiry \(opscheck\.rolerabbit\.io/expires\) "
        r"of 1 block the suite made$",
    )
    assert "expiry next week is not RFC 3339: a person decides" in result.stdout
    assert (
        f"kubectl annotate networkpolicy <name> -n {NAMESPACE} --overwrite "
        "opscheck.rolerabbit.io/expires=<RFC 3339 time>, or kubectl delete it"
    ) in result.stdout
    assert applied(result) == []
    assert [p["metadata"]["name"] for p in blocks(no_blocks)] == ["opscheck-block-203-0-113-12"]


def test_a_second_block_brings_the_first_up_to_date_so_both_hold(
    run_checks: Run, fault: Inject, lab: LabHandle, no_blocks: Emulator
) -> None:
    """Policies add up: the scanner's block must not let 203.0.113.10 back in, so SEC-R01
    adds the scanner to the earlier block's except list as it creates its own."""
    later = (datetime.now(UTC) + timedelta(hours=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
    earlier = block_policy(
        "203.0.113.10", NAMESPACE, {"app": "rolerabbit-api"}, [], datetime.now(UTC), "SEC-121",
        ContainmentSettings(),
    )  # fmt: skip
    earlier["metadata"]["annotations"][EXPIRES] = later
    kubectl_apply(lab, [earlier])
    fault("security-scanner")
    fixed = run_checks("-k", "SEC-122", "--fix", profile=FAST)
    assert_status(fixed, {"SEC-122": "fixed"})
    actions = [a["action"] for a in applied(fixed)]
    assert actions[0].startswith(f"POST {POLICIES} networkpolicy/{POLICY}   # blocks"), actions
    assert actions[1].startswith(
        f"PATCH {POLICIES}/opscheck-block-203-0-113-10 (merge-patch+json) "
    ), actions
    assert actions[1].endswith(
        "# except 203.0.113.10, 203.0.113.77 in networkpolicy/opscheck-block-203-0-113-10"
    ), actions
    excepts = {
        p["metadata"]["name"]: p["spec"]["ingress"][0]["from"][0]["ipBlock"]["except"]
        for p in blocks(no_blocks)
    }
    both = ["203.0.113.10/32", f"{SCANNER}/32"]
    assert excepts == {"opscheck-block-203-0-113-10": both, POLICY: both}
    assert answered(lab, SCANNER) is None
    assert answered(lab, "203.0.113.10") is None
    assert answered(lab, "203.0.113.78") == 200


def test_credential_stuffing_is_blocked_and_its_logins_no_longer_judged(
    run_checks: Run, fault: Inject, lab: LabHandle, no_blocks: Emulator
) -> None:
    fault("security-credential-stuffing")
    fixed = run_checks("-k", "SEC-113", "--fix", profile=FAST)
    assert_status(fixed, {"SEC-113": "fixed"})
    [policy] = blocks(no_blocks)
    notes = policy["metadata"]["annotations"]
    assert (notes["opscheck.rolerabbit.io/blocked-address"], notes[CAUSE]) == (
        "203.0.113.50",
        "SEC-113",
    )
    assert answered(lab, "203.0.113.50") is None
    assert answered(lab, "203.0.113.51") == 200


def test_an_expired_block_of_a_flagged_address_is_renewed_in_place(
    run_checks: Run, fault: Inject, lab: LabHandle, no_blocks: Emulator
) -> None:
    """The scanner's block expired but was not lifted (it still blocks, yet contains
    nothing new): blocking it again renews that policy, no second one."""
    past = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    fault("security-scanner")
    stale = block_policy(
        SCANNER, NAMESPACE, {"app": "rolerabbit-api"}, [], datetime.now(UTC), "SEC-121",
        ContainmentSettings(),
    )  # fmt: skip
    stale["metadata"]["annotations"][EXPIRES] = past
    kubectl_apply(lab, [stale])
    enforced(lab, SCANNER, blocked=True)
    # Its earlier requests no longer count as contained once the block expired.
    fixed = run_checks("-k", "SEC-122", "--fix", profile=WIDE)
    assert_status(fixed, {"SEC-122": "fixed"})
    assert [a["action"].split("   #")[0] for a in applied(fixed)] == [
        f"PUT {POLICIES}/{POLICY} networkpolicy/{POLICY}"
    ]
    [policy] = blocks(no_blocks)
    expires = datetime.fromisoformat(policy["metadata"]["annotations"][EXPIRES])
    assert expires > datetime.now(UTC) + timedelta(hours=23)
    assert policy["metadata"]["annotations"][CAUSE] == "SEC-122"
    assert answered(lab, SCANNER) is None
