"""Secret hygiene (SEC-101, SEC-102): the profile's Secrets rotated in time, and no secret
written into a Deployment as plain text.

Secrets reach these rules as metadata only (names, annotations, creation times: a
PartialObjectMetadataList), so no rule here ever holds a Secret's value. SEC-102 reads a
pod template's literal env values only to tell whether a URL carries a password; its
evidence names the deployment, the container and the variable, never the value.

Every rule is pure: listed objects (or NoData for a list that could not be read) and the
section's settings in, a verdict out; `now` is passed in so tests can pin time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from checks.security.finding_data import Exposure
from checks.security.settings import SecuritySettings
from opscheck import Finding, NoData

Obj = dict[str, Any]
DAY_S = 86400.0
# scheme://user:password@host: the userinfo carries a password.
URL_PASSWORD = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/@\s:]*:([^/@\s]+)@")
# $(NAME): Kubernetes expands another variable here (one set from a Secret, say).
REFERENCE = re.compile(r"^\$\([A-Za-z_][A-Za-z0-9_.-]*\)$")


def parse_rfc3339(text: object) -> datetime | None:
    """An RFC 3339 time with its offset (2026-01-31T12:00:00Z); None for anything else."""
    if not isinstance(text, str) or "T" not in text.upper():
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def days(seconds: float) -> str:
    return f"{seconds / DAY_S:.1f} days" if seconds < 10 * DAY_S else f"{seconds / DAY_S:.0f} days"


@dataclass(frozen=True)
class SecretAge:
    """How old a Secret is, from what, and any problem with its rotation annotation."""

    name: str
    age_s: float | None
    source: str  # "rotated" (the annotation) or "created" (creationTimestamp)
    stamp: str
    note: str = ""


def secret_age(secret: Obj, annotation: str, now: datetime) -> SecretAge:
    """The age of a Secret from its rotation annotation, else from its creationTimestamp."""
    metadata = secret.get("metadata") or {}
    name = str(metadata.get("name", ""))
    rotated = (metadata.get("annotations") or {}).get(annotation)
    note = ""
    if rotated is not None:
        moment = parse_rfc3339(rotated)
        if moment is not None and moment <= now:
            return SecretAge(name, (now - moment).total_seconds(), "rotated", str(rotated))
        why = "is in the future" if moment is not None else "is not an RFC 3339 time"
        note = f"annotation {annotation}={rotated!r} {why}: age taken from creationTimestamp"
    created = metadata.get("creationTimestamp")
    moment = parse_rfc3339(created)
    age = None if moment is None else (now - moment).total_seconds()
    return SecretAge(name, age, "created", str(created or ""), note)


def stale_secrets(
    secrets: Sequence[Obj] | NoData,
    settings: SecuritySettings,
    namespace: str,
    now: datetime,
) -> Finding | NoData | None:
    """SEC-101: every Secret the profile names exists and was rotated within the rotation
    age (its rotation annotation, else its creationTimestamp).

    A named Secret that does not exist fails the check: the list was read, so its absence
    is known, not a lack of data; the profile says it should be there, and what mounts it
    cannot start without it.
    """
    names = settings.secret_names
    if isinstance(secrets, NoData):
        return NoData(
            f"cannot judge the rotation of {', '.join(names)}: {secrets.missing}", secrets.evidence
        )
    listed = {str((s.get("metadata") or {}).get("name", "")): s for s in secrets}
    limit_s = settings.secret_rotation_max_age_days * DAY_S
    key = settings.secret_rotated_annotation
    missing = [n for n in names if n not in listed]
    ages = [secret_age(listed[n], key, now) for n in names if n in listed]
    stale = [a for a in ages if a.age_s is not None and a.age_s > limit_s]
    undated = [a for a in ages if a.age_s is None]
    evidence = [_age_line(a, limit_s) for a in ages]
    evidence += [f"{a.name}: {a.note}" for a in ages if a.note]
    if not stale and not missing:
        if undated:
            return NoData(
                f"no rotation time for {', '.join(a.name for a in undated)}: neither {key} nor "
                "creationTimestamp is a time",
                evidence,
            )
        return None
    parts = []
    if stale:
        worst = ", ".join(f"{a.name}: {days(a.age_s or 0)}" for a in stale)
        parts.append(
            f"{len(stale)} of {len(names)} named Secrets older than the rotation age of "
            f"{settings.secret_rotation_max_age_days:g} days ({worst})"
        )
    if missing:
        parts.append(f"{len(missing)} named Secrets not found in namespace {namespace}")
    for name in missing:
        evidence.append(
            f"secret/{name} not found in namespace {namespace}: the profile names it "
            "(security.secret_names) and what mounts it cannot start without it; create it, "
            "or remove it from security.secret_names"
        )
    for a in stale:
        evidence += _rotation_steps(a.name, namespace, key)
    return Finding("; ".join(parts), evidence, Exposure("SEC-101", tuple(a.name for a in stale)))


def _age_line(a: SecretAge, limit_s: float) -> str:
    if a.age_s is None:
        return f"secret/{a.name}: no usable time (creationTimestamp {a.stamp!r})"
    how = "rotated" if a.source == "rotated" else "created (never annotated as rotated)"
    verdict = "older than" if a.age_s > limit_s else "within"
    return (
        f"secret/{a.name}: {how} {days(a.age_s)} ago ({a.stamp}), {verdict} the rotation age "
        f"of {days(limit_s)}"
    )


def _rotation_steps(name: str, namespace: str, annotation: str) -> list[str]:
    return [
        f"rotate secret/{name}: issue new values at their source, then for each key: kubectl "
        f"patch secret {name} -n {namespace} --type merge "
        '-p \'{"stringData":{"<KEY>":"<new value>"}}\'',
        f"record it: kubectl annotate secret {name} -n {namespace} "
        f"{annotation}=$(date -u +%Y-%m-%dT%H:%M:%SZ) --overwrite",
    ]


# -- SEC-102: plain-text values in pod templates -------------------------------------------


@dataclass(frozen=True)
class PlainValue:
    """An env var of a pod template set with a literal value that holds a secret."""

    deployment: str
    container: str  # "container api" or "init container migrate"
    container_name: str
    variable: str
    why: str  # "a secret-like name" or "a URL with a password"


def literal_secrets(deployment: Obj, settings: SecuritySettings) -> Iterator[PlainValue]:
    """The env vars of a Deployment's pod template (containers and initContainers) that set
    a secret with a literal `value`. Values are read here and never leave this function."""
    name = str((deployment.get("metadata") or {}).get("name", ""))
    spec = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
    for field, label in (("initContainers", "init container"), ("containers", "container")):
        for container in spec.get(field) or []:
            cname = str(container.get("name", ""))
            for variable in container.get("env") or []:
                why = _plain_secret(variable, settings)
                if why:
                    vname = str(variable.get("name", ""))
                    yield PlainValue(name, f"{label} {cname}", cname, vname, why)


def _plain_secret(variable: Obj, settings: SecuritySettings) -> str:
    value, name = variable.get("value"), str(variable.get("name", ""))
    if variable.get("valueFrom") or not isinstance(value, str) or not value.strip():
        return ""
    if REFERENCE.fullmatch(value.strip()):
        return ""
    if settings.secret_like(name):
        return "a secret-like name"
    if settings.url_like(name):
        found = URL_PASSWORD.match(value.strip())
        if found and not REFERENCE.fullmatch(found.group(1)):
            return "a URL with a password"
    return ""


def plaintext_env(
    deployments: Sequence[Obj] | NoData,
    settings: SecuritySettings,
    namespace: str,
    secret: str,
) -> Finding | NoData | None:
    """SEC-102: no Deployment's pod template sets a secret-like env var with a literal value
    (it belongs in a Secret, read with valueFrom.secretKeyRef). `secret` is the profile's
    Secret the manual steps move the value into. Only names are shown, never a value."""
    if isinstance(deployments, NoData):
        return NoData(
            f"cannot look for plain-text secrets in pod templates: {deployments.missing}",
            deployments.evidence,
        )
    found = [p for d in deployments for p in literal_secrets(d, settings)]
    if not found:
        return None
    where = sorted({p.deployment for p in found})
    evidence = [
        f"deployment/{p.deployment} {p.container}: {p.variable} set with a literal value "
        f"({p.why}), not valueFrom.secretKeyRef"
        for p in found
    ]
    for p in found:
        evidence += [
            f"move {p.variable} into secret/{secret}: kubectl patch secret {secret} -n "
            f'{namespace} --type merge -p \'{{"stringData":{{"{p.variable}":"<value>"}}}}\'',
            f"read it from there: kubectl set env deployment/{p.deployment} -c {p.container_name} "
            f"-n {namespace} --from=secret/{secret} --keys={p.variable}",
        ]
    evidence.append(
        "then rotate those values: anyone who may get deployments or replicasets in "
        f"{namespace} could read them, and old ReplicaSets keep them"
    )
    return Finding(
        f"{len(found)} secret-like env vars set as plain text in the pod templates of "
        f"{len(where)} Deployments ({', '.join(where)}; threshold 0)",
        evidence,
    )
