"""DEP-115: the release a pre-deploy gate is about to deploy is in its registry.

`--release IMAGE` names the image; the Deployment it replaces is `--release-deployment`,
else the one whose pod template already runs that repository (same registry host and
name, any tag): a release of `ghcr.io/rolerabbit/app` replaces the Deployment running
`ghcr.io/rolerabbit/app:<old tag>`. The registry is asked with that Deployment's pull
secrets, as the kubelet will pull it (fixtures/registry.py builds the verdict).

A 404 fails. So do credentials the registry refuses: the cluster holds the same pull
secret and could not pull the release either, so the gate must not let it through (DEP-105,
which judges images already running, stays inconclusive there; DEP-106 names the secret).
A registry that cannot be reached or answers otherwise leaves the release unjudged (NoData):
"could not ask" is never "it is there".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from checks.deployment.image_refs import ImageRef, ImageVerdict
from checks.deployment.images import pull_secret_names
from checks.deployment.model import Obj
from checks.deployment.objects import images_of
from opscheck import Finding, NoData


@dataclass(frozen=True)
class Release:
    """What the gate was asked to let through: an image, and the Deployment it replaces
    ("" until found by repository)."""

    image: str
    deployment: str = ""

    @property
    def ref(self) -> ImageRef:
        return ImageRef.parse(self.image)


def _repository(image: str) -> tuple[str, str] | None:
    try:
        ref = ImageRef.parse(image)
    except ValueError:
        return None
    return ref.host, ref.name


def release_target(release: Release, deployments: Sequence[Obj] | NoData) -> Obj | NoData:
    """The Deployment the release replaces, or NoData saying why none can be named."""
    if isinstance(deployments, NoData):
        why = deployments.missing
        return NoData(f"cannot tell which Deployment {release.image} replaces: {why}")
    by_name = {str(d["metadata"]["name"]): d for d in deployments}
    if release.deployment:
        if release.deployment in by_name:
            return by_name[release.deployment]
        return NoData(
            f"--release-deployment {release.deployment}: no such Deployment "
            f"(there are: {', '.join(sorted(by_name)) or 'none'})"
        )
    wanted = _repository(release.image)
    running = [
        name
        for name, d in by_name.items()
        if wanted in {_repository(i) for i in images_of(d["spec"]["template"])}
    ]
    if len(running) == 1:
        return by_name[running[0]]
    host, name = wanted or ("", release.image)
    why = (
        f"{len(running)} Deployments run {host}/{name} ({', '.join(sorted(running))})"
        if running
        else f"no Deployment runs {host}/{name}"
    )
    return NoData(
        f"cannot tell which Deployment {release.image} replaces: {why}; "
        "name it with --release-deployment NAME"
    )


def target_pull_secrets(target: Obj) -> list[str]:
    """The pull secrets the release will be pulled with: its Deployment's."""
    return pull_secret_names(target["spec"]["template"])


def release_image(release: Release, target: str, told: ImageVerdict) -> Finding | NoData | None:
    """DEP-115: the registry holds the release, and lets the pull secret pull it."""
    where = f"{release.image} (replacing deployment/{target})"
    if told.status == "present":
        return None
    if told.status == "missing":
        return Finding(
            f"release {where} is not in its registry: a deploy would leave its new pods in "
            "ImagePullBackOff (threshold: the image exists)",
            [told.detail, "was the tag pushed? is it spelt as the build pushed it?"],
        )
    if told.status == "refused":
        return Finding(
            f"release {where} cannot be pulled with the Deployment's pull secret "
            f"{told.secret}: the registry refuses its credentials, so the cluster could "
            "not pull it either (threshold: the pull secret can pull the image)",
            [told.detail],
        )
    return NoData(f"cannot tell whether release {where} is in its registry: {told.detail}")
