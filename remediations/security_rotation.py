"""The ordered steps of one SEC-R03 rotation, each an Action of the plan
(security_rotate.py plans them).

The old values are read and the new ones made once, by the first step that runs, and kept
in memory only (every one registered with the redactor at once); a step that fails rolls
everything back: the role's old password, the Secret's old values, and a restart of the
Deployments already restarted on the new ones. The annotation is the last step: a rotation
that did not hold never looks done to SEC-101.
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

from checks.security.response_settings import ResponseSettings
from fixtures.kubernetes_target import KubeTarget
from opscheck import Action, ActionResult
from opscheck.redaction import MASK, Redactor
from remediations import rollouts
from remediations.security_database import RolePassword, url_credentials, with_password

Obj = Mapping[str, Any]


def new_value(old: str, min_length: int) -> str:
    """A random value of the old one's length (at least `min_length`) and alphabet class."""
    length = max(len(old), min_length)
    if old and all(c in string.hexdigits for c in old):
        return secrets.token_hex(length)[:length]
    return secrets.token_urlsafe(length)[:length]


def decoded(secret: Obj) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}


class Rotation:
    """One Secret's rotation, its old values kept for a rollback until it is verified.

    `database` is the role whose password the Secret's `database_key` URL carries: its
    password changes in PostgreSQL first, and changes back on a rollback.
    """

    def __init__(
        self, target: KubeTarget, name: str, keys: Sequence[str], s: ResponseSettings,
        redactor: Redactor, database: RolePassword | None = None,
    ) -> None:  # fmt: skip
        self.target, self.name, self.keys, self.s = target, name, list(keys), s
        self.redactor, self.database = redactor, database
        self.path = f"/api/v1/namespaces/{target.namespace}/secrets/{name}"
        self.old: dict[str, str] = {}
        self.fresh: dict[str, str] = {}
        self.restarted: list[str] = []
        self.password_changed = False

    def _prepare(self) -> None:
        """Read the old values and make the new ones (once), every one masked from now on."""
        if self.fresh:
            return
        current = decoded(self.target.kube.call("GET", self.path))
        self.old = {k: current[k] for k in self.keys}
        for key, value in self.old.items():
            if key == self.s.database_key:
                old_password = self._password(value)
                password = new_value(old_password, self.s.value_min_length)
                self.fresh[key] = with_password(value, password)
                self.redactor.add(old_password)
                self.redactor.add(password)
            else:
                self.fresh[key] = new_value(value, self.s.value_min_length)
        for value in (*self.old.values(), *self.fresh.values()):
            self.redactor.add(value)

    def _password(self, url: str) -> str:
        credentials = url_credentials(url)
        if credentials is None:
            raise ValueError(f"{self.s.database_key} in secret/{self.name} names no password")
        return credentials[1]

    def _write(self, values: Mapping[str, str]) -> None:
        data = {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}
        self.target.kube.call("PATCH", self.path, body={"data": data}, content_type=rollouts.MERGE)

    def change_password(self) -> ActionResult:
        assert self.database is not None
        self._prepare()
        self.database.set(self._password(self.fresh[self.s.database_key]))
        self.password_changed = True
        return ActionResult(f"role {self.database.role}: new password set")

    def rotate(self) -> ActionResult:
        self._prepare()
        try:
            self._write(self.fresh)
        except Exception as exc:
            raise RuntimeError(f"{exc}; {self.roll_back()}") from None
        items = [{"secret": self.name, "key": k, "length": len(v)} for k, v in self.fresh.items()]
        return ActionResult(f"secret/{self.name}: new values for {', '.join(self.keys)}", items)

    def restart(self, deployment: str) -> ActionResult:
        self.restarted.append(deployment)
        try:
            rollouts.rollout_restart(self.target, deployment).run()
            rollouts.wait_for_rollout(self.target, deployment)
            rollouts.wait_for_available(self.target, deployment, self._replicas(deployment))
        except Exception as exc:
            raise RuntimeError(f"{exc}; {self.roll_back()}") from None
        return ActionResult(
            f"deployment/{deployment} restarted on the new values and available",
            [{"deployment": deployment, "secret": self.name}],
        )

    def verify_password(self) -> ActionResult:
        assert self.database is not None
        key = self.s.database_key
        try:
            return self.database.verify(
                self._password(self.fresh[key]), self._password(self.old[key])
            )
        except Exception as exc:
            raise RuntimeError(f"{exc}; {self.roll_back()}") from None

    def _replicas(self, deployment: str) -> int:
        path = rollouts.deployment_path(self.target.namespace, deployment)
        return int(((self.target.kube.call("GET", path).get("spec") or {}).get("replicas")) or 1)

    def roll_back(self) -> str:
        """The old password and values back, and what runs on the new ones restarted."""
        done = []
        if self.database is not None and self.password_changed:
            self.database.set(self._password(self.old[self.s.database_key]))
            done.append(f"role {self.database.role}'s old password")
        self._write(self.old)
        done.append(f"the old values of {', '.join(self.keys)} in secret/{self.name}")
        for deployment in self.restarted:
            rollouts.rollout_restart(self.target, deployment).run()
        again = f", {', '.join(self.restarted)} restarted on them" if self.restarted else ""
        return f"rolled back: {' and '.join(done)} restored{again}"

    def annotate(self, annotation: str) -> ActionResult:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        patch = {"metadata": {"annotations": {annotation: stamp}}}
        self.target.kube.call("PATCH", self.path, body=patch, content_type=rollouts.MERGE)
        self.old = {}  # verified: nothing left to roll back to
        return ActionResult(f"secret/{self.name} annotated {annotation}={stamp}")


def rotation_actions(
    rotation: Rotation, users: Sequence[str], annotation: str, why: str
) -> list[Action]:
    ns, name, keys, database = (
        rotation.target.namespace, rotation.name, rotation.keys, rotation.database
    )  # fmt: skip
    masked = json.dumps({"data": {k: MASK for k in keys}}, sort_keys=True)
    radius = (
        f"restarts {', '.join(f'deployment/{u}' for u in users)}" if users else "restarts nothing"
    )
    radius += (
        f"; the password of database role {database.role} changes"
        if database
        else "; no database role's password changes"
    )
    actions = []
    if database is not None:
        actions.append(
            Action(
                "sql",
                f"ALTER ROLE {database.role} PASSWORD '{MASK}'   # SCRAM verifier, computed "
                "here; the old password is kept until the new one is verified",
                rotation.change_password,
                {"role": database.role},
            )
        )
    actions.append(
        Action(
            "kubernetes",
            f"PATCH {rotation.path} (merge-patch) {masked}   # {why}; blast radius: {radius}",
            rotation.rotate,
            {"secret": name, "keys": keys, "deployments": list(users)},
        )
    )
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
    if database is not None:
        actions.append(
            Action(
                "sql",
                f"connect as {database.role} with the new password, and with the old one  "
                "# the new must work and the old be refused, else roll back",
                rotation.verify_password,
                {"role": database.role},
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
