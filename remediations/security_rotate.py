"""SEC-R03: rotate a compromised secret, the runbook's `rotate-secrets force-rotate`.

One ordered plan per Secret: (1) new random values for the keys the profile lists for the
check (security_response.rotate), as long as the old ones (at least `value_min_length`),
hex if the old value was hex, else URL-safe; the old values are kept in memory only; (2) a
`kubectl rollout restart` of each Deployment that uses the Secret (env valueFrom, envFrom,
volumes), one at a time, each waited for until its rollout completes and its replicas are
available; if one does not come up, the old values are written back and the Deployments
already restarted are restarted again on them; (3) the rotation annotation SEC-101 reads.

Values never leave this module: they are registered with the redactor, the commands and
the audit show `***`, and the results name keys and Deployments only. The database password
inside DATABASE_URL is not rotated here (its role's password must change in PostgreSQL in
the same step): the profile's `rotate` must not list it, and the plan says so.
"""

from __future__ import annotations

import base64
import functools
import json
import secrets
import string
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from checks.security.finding_data import Exposure
from checks.security.response_settings import ResponseSettings
from checks.security.settings import SecuritySettings
from fixtures.kubernetes import readable
from fixtures.kubernetes_target import KubeTarget
from opscheck import Action, ActionResult, Finding, NoData, Plan, Planner
from opscheck.environment import Environment
from opscheck.redaction import MASK, Redactor
from remediations import rollouts

Obj = Mapping[str, Any]
DATABASE_KEYS = ("DATABASE_URL", "DATABASE_PASSWORD", "PGPASSWORD")


def new_value(old: str, min_length: int) -> str:
    """A random value of the old one's length (at least `min_length`) and alphabet class."""
    length = max(len(old), min_length)
    if old and all(c in string.hexdigits for c in old):
        return secrets.token_hex(length)[:length]
    return secrets.token_urlsafe(length)[:length]


def secret_users(deployments: Sequence[Obj], secret: str, keys: Sequence[str]) -> list[str]:
    """Deployments whose pods read `secret` (all of it, or one of `keys`), by name."""
    users = []
    for d in deployments:
        spec = ((d.get("spec") or {}).get("template") or {}).get("spec") or {}
        containers = [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]
        uses = any(
            (v.get("secret") or {}).get("secretName") == secret for v in spec.get("volumes") or []
        )
        for c in containers:
            uses |= any(
                (f.get("secretRef") or {}).get("name") == secret for f in c.get("envFrom") or []
            )
            for e in c.get("env") or []:
                ref = (e.get("valueFrom") or {}).get("secretKeyRef") or {}
                uses |= ref.get("name") == secret and ref.get("key") in keys
        if uses:
            users.append(str((d.get("metadata") or {}).get("name", "")))
    return sorted(users)


def decoded(secret: Obj) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}


class Rotation:
    """One Secret's rotation, its old values kept for a rollback until it is verified."""

    def __init__(
        self, target: KubeTarget, name: str, keys: Sequence[str], s: ResponseSettings,
        redactor: Redactor,
    ) -> None:  # fmt: skip
        self.target, self.name, self.keys, self.s = target, name, list(keys), s
        self.redactor = redactor
        self.path = f"/api/v1/namespaces/{target.namespace}/secrets/{name}"
        self.old: dict[str, str] = {}
        self.restarted: list[str] = []

    def _write(self, values: Mapping[str, str]) -> None:
        data = {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}
        self.target.kube.call("PATCH", self.path, body={"data": data}, content_type=rollouts.MERGE)

    def rotate(self) -> ActionResult:
        current = decoded(self.target.kube.call("GET", self.path))
        self.old = {k: current[k] for k in self.keys}
        fresh = {k: new_value(v, self.s.value_min_length) for k, v in self.old.items()}
        for value in (*self.old.values(), *fresh.values()):
            self.redactor.add(value)
        self._write(fresh)
        items = [{"secret": self.name, "key": k, "length": len(v)} for k, v in fresh.items()]
        return ActionResult(f"secret/{self.name}: new values for {', '.join(self.keys)}", items)

    def restart(self, deployment: str) -> ActionResult:
        self.restarted.append(deployment)
        rollouts.rollout_restart(self.target, deployment).run()
        try:
            rollouts.wait_for_rollout(self.target, deployment)
            wanted = self._replicas(deployment)
            rollouts.wait_for_available(self.target, deployment, wanted)
        except Exception as exc:
            raise RuntimeError(f"{exc}; {self.roll_back()}") from None
        return ActionResult(
            f"deployment/{deployment} restarted on the new values and available",
            [{"deployment": deployment, "secret": self.name}],
        )

    def _replicas(self, deployment: str) -> int:
        path = rollouts.deployment_path(self.target.namespace, deployment)
        return int(((self.target.kube.call("GET", path).get("spec") or {}).get("replicas")) or 1)

    def roll_back(self) -> str:
        """Write the old values back and restart what already runs on the new ones."""
        self._write(self.old)
        for deployment in self.restarted:
            rollouts.rollout_restart(self.target, deployment).run()
        return (
            f"rolled back: the old values of {', '.join(self.keys)} are back in "
            f"secret/{self.name}, and {', '.join(self.restarted)} restarted on them"
        )

    def annotate(self, annotation: str) -> ActionResult:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        patch = {"metadata": {"annotations": {annotation: stamp}}}
        self.target.kube.call("PATCH", self.path, body=patch, content_type=rollouts.MERGE)
        self.old = {}  # verified: nothing left to roll back to
        return ActionResult(f"secret/{self.name} annotated {annotation}={stamp}")


def rotation_actions(
    rotation: Rotation, users: Sequence[str], annotation: str, why: str
) -> list[Action]:
    ns, name, keys = rotation.target.namespace, rotation.name, rotation.keys
    masked = json.dumps({"data": {k: MASK for k in keys}}, sort_keys=True)
    radius = (
        f"restarts {', '.join(f'deployment/{u}' for u in users)}" if users else "restarts nothing"
    )
    actions = [
        Action(
            "kubernetes",
            f"PATCH {rotation.path} (merge-patch) {masked}   # {why}; blast radius: {radius}; "
            "no database role's password changes",
            rotation.rotate,
            {"secret": name, "keys": keys, "deployments": list(users)},
        )
    ]
    for user in users:
        actions.append(
            Action(
                "kubernetes",
                f"kubectl rollout restart deployment/{user} -n {ns} && kubectl rollout status "
                f"deployment/{user} -n {ns}   # available on the new values, else roll back",
                functools.partial(rotation.restart, user),
                {"deployment": user, "secret": name},
            )
        )
    actions.append(
        Action(
            "kubernetes",
            f"kubectl annotate secret {name} -n {ns} {annotation}=<now> --overwrite",
            lambda: rotation.annotate(annotation),
            {"secret": name, "annotation": annotation},
        )
    )
    return actions


def why_rotate(exposure: Exposure) -> str:
    if exposure.check == "SEC-101":
        return "SEC-101: past the rotation age"
    accounts = ", ".join(exposure.accounts) or "an account"
    return f"{exposure.check}: {accounts} likely compromised; tokens signed with the old key die"


@pytest.fixture
def rotate_secret(kube_target: KubeTarget, environment: Environment, redactor: Redactor) -> Planner:
    s = environment.profile.section(ResponseSettings)
    annotation = environment.profile.section(SecuritySettings).secret_rotated_annotation

    def plan(finding: Finding) -> Plan:
        exposure = finding.data_as(Exposure)
        wanted = s.keys_for(exposure.check)
        if exposure.check == "SEC-101":
            wanted = {n: k for n, k in wanted.items() if n in exposure.stale}
        ns = kube_target.namespace
        manual = [
            f"./scripts/rotate-secrets.ts force-rotate  # {exposure.check}: no key of "
            f"{', '.join(exposure.stale) or 'its Secrets'} is listed in "
            "security_response.rotate"
        ]
        if not wanted:
            return Plan(f"{ns}/secret", manual=manual)
        name, keys = next(iter(sorted(wanted.items())))
        target = f"{ns}/secret/{name}"
        if database := [k for k in keys if k in DATABASE_KEYS]:
            return Plan(
                target,
                refusal=(
                    f"{', '.join(database)} holds the database role's password, which must "
                    "change in PostgreSQL too (ALTER ROLE ... PASSWORD); SEC-R03 does not do "
                    "that: remove it from security_response.rotate and rotate it by hand"
                ),
            )
        deployments = readable(kube_target.snapshot.deployments)
        if isinstance(deployments, NoData):
            return Plan(
                target, refusal=f"cannot tell who uses secret/{name}: {deployments.missing}"
            )
        present = set(
            kube_target.kube.call("GET", f"/api/v1/namespaces/{ns}/secrets/{name}").get("data")
            or {}
        )
        missing = [k for k in keys if k not in present]
        if missing:
            why = f"secret/{name} has no key {', '.join(missing)}: fix security_response.rotate"
            return Plan(target, refusal=why)
        users = secret_users(deployments, name, keys)
        rotation = Rotation(kube_target, name, keys, s, redactor)
        actions = rotation_actions(rotation, users, annotation, why_rotate(exposure))
        claims = [f"secret/{ns}/{name}:rotate"] + [
            rollouts.change_claim(ns, u, "restart") for u in users
        ]
        return Plan(target, actions, claims=claims)

    return plan
