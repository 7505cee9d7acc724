"""Settings for containment (SEC-R01 block an address, SEC-151 / SEC-R02 lift expired
blocks), under `security_containment:`.

A block is a Kubernetes NetworkPolicy selecting the API's pods (the API Deployment's
`spec.selector.matchLabels`, or `pod_selector` when set) that admits every source but the
blocked address, named `<policy_prefix><address with dashes>`, labelled as the suite's and
annotated with its expiry (`block_duration_s` after it was made) and the check that caused
it. Some addresses are never blocked, whatever a check says: those in `allowed_cidrs` (a
partner, the office's NAT), the suite's own (`own_addresses`, and the local interfaces'
addresses it finds), and the cluster's private ranges (`protected_cidrs`: pod and service
CIDRs, RFC 1918, loopback, link-local). Every range is checked when the profile loads: one
that is not a CIDR stops the run, naming it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Literal

from pydantic import Field, NonNegativeFloat, PositiveFloat, field_validator

from opscheck.settings.base import Settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
LABEL_VALUE = r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$"
PREFIX = r"^[a-z0-9]([-a-z0-9]{0,30}-)?$"
PRIVATE = [
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16",
    "100.64.0.0/10", "::1/128", "fc00::/7", "fe80::/10",
]  # fmt: skip


def networks(cidrs: list[str]) -> list[Network]:
    return [ipaddress.ip_network(c, strict=False) for c in cidrs]


class ContainmentSettings(Settings):
    """How blocks are made, how long they last, and what is never blocked."""

    method: Literal["networkpolicy"] = "networkpolicy"
    """How an address is blocked: a NetworkPolicy on the API's pods (the only one so far)."""
    block_duration_s: PositiveFloat = 86400.0
    """How long a block lasts: its expiry annotation, which SEC-151 / SEC-R02 act on."""
    settle_s: NonNegativeFloat = 10.0
    """How long a new block may take to hold (a CNI programs it within seconds): requests
    and logins from a blocked address until then are the block's, not a sign it fails."""
    policy_prefix: str = Field("opscheck-block-", pattern=PREFIX)
    pod_selector: dict[str, str] = Field(default_factory=dict)
    """The API pods' labels to select; empty: the API Deployment's spec.selector.matchLabels."""
    allowed_cidrs: list[str] = Field(default_factory=list)
    """Addresses never blocked (partners, monitors, the office's NAT)."""
    own_addresses: list[str] = Field(default_factory=list)
    """The suite's own addresses beyond its interfaces' (a NAT gateway it leaves through)."""
    protected_cidrs: list[str] = Field(default_factory=lambda: list(PRIVATE))
    """The cluster's ranges (pod and service CIDRs) and private ones: never blocked."""

    @field_validator("allowed_cidrs", "protected_cidrs")
    @classmethod
    def _cidrs(cls, cidrs: list[str]) -> list[str]:
        wrong = []
        for cidr in cidrs:
            try:
                ipaddress.ip_network(cidr, strict=True)
            except ValueError as exc:
                wrong.append(f"{cidr!r} ({exc})")
        if wrong:
            raise ValueError(f"not a CIDR: {', '.join(wrong)}; example: 203.0.113.0/24")
        return cidrs

    @field_validator("own_addresses")
    @classmethod
    def _addresses(cls, addresses: list[str]) -> list[str]:
        wrong = []
        for address in addresses:
            try:
                ipaddress.ip_address(address)
            except ValueError:
                wrong.append(repr(address))
        if wrong:
            raise ValueError(f"not an IP address: {', '.join(wrong)}; example: 198.51.100.7")
        return addresses

    @field_validator("pod_selector")
    @classmethod
    def _labels(cls, labels: dict[str, str]) -> dict[str, str]:
        wrong = [f"{k}={v}" for k, v in labels.items() if not re.match(LABEL_VALUE, v) or not k]
        if wrong:
            raise ValueError(f"not a label: {', '.join(wrong)}")
        return labels

    def allowed(self) -> list[Network]:
        return networks(self.allowed_cidrs)

    def protected(self) -> list[Network]:
        return networks(self.protected_cidrs)

    def placeholders(self) -> Mapping[str, str]:
        """{block_prefix} for manual steps."""
        return {"block_prefix": self.policy_prefix}
