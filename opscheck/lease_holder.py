"""The Lease protocol for one run: read, take, renew and release a coordination.k8s.io/v1 Lease.

Taken as client-go's leader election takes one: create it, or, when its holder's renewTime
+ leaseDurationSeconds has passed (or it was released), update it on the resourceVersion
just read, so that of two runners taking over at once only one wins (409 Conflict for the
other). Renewed by a background thread every third of its duration; released by clearing
its holder. No pytest here: opscheck/sweep_lease.py decides when a run takes it.

Expiry is judged against this machine's clock: runners' clocks are assumed in step (NTP)
to well within the duration.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from opscheck.kube_access import TRANSPORT_ERRORS, unreachable_reason
from opscheck.settings.sweep_lease import SweepLease

PROFILE_ANNOTATION = "opscheck.rolerabbit.io/profile"
MANAGED_BY = {"app.kubernetes.io/managed-by": "rolerabbit-opscheck"}
JSON = "application/json"


class LeaseHeld(Exception):
    """Another runner holds the Lease and its time has not run out."""


class LeaseUnavailable(Exception):
    """The Lease could not be read or written (unreachable, forbidden, no namespace)."""


def micro_time(when: datetime) -> str:
    """A Kubernetes MicroTime (RFC 3339, microseconds, UTC)."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class LeaseRecord:
    """What the Lease says, as read."""

    holder: str | None
    acquired: datetime | None
    renewed: datetime | None
    duration_s: int
    transitions: int
    resource_version: str
    profile: str | None

    @classmethod
    def of(cls, lease: dict[str, Any]) -> LeaseRecord:
        """From the Lease's JSON as the API server answers it."""
        spec = lease.get("spec") or {}
        metadata = lease.get("metadata") or {}
        annotations = metadata.get("annotations") or {}
        return cls(
            holder=spec.get("holderIdentity") or None,
            acquired=_time(spec.get("acquireTime")),
            renewed=_time(spec.get("renewTime")),
            duration_s=int(spec.get("leaseDurationSeconds") or 0),
            transitions=int(spec.get("leaseTransitions") or 0),
            resource_version=str(metadata.get("resourceVersion")),
            profile=annotations.get(PROFILE_ANNOTATION),
        )

    def expires(self) -> datetime | None:
        if self.renewed is None:
            return None
        return self.renewed + timedelta(seconds=self.duration_s)

    def live(self, now: datetime) -> bool:
        """Held by someone whose time has not run out (a Lease without times is not)."""
        expires = self.expires()
        return bool(self.holder) and expires is not None and now < expires

    def describe(self, now: datetime) -> str:
        """ "held by HOST/PID/RUN (profile 'lab') since T, renewed 3s ago, expires in 57s" """
        profile = f" (profile {self.profile!r})" if self.profile else ""
        since = micro_time(self.acquired) if self.acquired else "an unknown time"
        text = f"held by {self.holder}{profile} since {since}"
        expires = self.expires()
        if self.renewed is not None and expires is not None:
            ago = (now - self.renewed).total_seconds()
            left = (expires - now).total_seconds()
            text += f", renewed {ago:.0f}s ago, expires in {left:.0f}s unless renewed"
        return text


def _time(text: object) -> datetime | None:
    """A MicroTime (or Time) as written by the API server; None when absent or unreadable."""
    if not isinstance(text, str):
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


class SweepLeaseHolder:
    """Takes, renews and releases one Lease for this run (one object per run)."""

    def __init__(
        self,
        api: k8s.ApiClient,
        where: str,
        namespace: str,
        settings: SweepLease,
        identity: str,
        profile: str,
        timeouts: tuple[float, float],
    ) -> None:
        self.api = api
        self.where, self.namespace, self.name = where, namespace, settings.name
        self.duration_s = settings.duration_s
        self.identity, self.profile, self.timeouts = identity, profile, timeouts
        self.record: LeaseRecord | None = None  # ours, as last written
        self.renewals = 0
        self.lost: str | None = None
        self.renew_problem: str | None = None
        self._stop = threading.Event()
        self._write = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"

    def _path(self, name: str | None = None) -> str:
        leases = f"/apis/coordination.k8s.io/v1/namespaces/{self.namespace}/leases"
        return f"{leases}/{name}" if name else leases

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One bounded API call, as raw JSON (no client models to build or import); the
        Lease as answered. LeaseUnavailable when it cannot be made or is refused; an
        ApiException for 404 and 409, the callers' answers (no Lease yet, someone else
        wrote first)."""
        headers = {"Accept": JSON, **({"Content-Type": JSON} if body is not None else {})}
        verb, url, headers, payload, _ = self.api.param_serialize(
            method, path, header_params=headers, body=body, auth_settings=["BearerToken"]
        )
        try:
            response = self.api.call_api(
                verb, url, header_params=headers, body=payload, _request_timeout=self.timeouts
            )
            raw = response.read()
        except TRANSPORT_ERRORS as exc:
            reason = unreachable_reason(exc, self.timeouts)
            raise LeaseUnavailable(f"the Kubernetes API at {self.where}: {reason}") from None
        if response.status >= 400:
            refused = ApiException(status=response.status, reason=response.reason)
            if refused.status in (404, 409):
                raise refused
            raise LeaseUnavailable(self._refusal(refused))
        try:
            answer: dict[str, Any] = json.loads(raw)
        except ValueError:
            raise LeaseUnavailable(
                f"the Kubernetes API at {self.where} answered {method} {path} with no JSON"
            ) from None
        return answer

    def _refusal(self, exc: ApiException) -> str:
        status = f"HTTP {exc.status} {exc.reason or ''}".rstrip()
        if exc.status == 403:
            return (
                f"{status}: grant get, create and update on leases.coordination.k8s.io in "
                f"namespace {self.namespace} (kubectl auth can-i update leases -n "
                f"{self.namespace})"
            )
        if exc.status == 401:
            return f"authentication failed ({status}) at {self.where}"
        return f"{status} from the Kubernetes API at {self.where}"

    def read(self) -> LeaseRecord | None:
        try:
            return LeaseRecord.of(self._call("GET", self._path(self.name)))
        except ApiException:  # 404 (409 is not an answer to a read)
            return None

    def _body(
        self, acquired: datetime, renewed: datetime, transitions: int, rv: str | None
    ) -> dict[str, Any]:
        metadata: dict[str, Any] = {
            "name": self.name,
            "namespace": self.namespace,
            "labels": MANAGED_BY,
            "annotations": {PROFILE_ANNOTATION: self.profile},
        }
        if rv is not None:
            metadata["resourceVersion"] = rv
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": metadata,
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": self.duration_s,
                "acquireTime": micro_time(acquired),
                "renewTime": micro_time(renewed),
                "leaseTransitions": transitions,
            },
        }

    def _refuse(self, current: LeaseRecord | None) -> LeaseHeld:
        now = datetime.now(UTC)
        held = current.describe(now) if current else "taken by another runner just now"
        return LeaseHeld(
            f"another sweep of namespace {self.namespace} is in progress: Lease {self.name} "
            f"{held}; wait for it to finish (kubectl -n {self.namespace} get lease {self.name})"
        )

    def ensure_free(self) -> None:
        """For a dry run: refuse while another runner holds the Lease; write nothing."""
        current = self.read()
        if current is not None and current.live(datetime.now(UTC)):
            raise self._refuse(current)

    def acquire(self) -> None:
        """Take the Lease, or raise LeaseHeld naming its live holder."""
        current = self.read()
        now = datetime.now(UTC)
        try:
            if current is None:
                written = self._call("POST", self._path(), self._body(now, now, 0, None))
            elif current.live(now):
                raise self._refuse(current)
            else:
                # Taking over from an expired or released holder: optimistic, on the version
                # read, so two runners taking over at once cannot both win. Every change of
                # holder counts, as client-go counts leader transitions.
                body = self._body(now, now, current.transitions + 1, current.resource_version)
                written = self._call("PUT", self._path(self.name), body)
        except ApiException as exc:
            if exc.status == 404:  # no such namespace (the Lease itself was just read)
                raise LeaseUnavailable(f"namespace {self.namespace} not found (HTTP 404)") from None
            raise self._refuse(self.read()) from None  # 409: another runner won the race
        self.record = LeaseRecord.of(written)

    def start_renewing(self) -> None:
        self._thread = threading.Thread(
            target=self._renew_loop, name=f"opscheck-lease-{self.name}", daemon=True
        )
        self._thread.start()

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.duration_s / 3):
            problem = self._write_ours(release=False)
            if self.record is None:
                return  # lost: another runner holds it now
            if problem:
                # Keep trying until it would have expired: the API may come back.
                self.renew_problem = f"{problem} at {micro_time(datetime.now(UTC))}"

    def _write_ours(self, *, release: bool) -> str | None:
        """Renew (or release) the Lease we hold; None when written, else why not."""
        with self._write:
            ours = self.record
            if ours is None or ours.acquired is None:
                return "not held"
            now = datetime.now(UTC)
            body = self._body(ours.acquired, now, ours.transitions, ours.resource_version)
            if release:
                del body["spec"]["holderIdentity"]  # released: the next sweep need not wait
            try:
                written = self._call("PUT", self._path(self.name), body)
            except LeaseUnavailable as exc:
                return str(exc)
            except ApiException as exc:
                other = self.read() if exc.status == 409 else None
                taken = f"; now {other.describe(now)}" if other else ""
                self.lost = f"lost at {micro_time(now)} (HTTP {exc.status}{taken})"
                self.record = None
                return self.lost
            self.record = LeaseRecord.of(written)
            if not release:
                self.renewals += 1
            return None

    def release(self) -> str | None:
        """Stop renewing and clear the holder; a line saying why it could not, or None."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=sum(self.timeouts) + 1)
        ours = self.record
        problem = self._write_ours(release=True) if ours is not None else None
        self.api.close()
        if problem is None or self.lost or ours is None:
            return None
        expires = ours.expires()
        return (
            f"could not release sweep Lease {self.ref} ({problem}); it expires by itself "
            f"at {micro_time(expires) if expires else 'its renewTime + duration'}"
        )
