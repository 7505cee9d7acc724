"""The application's side of the connections, read from its Kubernetes Deployments:
pool sizing during a rollout (DB-106) and the connection timeout (DB-107).

Values are resolved as the kubelet resolves env (`env_value`), including ConfigMaps;
values from Secrets are never read. A value the suite cannot know (a configured deployment
or container that is not there, a value from a Secret or a field ref; for the pool also an
unset or unreadable value, which leaves the client library's default) is not judged:
the check is inconclusive unless what it can see already fails.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from checks.database.connections import settings_missing, usable_connections
from checks.database.finding_data import AppPools, AppTimeouts, AppVariable
from checks.database.rows import Row
from checks.database.settings import AppConfigSettings
from opscheck import Finding, NoData


def _container(deployment: Row, name: str) -> Row | None:
    containers = deployment.get("spec", {}).get("template", {}).get("spec", {}).get("containers")
    containers = containers or []
    found = next((c for c in containers if c.get("name") == name), None)
    return found or (containers[0] if len(containers) == 1 else None)


def env_value(container: Row, configmaps: Sequence[Row], variable: str) -> tuple[str | None, str]:
    """The effective value of an env variable and where it comes from.

    As the kubelet resolves it: `env` beats `envFrom`; among envFrom sources the last one
    wins. Values from Secrets are never read ("secret (not shown)").
    """
    maps = {cm["metadata"]["name"]: cm.get("data") or {} for cm in configmaps}
    for item in reversed(container.get("env") or []):
        if item.get("name") != variable:
            continue
        if "value" in item:
            return str(item["value"]), "env"
        ref = (item.get("valueFrom") or {}).get("configMapKeyRef")
        if ref:
            value = maps.get(ref.get("name"), {}).get(ref.get("key"))
            return value, f"configmap {ref.get('name')} key {ref.get('key')}"
        return None, SECRET
    for source in reversed(container.get("envFrom") or []):
        key = variable.removeprefix(source.get("prefix") or "")
        if source.get("prefix") and not variable.startswith(source["prefix"]):
            continue
        ref = source.get("configMapRef")
        if ref and key in maps.get(ref.get("name"), {}):
            return str(maps[ref["name"]][key]), f"configmap {ref['name']} (envFrom)"
    return None, NOT_SET


NOT_SET = "not set"
SECRET = "secret or field ref (not shown)"


def surge(deployment: Row) -> int:
    """Extra pods a rolling update may add (maxSurge, default 25%, rounded up)."""
    spec = deployment.get("spec") or {}
    strategy = spec.get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return 0
    replicas = spec.get("replicas", 1)
    value = (strategy.get("rollingUpdate") or {}).get("maxSurge", "25%")
    if isinstance(value, str) and value.endswith("%"):
        return math.ceil(replicas * float(value[:-1]) / 100)
    return int(value)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _app_variable(
    deployments: Sequence[Row], configmaps: Sequence[Row], app: AppConfigSettings, variable: str
) -> list[AppVariable]:
    """Per configured deployment: replicas, surge, and the variable's value and source."""
    found = {d["metadata"]["name"]: d for d in deployments}
    result = []
    for name in app.deployments:
        dep = found.get(name)
        container = _container(dep, app.container) if dep else None
        value, source = env_value(container, configmaps, variable) if container else (None, "")
        result.append(
            AppVariable(
                name=name,
                found=container is not None,
                container=(container or {}).get("name", app.container),
                replicas=(dep or {}).get("spec", {}).get("replicas", 1),
                surge=surge(dep) if dep else 0,
                raw=value,
                value=_int(value),
                source=source,
            )
        )
    return result


def _unknown_line(e: AppVariable, variable: str) -> str:
    where = f"deployment/{e.name}"
    if not e.found:
        return f"{where}: not found (container {e.container})"
    if e.raw is not None:
        return f"{where}: {variable}={e.raw!r} is not a number ({e.source})"
    if e.source == SECRET:
        return f"{where}: {variable} comes from a secret or field ref, which is never read"
    if e.source == NOT_SET:
        return f"{where}: {variable} not set"
    return f"{where}: {variable} from {e.source}: no such key"


def pool_sizing(
    deployments: Sequence[Row],
    configmaps: Sequence[Row],
    pg_settings: Mapping[str, str],
    app: AppConfigSettings,
) -> Finding | NoData | None:
    """Peak pools during a rollout, (replicas + maxSurge) x DB_POOL_MAX, must fit.

    An unknown pool (see the module) may be any size: with the known ones fitting, the
    check cannot judge; with them already too large, it fails and names the unknown ones.
    """
    blind = settings_missing(pg_settings, "max_connections")
    if blind:
        return blind
    usable = usable_connections(pg_settings)
    allowed = math.floor(usable * app.pool_max_share)
    entries = _app_variable(deployments, configmaps, app, app.pool_variable)
    evidence, peak, unknown = [], 0, []
    for e in entries:
        if not e.found or e.value is None:
            unknown.append(e)
            evidence.append(_unknown_line(e, app.pool_variable))
            continue
        pods = e.replicas + e.surge
        peak += pods * e.value
        evidence.append(
            f"deployment/{e.name}: ({e.replicas} replicas + {e.surge} surge) x "
            f"{app.pool_variable}={e.value} ({e.source}) = {pods * e.value}"
        )
    if peak <= allowed and not unknown:
        return None
    evidence.append(
        f"usable = max_connections {pg_settings['max_connections']} - reserved = {usable}"
    )
    if peak <= allowed:
        known = f" (the known pools peak at {peak} of {allowed} allowed)" if peak else ""
        return NoData(
            f"pool size unknown for {', '.join(e.name for e in unknown)}: "
            + "; ".join(_unknown_line(e, app.pool_variable) for e in unknown)
            + known,
            evidence,
        )
    return Finding(
        f"app pools can open {peak} connections during a rollout > {allowed} allowed "
        f"({app.pool_max_share:.0%} of {usable} usable)",
        evidence,
        AppPools(tuple(entries), allowed),
    )


def app_timeout(
    deployments: Sequence[Row], configmaps: Sequence[Row], app: AppConfigSettings
) -> Finding | NoData | None:
    """The application's DB_TIMEOUT must be at least `timeout_min_ms`.

    Unset or not a number counts as too low: the driver then has no connect timeout of
    the application's choosing, and DB-R07 sets the runbook's value. A deployment that is
    not there, or a value from a Secret, is unknown.
    """
    entries = _app_variable(deployments, configmaps, app, app.timeout_variable)
    unknown = [e for e in entries if not e.found or e.source == SECRET]
    low = [
        e for e in entries if e not in unknown and (e.value is None or e.value < app.timeout_min_ms)
    ]
    if not low:
        if not unknown:
            return None
        return NoData(
            f"{app.timeout_variable} unknown for "
            + "; ".join(_unknown_line(e, app.timeout_variable) for e in unknown)
        )
    shown = ", ".join(
        f"{e.raw if e.raw is not None else 'unset'} ms on deployment/{e.name}" for e in low
    )
    return Finding(
        f"{app.timeout_variable}={shown} < {app.timeout_min_ms} ms minimum",
        [f"deployment/{e.name}: {app.timeout_variable} from {e.source}" for e in low]
        + [f"not judged: {_unknown_line(e, app.timeout_variable)}" for e in unknown],
        AppTimeouts(tuple(low)),
    )
