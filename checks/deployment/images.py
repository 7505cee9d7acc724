"""DEP-105, DEP-106: whether a deployment's images can be pulled, and its pull secret works.

Each image reference is asked of its own registry (`HEAD /v2/<name>/manifests/<ref>`,
fixtures/registry.py); the rules read what came back as `ImageVerdict`s. A 404 fails
DEP-105; a registry that cannot be reached, answers otherwise, or refuses the pull secret's
credentials leaves the image unjudged (NoData), never passed. The pull secret is read for
its type, its registry hosts and whether the pods reference it, never for a credential's
value; a registry refusing its credentials fails DEP-106. When Secrets may not be listed,
what the pods reference is still judged.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from checks.deployment.finding_data import RolloutFailure
from checks.deployment.image_refs import ImageRef, ImageVerdict, registry_host
from checks.deployment.model import Obj, Workload
from checks.deployment.objects import counted, images_of, not_here, pod_name
from checks.deployment.pods import waiting
from checks.deployment.settings import DeploymentSettings
from opscheck import Finding, NoData

Verdicts = Mapping[str, ImageVerdict]  # image reference -> what its registry said

# -- DEP-105 image pulls ------------------------------------------------------------------


def pull_secret_names(template: Obj) -> list[str]:
    """The imagePullSecrets a pod template names, in order."""
    refs = (template.get("spec") or {}).get("imagePullSecrets") or []
    return [str(r["name"]) for r in refs if isinstance(r, dict) and r.get("name")]


def image_pulls(w: Workload, s: DeploymentSettings, verdicts: Verdicts) -> Finding | NoData | None:
    """DEP-105: no ErrImagePull/ImagePullBackOff, and every image reference exists.

    Pull errors fail whatever the registry says. Without them, an image its registry could
    not judge is NoData: "no pull error yet" is not "the image exists".
    """
    if w.deployment is None:
        return not_here(w, "images")
    failing = waiting(w, s.image_pull_reasons)
    images = list(dict.fromkeys(images_of(w.template())))
    told = [verdicts[i] for i in images if i in verdicts]
    missing = [f"{v.image}: {v.detail}" for v in told if v.status == "missing"]
    unjudged = [v for v in told if not v.judged]
    unjudged += [ImageVerdict(i, "unknown", "", "not asked") for i in images if i not in verdicts]
    if failing or missing:
        return _pull_finding(w, failing, missing, [v.detail for v in unjudged])
    if unjudged:
        names = ", ".join(v.image for v in unjudged)
        why = unjudged[0].detail if len({v.detail for v in unjudged}) == 1 else "see the evidence"
        return NoData(
            f"cannot tell whether {names} exists: {why}",
            [
                *(f"{v.image}: {v.detail}" for v in unjudged),
                f"no pod of {w.ref} reports {' or '.join(s.image_pull_reasons)}",
            ],
        )
    return None


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
        parts.append(f"{len(missing)} image references missing from their registry")
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


def _image_host(image: str) -> str:
    try:
        return ImageRef.parse(image).host
    except ValueError:
        return registry_host(image.split("/", 1)[0])


def pull_secret(
    w: Workload,
    secrets: Sequence[Obj] | NoData,
    name: str,
    s: DeploymentSettings,
    verdicts: Verdicts | None = None,
) -> Finding | NoData | None:
    """DEP-106: the pull secret exists, has the right type, parses, its registries accept its
    credentials (as `verdicts` say), and the pods use it.

    Secrets that may not be listed (RBAC often forbids it) leave only the references and
    the registries' answers to judge; otherwise the secret itself is NoData.
    """
    if w.deployment is None:
        return not_here(w, "pull secret")
    problems = [] if isinstance(secrets, NoData) else _secret_problems(w, secrets, name, s)
    problems += list(
        dict.fromkeys(
            f"{v.image}: {v.detail}"
            for v in (verdicts or {}).values()
            if v.status == "refused" and v.secret == name
        )
    )
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
    hosts = {registry_host(h) for h in auths}
    for host in sorted({_image_host(i) for i in images} - hosts):
        problems.append(
            f"secret {name} has no credentials for {host} (has: {', '.join(sorted(hosts))})"
        )
    return problems
