"""NetworkPolicies enforced on the API's pods, as a CNI enforces them, for the balancer.

A thread lists the emulator's NetworkPolicies and the API pods' labels once a second (a CNI
agent watches them; a second's lag is of the same order as one programming its rules).
`admits(pod, address)` then answers as `networking.k8s.io/v1` says: a pod no policy selects
for ingress admits everyone; a pod some policy selects admits an address only when a rule of
one of those policies does (policies add up): a rule without `from` admits all, an `ipBlock`
admits its CIDR but its `except` hosts; pod and namespace selectors admit only pods of the
cluster, and the balancer's clients are outside it.

The address judged is the client's as the balancer sees it (balancer.py `client_of`): the
lab's edge. Until the first listing, and whenever the emulator cannot be read, the last
listing stands (a CNI keeps its rules when its API server is away); with none yet, all pass.
"""

from __future__ import annotations

import ipaddress
import json
import threading
import urllib.error
import urllib.request
from typing import Any

from lab.k8s_client import BALANCER_USER_AGENT
from lab.settings import NAMESPACE

Obj = dict[str, Any]
POLL_S = 1.0
API_PODS = "app=rolerabbit-api"


def _selects(selector: Obj, labels: dict[str, str]) -> bool:
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for term in selector.get("matchExpressions") or []:
        key, op, values = term.get("key"), term.get("operator"), term.get("values") or []
        ok = (
            (op == "In" and labels.get(key) in values)
            or (op == "NotIn" and labels.get(key) not in values)
            or (op == "Exists" and key in labels)
            or (op == "DoesNotExist" and key not in labels)
        )
        if not ok:
            return False
    return True


def _peer_admits(peer: Obj, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    block = peer.get("ipBlock")
    if not block:
        return False  # a pod or namespace selector: pods of the cluster only
    try:
        cidr = ipaddress.ip_network(block.get("cidr", ""), strict=False)
        if address.version != cidr.version or address not in cidr:
            return False
        for excepted in block.get("except") or []:
            net = ipaddress.ip_network(excepted, strict=False)
            if address.version == net.version and address in net:
                return False
    except ValueError:
        return False
    return True


def admitted(policies: list[Obj], labels: dict[str, str], client: str) -> bool:
    """Whether a pod with `labels` admits `client` under `policies`."""
    selecting = [
        p
        for p in policies
        if "Ingress" in ((p.get("spec") or {}).get("policyTypes") or ["Ingress"])
        and _selects((p.get("spec") or {}).get("podSelector") or {}, labels)
    ]
    if not selecting:
        return True
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return False
    for policy in selecting:
        for rule in (policy.get("spec") or {}).get("ingress") or []:
            peers = rule.get("from")
            if not peers or any(_peer_admits(peer, address) for peer in peers):
                return True
    return False


class Enforcer:
    """The emulator's NetworkPolicies and the API pods' labels, re-listed every POLL_S."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self._policies: list[Obj] = []
        self._labels: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def _get(self, path: str) -> list[Obj]:
        request = urllib.request.Request(f"{self.url}{path}")
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("User-Agent", BALANCER_USER_AGENT)
        with urllib.request.urlopen(request, timeout=2) as response:
            return list(json.load(response).get("items") or [])

    def refresh(self) -> None:
        base = f"/api/v1/namespaces/{NAMESPACE}"
        policies = f"/apis/networking.k8s.io/v1/namespaces/{NAMESPACE}/networkpolicies"
        try:
            found = self._get(policies)
            pods = self._get(f"{base}/pods?labelSelector={API_PODS}")
        except (urllib.error.URLError, OSError, ValueError):
            return  # keep the last rules
        labels = {p["metadata"]["name"]: p["metadata"].get("labels") or {} for p in pods}
        with self._lock:
            self._policies, self._labels = found, labels

    def start(self) -> None:
        def loop() -> None:
            while not self._stop.is_set():
                self.refresh()
                self._stop.wait(POLL_S)

        threading.Thread(target=loop, name="network-policies", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def admits(self, pod: str, client: str) -> bool:
        with self._lock:
            policies, labels = self._policies, self._labels.get(pod)
        if labels is None:  # a pod not listed yet: its Deployment's labels
            labels = {"app": API_PODS.split("=", 1)[1]}
        return admitted(policies, labels, client)
