"""The suite's NetworkPolicy blocks in the lab: list them, see whether the API's Service
answers an address, and a lab without any block before and after a test that makes some."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from typing import Any

import pytest

from lab.testing import LabHandle
from tests.deployment.deployment_support import Emulator
from tests.waiting import wait_until

NAMESPACE = "rolerabbit-production"
POLICIES = f"/apis/networking.k8s.io/v1/namespaces/{NAMESPACE}/networkpolicies"
OURS = "labelSelector=app.kubernetes.io%2Fmanaged-by%3Drolerabbit-opscheck"
BLOCKED_ADDRESS = "opscheck.rolerabbit.io/blocked-address"


def blocks(emulator: Emulator) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = emulator.call("GET", f"{POLICIES}?{OURS}")["items"]
    return items


def answered(lab: LabHandle, address: str) -> int | None:
    """The status the API's Service answers a GET from `address` with; None: no answer."""
    port = int(lab.env["ROLERABBIT_API_URL"].rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/api/portfolios", headers={"X-Forwarded-For": address})
        response = conn.getresponse()
        response.read()
        return response.status
    except (http.client.RemoteDisconnected, ConnectionError):
        return None
    finally:
        conn.close()


def enforced(lab: LabHandle, address: str, blocked: bool) -> None:
    """Wait (bounded) until the balancer, re-reading the policies every second, blocks
    `address` (no answer) or answers it again."""
    state = "blocked" if blocked else "answered again"
    wait_until(lambda: (answered(lab, address) is None) == blocked, 10, f"{address} to be {state}")


@pytest.fixture
def no_blocks(lab: LabHandle) -> Iterator[Emulator]:
    """The lab's emulator, with no block of the suite's before and after the test; after
    lifting one, the test waits until its address is answered again, not a fixed time."""
    emulator = Emulator(lab)

    def clear() -> None:
        lifted = []
        for policy in blocks(emulator):
            emulator.call("DELETE", f"{POLICIES}/{policy['metadata']['name']}")
            lifted.append(policy["metadata"]["annotations"][BLOCKED_ADDRESS])
        for address in lifted:
            enforced(lab, address, blocked=False)

    clear()
    yield emulator
    clear()
