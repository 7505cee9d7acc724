"""ERR-103: third parties the API depends on, probed at their status URLs.

A dependency that is down passes while its feature flag is off in the API (the circuit
breaker is engaged); `flag_value` reads that flag as the API's container (the profile's
errors.api_container) sees it, and the ERR-R01 remediation uses it to tell which flags
still need switching off, in that container.

The flags are read (from the Deployment) only for a dependency that is down: a sweep whose
third parties all answer needs no Kubernetes. Where the flags cannot be read (Kubernetes
absent from the profile, unreachable, forbidden) a down dependency is judged down, and the
evidence says its circuit breaker could not be seen. No dependency configured is NoData.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from checks.errors.finding_data import FailingThirdParties
from checks.errors.settings import ErrorsSettings
from opscheck import Finding, NoData

FLAG_OFF = frozenset({"false", "0", "off", "no", "disabled"})


@dataclass(frozen=True)
class Probe:
    """A third party's status URL: how it answered, and its feature flag in the API."""

    name: str
    url: str
    status: int | None
    seconds: float | None
    error: str | None = None
    feature_flag: str | None = None
    flag_value: str | None = None
    flag_unknown: str | None = None
    """Why the feature flag could not be read (then flag_value means nothing)."""

    def problem(self, timeout_s: float) -> str | None:
        if self.error is not None:
            return self.error
        if self.status is not None and self.status >= 500:
            return f"HTTP {self.status}"
        if self.seconds is not None and self.seconds > timeout_s:
            return f"answered in {self.seconds:.1f}s > {timeout_s:g}s"
        return None

    @property
    def flag_off(self) -> bool:
        if self.flag_unknown is not None:
            return False
        return (self.flag_value or "").strip().lower() in FLAG_OFF


def container_named(deployment: Mapping[str, Any] | None, name: str) -> Mapping[str, Any] | None:
    """The Deployment's pod-template container called `name`, if it has one."""
    spec = ((deployment or {}).get("spec") or {}).get("template", {}).get("spec") or {}
    return next((c for c in spec.get("containers") or [] if c.get("name") == name), None)


def flag_value(
    deployment: Mapping[str, Any] | None, configmaps: Sequence[Any], flag: str, container: str
) -> str | None:
    """A variable as the API's `container` sees it: env wins over envFrom ConfigMaps.

    None when the variable is unset, or the container does not exist.
    """
    found = container_named(deployment, container)
    return None if found is None else _env_value(found, configmaps, flag)


def _env_value(container: Mapping[str, Any], configmaps: Sequence[Any], flag: str) -> str | None:
    for entry in container.get("env") or []:
        if entry.get("name") == flag and "value" in entry:
            return str(entry["value"])
    found = None
    by_name = {c["metadata"]["name"]: c.get("data") or {} for c in configmaps}
    for source in container.get("envFrom") or []:
        ref = (source.get("configMapRef") or {}).get("name")
        prefix = source.get("prefix") or ""
        for key, value in by_name.get(ref, {}).items():
            if prefix + key == flag:
                found = str(value)  # a later source wins, as in the kubelet
    return found


NOT_CONFIGURED = "no third-party dependencies configured (dependencies:)"


def third_parties(
    probes: Sequence[Probe], settings: ErrorsSettings
) -> tuple[Finding | NoData | None, list[str]]:
    """ERR-103: every dependency answers in time without 5xx, or its feature is switched off.

    A dependency that is down while its feature flag is already off passes with a note:
    the circuit breaker is engaged, the outage is mitigated. No probe at all: NoData.
    """
    if not probes:
        return NoData(
            NOT_CONFIGURED,
            ["add dependencies.<name>.status_url (and feature_flag) to the profile"],
        ), []
    notes: list[str] = []
    down: list[tuple[Probe, str]] = []
    for probe in probes:
        problem = probe.problem(settings.dependency_timeout_s)
        if problem is None:
            continue
        if probe.feature_flag and probe.flag_off:
            notes.append(
                f"{probe.name} is down ({problem}) but mitigated: "
                f"{probe.feature_flag}={probe.flag_value} in the API"
            )
            continue
        down.append((probe, problem))
    if not down:
        return None, notes
    names = ", ".join(f"{p.name} ({why})" for p, why in down)
    summary = f"{len(down)} of {len(probes)} third-party services down: {names}"
    evidence = [f"{p.name}: {p.url} -> {why}" for p, why in down]
    evidence += [_flag_line(p) for p, _ in down]
    evidence += notes
    flags = {p.feature_flag: p.name for p, _ in down if p.feature_flag}
    return Finding(summary, evidence, FailingThirdParties(flags)), notes


def _flag_line(p: Probe) -> str:
    if not p.feature_flag:
        return f"{p.name}: no feature flag configured; wait for the provider"
    if p.flag_unknown is not None:
        return (
            f"{p.name}: feature flag {p.feature_flag} not read ({p.flag_unknown}): whether "
            "its circuit breaker is engaged cannot be told"
        )
    return (
        f"{p.name}: feature flag {p.feature_flag}={p.flag_value or 'unset'}; "
        "disable it to engage the circuit breaker"
    )
