"""Which image references the emulated kubelet can pull: the tags the lab pushes.

`DEFAULT_REPOSITORIES` is what the lab's real registry holds: the supervisor pushes exactly
these tags to it at `lab up` (lab/services/registry.py), and the kubelet simulation pulls
exactly these, so the two agree by construction. Pods whose image is not among them (or is
marked unpullable by a hook, as with wrong credentials) go ErrImagePull then
ImagePullBackOff, so a rollout to a typo'd tag, one the registry really lacks, stalls until
its progress deadline, as in a real cluster.
"""

from __future__ import annotations

import hashlib

DEFAULT_REPOSITORIES: dict[str, tuple[str, ...]] = {
    "ghcr.io/rolerabbit/app": ("v1.2.1", "v1.2.2", "v1.2.3", "latest"),
    "ghcr.io/rolerabbit/worker": ("v1.2.1", "v1.2.2", "v1.2.3", "latest"),
}


def split_image(image: str) -> tuple[str, str]:
    """``repo:tag`` (or ``repo@digest``) into (repository, tag); tag defaults to latest."""
    if "@" in image:
        repo, digest = image.split("@", 1)
        return repo, digest
    last = image.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = image.rsplit(":", 1)
        return repo, tag
    return image, "latest"


class ImageRegistry:
    def __init__(self) -> None:
        self._repos: dict[str, set[str]] = {}
        self._broken: set[str] = set()
        self.reset()

    def reset(self) -> None:
        self._repos = {repo: set(tags) for repo, tags in DEFAULT_REPOSITORIES.items()}
        self._broken = set()

    def exists(self, image: str) -> bool:
        repo, tag = split_image(image)
        return tag in self._repos.get(repo, set())

    def pullable(self, image: str) -> bool:
        return self.exists(image) and image not in self._broken

    def mark_unpullable(self, image: str, broken: bool = True) -> None:
        if broken:
            self._broken.add(image)
        else:
            self._broken.discard(image)

    def clear_unpullable(self) -> None:
        self._broken.clear()

    def unpullable(self) -> list[str]:
        return sorted(self._broken)

    def image_id(self, image: str) -> str:
        repo, tag = split_image(image)
        digest = hashlib.sha256(f"{repo}:{tag}".encode()).hexdigest()
        return f"{repo}@sha256:{digest}"
