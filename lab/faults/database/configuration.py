"""Database faults in configuration: the server's slow query log, and the API's pool size
and connection timeout in its Deployment's env (through the Kubernetes API)."""

from __future__ import annotations

from typing import Any, ClassVar

from lab.faults.database.support import int_param, superuser, wait_until
from lab.faults.deployment import KubeApi
from lab.faults.framework import Fault, LabControl, register

API_DEPLOYMENT = "rolerabbit-api"
API_CONTAINER = "api"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"


@register
class SlowQueryLogOff(Fault):
    name = "slow-query-log-off"
    section = "database"
    trips = ("DB-112",)
    description = "ALTER SYSTEM SET log_min_duration_statement = -1 (clear: 1000, the runbook's)."

    def inject(self, lab: LabControl, **params: str) -> str | None:
        self._set(lab, -1)
        return "slow query logging disabled"

    def clear(self, lab: LabControl) -> None:
        self._set(lab, 1000)

    @staticmethod
    def _set(lab: LabControl, value: int) -> None:
        with superuser(lab) as conn:
            conn.execute(f"ALTER SYSTEM SET log_min_duration_statement = {int(value)}")
            conn.execute("SELECT pg_reload_conf()")

        def applied() -> bool:
            with superuser(lab) as conn:
                row = conn.execute("SHOW log_min_duration_statement").fetchone()
            shown = str(row[0]) if row else ""
            return shown == ("-1" if value < 0 else f"{value}ms") or shown == f"{value / 1000:g}s"

        wait_until(f"log_min_duration_statement = {value}", applied)


class ApiEnvironment(Fault):
    """Base: one variable in the API Deployment's env, set through the Kubernetes API.

    The API's own env beats the ConfigMap's (envFrom), as in `kubectl set env`. Clear
    puts back what was there: the old value, or no entry at all.
    """

    variable: ClassVar[str]
    default_value: ClassVar[int]

    def __init__(self) -> None:
        self.original: dict[str, Any] | None = None
        self.injected = False

    def entry(self, params: dict[str, str]) -> tuple[dict[str, Any], str]:
        """The env entry to set (null fields are removed by the merge) and how to say it."""
        value = int_param(params, "value", self.default_value)
        return {"name": self.variable, "value": str(value), "valueFrom": None}, f"={value}"

    def inject(self, lab: LabControl, **params: str) -> str | None:
        api = KubeApi(lab)
        container = _api_container(api.deployment(API_DEPLOYMENT))
        entry = next((e for e in container.get("env") or [] if e["name"] == self.variable), None)
        if not self.injected:
            self.original = entry
        wanted, said = self.entry(params)
        _set_env_entry(api, wanted)
        self.injected = True
        return f"{self.variable}{said} in deployment/{API_DEPLOYMENT} (a new rollout)"

    def clear(self, lab: LabControl) -> None:
        if not self.injected:
            return
        restore = (
            {"value": None, "valueFrom": None, **self.original}
            if self.original
            else {"name": self.variable, "$patch": "delete"}
        )
        _set_env_entry(KubeApi(lab), restore)
        self.injected, self.original = False, None


def _api_container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if c["name"] == API_CONTAINER)


def _set_env_entry(api: KubeApi, entry: dict[str, Any]) -> None:
    patch = {
        "spec": {"template": {"spec": {"containers": [{"name": API_CONTAINER, "env": [entry]}]}}}
    }
    api.patch(API_DEPLOYMENT, patch, STRATEGIC_MERGE_PATCH)


@register
class PoolOversized(ApiEnvironment):
    name = "pool-oversized"
    section = "database"
    trips = ("DB-106",)
    description = "DB_POOL_MAX=40 (param value) in the API Deployment: pools outgrow the server."
    variable = "DB_POOL_MAX"
    default_value = 40


@register
class DbTimeoutLow(ApiEnvironment):
    name = "db-timeout-low"
    section = "database"
    trips = ("DB-107",)
    description = "DB_TIMEOUT=1000 (param value, ms) in the API Deployment."
    variable = "DB_TIMEOUT"
    default_value = 1000


@register
class PoolUnknown(ApiEnvironment):
    name = "pool-unknown"
    section = "database"
    trips = ()
    unjudged = ("DB-106",)
    description = (
        "DB_POOL_MAX from a Secret key (optional, absent) in the API Deployment: the pool size "
        "cannot be read, so DB-106 is inconclusive, saying so (and DB-R02 must not guess)."
    )
    variable = "DB_POOL_MAX"
    default_value = 0

    def entry(self, params: dict[str, str]) -> tuple[dict[str, Any], str]:
        ref = {"name": "rolerabbit-secrets", "key": self.variable, "optional": True}
        return {
            "name": self.variable,
            "value": None,
            "valueFrom": {"secretKeyRef": ref},
        }, " from secret rolerabbit-secrets"
