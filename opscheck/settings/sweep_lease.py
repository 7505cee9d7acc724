"""The `sweep_lease:` settings: the Lease that keeps two runners from sweeping one namespace.

See opscheck/sweep_lease.py for how the Lease is taken, renewed and released.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from opscheck.settings.base import Settings

# A Kubernetes object name (DNS subdomain), as the API server validates it.
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


class SweepLease(Settings):
    """One sweep at a time per namespace, across machines (profiles with Kubernetes)."""

    enabled: bool = True
    """Take the Lease for sweeps of a profile with Kubernetes; the local lock is taken anyway."""
    name: str = "opscheck-sweep"
    """The Lease's name in the profile's namespace. One fixed name, not one derived from the
    target's key: a CronJob in the cluster and a CI runner outside it reach the same
    namespace through different server addresses and DSNs, and must still meet."""
    duration_s: int = Field(default=60, ge=5, le=3600)
    """How long the Lease holds without a renewal (leaseDurationSeconds): a runner that died
    blocks the next sweep at most this long. Renewed every third of it."""
    if_unavailable: Literal["warn", "stop"] = "warn"
    """When the Lease cannot be read or written (API unreachable, forbidden, a bad
    kubeconfig): `warn` sweeps anyway, guarded by this machine's lock only, and says so;
    `stop` refuses the sweep (exit 4)."""

    @field_validator("name")
    @classmethod
    def _object_name(cls, value: str) -> str:
        if len(value) > 253 or not _NAME.match(value):
            raise ValueError(
                "not a Kubernetes object name: lower-case letters, digits, '-' and '.', "
                "starting and ending with a letter or digit"
            )
        return value
