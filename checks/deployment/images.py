"""DEP-105, DEP-106: whether a deployment's images can be pulled, and its pull secret works.

Image references are looked up in the registry's tag listing when the profile names a
registry; without one (or for a digest the tag listing cannot confirm) whether an image
exists is unknown, and DEP-105 says so unless pulls already fail. The pull secret is read for
its type, its registry hosts and whether the pods reference it: never for a credential's
value; when Secrets may not be listed, what the pods reference is still judged.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import Counter
from collections.abc import Iterable, Sequence

from checks.deployment.finding_data import RolloutFailure
from checks.deployment.model import Obj, RegistryIndex, Workload, split_image
from checks.deployment.objects import counted, images_of, not_here, pod_name
from checks.deployment.pods import waiting
from checks.deployment.settings import DeploymentSettings
from opscheck import Finding, NoData

# -- DEP-105 image pulls ------------------------------------------------------------------


def image_pulls(
    w: Workload, s: DeploymentSettings, registry: RegistryIndex | None
) -> Finding | NoData | None:
    """DEP-105: no ErrImagePull/ImagePullBackOff, and every image reference exists.

    Pull errors fail whatever the registry says. Without them, an image whose existence
    cannot be told (no registry_url, or a digest the tag listing cannot confirm) is NoData:
    "no pull error yet" is not "the image exists".
    """
    if w.deployment is None:
        return not_here(w, "images")
    failing = waiting(w, s.image_pull_reasons)
    missing, unknown = _registry_verdicts(images_of(w.template()), registry)
    if failing or missing:
        return _pull_finding(w, failing, missing, [why for _, why in unknown])
    if unknown:
        images = ", ".join(image for image, _ in unknown)
        why = unknown[0][1] if len({why for _, why in unknown}) == 1 else "see the evidence"
        if registry is None:
            notes = ["give the profile a registry_url to check the images, or suppress DEP-105"]
        else:
            notes = [f"{image}: {reason}" for image, reason in unknown]
        return NoData(
            f"{why}: cannot tell whether {images} exists",
            [*notes, f"no pod of {w.ref} reports {' or '.join(s.image_pull_reasons)}"],
        )
    return None


def _registry_verdicts(
    images: list[str], registry: RegistryIndex | None
) -> tuple[list[str], list[tuple[str, str]]]:
    """(references missing from the registry, (image, why unknown) for those not told)."""
    missing: list[str] = []
    unknown: list[tuple[str, str]] = []
    for image in dict.fromkeys(images):
        if registry is None:
            unknown.append((image, "no registry configured (registry_url)"))
            continue
        repo, tag, digest = split_image(image)
        known = registry.tags.get(repo)
        if known is None:
            missing.append(f"{image}: repository {repo} not in the registry")
        elif tag and tag not in known:
            shown = ", ".join(sorted(known)[-5:])
            missing.append(f"{image}: tag {tag} not in {repo} (tags: {shown})")
        elif digest and not tag:
            unknown.append((image, f"the registry listing at {registry.source} has tags only"))
    return missing, unknown


def _pull_finding(
    w: Workload, failing: list[tuple[Obj, Obj, str, str]], missing: list[str], notes: list[str]
) -> Finding:
    images = sorted({str(c.get("image", "")) for _, c, _, _ in failing})
    reasons = Counter(reason for *_, reason, _ in failing)
    parts = []
    if failing:
        parts.append(
            f"{len({pod_name(p) for p, *_ in failing})} pods of {w.ref} cannot pull "
            f"{', '.join(images)} ({counted(reasons)})"
        )
    if missing:
        parts.append(f"{len(missing)} image references not in the registry")
    evidence = [f"pod/{pod_name(p)} {c['name']}: {r} — {m}" for p, c, r, m in failing[:10]]
    notes = [f"whether the images exist was not checked: {why}" for why in dict.fromkeys(notes)]
    return Finding(
        "; ".join(parts) + " (threshold 0)",
        [*missing, *evidence, *notes],
        RolloutFailure(w.name, images=tuple(images)),
    )


# -- DEP-106 pull secret ------------------------------------------------------------------


def _secret(secrets: Iterable[Obj], name: str) -> Obj | None:
    return next((x for x in secrets if x["metadata"]["name"] == name), None)


def _registry_host(image: str) -> str:
    first = image.split("/", 1)[0]
    return first if "/" in image and ("." in first or ":" in first) else "docker.io"


def pull_secret(
    w: Workload, secrets: Sequence[Obj] | NoData, name: str, s: DeploymentSettings
) -> Finding | NoData | None:
    """DEP-106: the pull secret exists, has the right type, parses, and the pods use it.

    Secrets that may not be listed (RBAC often forbids it) leave only the references to
    judge: a missing reference still fails; otherwise the secret itself is NoData.
    """
    if w.deployment is None:
        return not_here(w, "pull secret")
    problems = [] if isinstance(secrets, NoData) else _secret_problems(w, secrets, name, s)
    users = [w.template(), *w.pods]
    unreferenced = [
        obj
        for obj in users
        if name
        not in {r.get("name") for r in (obj.get("spec") or {}).get("imagePullSecrets") or []}
    ]
    if unreferenced:
        where = "the pod template" if unreferenced[0] is users[0] else "its pods"
        problems.append(
            f"{w.ref}: {where} do not reference {name} in imagePullSecrets "
            f"({len(unreferenced)} of {len(users)} template+pods)"
        )
    unread = [f"secret {name} not read: {secrets.missing}"] if isinstance(secrets, NoData) else []
    if problems:
        return Finding(
            f"pull secret {name} unusable for {w.ref}: {len(problems)} problems (threshold 0)",
            [*problems, *unread],
        )
    if isinstance(secrets, NoData):
        return NoData(
            f"cannot tell whether pull secret {name} exists and holds credentials: "
            f"{secrets.missing}",
            [f"the pod template and {len(w.pods)} pods of {w.ref} reference {name}"],
        )
    return None


def _secret_problems(
    w: Workload, secrets: Sequence[Obj], name: str, s: DeploymentSettings
) -> list[str]:
    secret = _secret(secrets, name)
    if secret is None:
        return [f"secret {name} not found in namespace {w.namespace}"]
    problems = []
    if secret.get("type") != s.pull_secret_type:
        problems.append(f"secret {name} has type {secret.get('type')!r}, not {s.pull_secret_type}")
    return problems + _dockerconfig_problems(secret, name, images_of(w.template()))


def _dockerconfig_problems(secret: Obj, name: str, images: list[str]) -> list[str]:
    raw = (secret.get("data") or {}).get(".dockerconfigjson")
    if raw is None:
        return [f"secret {name} has no .dockerconfigjson key"]
    try:
        document = json.loads(base64.b64decode(raw, validate=True))
    except (binascii.Error, ValueError):
        return [f"secret {name}: .dockerconfigjson is not base64-encoded JSON (value not shown)"]
    auths = document.get("auths") if isinstance(document, dict) else None
    if not isinstance(auths, dict) or not auths:
        return [f"secret {name}: .dockerconfigjson has no 'auths' entries"]
    problems = [
        f"secret {name}: the entry for {host} has neither 'auth' nor username/password"
        for host, entry in auths.items()
        if not isinstance(entry, dict)
        or not (entry.get("auth") or (entry.get("username") and entry.get("password")))
    ]
    hosts = {h.removeprefix("https://").split("/", 1)[0] for h in auths}
    for host in sorted({_registry_host(i) for i in images} - hosts):
        problems.append(
            f"secret {name} has no credentials for {host} (has: {', '.join(sorted(hosts))})"
        )
    return problems
