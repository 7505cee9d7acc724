"""Image references as a container runtime reads them, and what a registry said of one.

`ImageRef.parse` follows the distribution reference grammar (github.com/distribution/
reference) and its normalisation: a first path component with a '.' or ':' or `localhost`
is a registry host (host:port allowed), otherwise the image is Docker Hub's (`docker.io`,
and a one-component name is `library/NAME`); the tag defaults to `latest` unless a digest
is given; with both, the digest is what is pulled. `ImageVerdict` is what one
`HEAD /v2/<name>/manifests/<reference>` came to. Pure data: the registry client
(fixtures/registry.py) builds verdicts, the rules read them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

DOCKER_HUB = "docker.io"
# Docker Hub's API host, and the other names its credentials are stored under.
DOCKER_HUB_API = "registry-1.docker.io"
DOCKER_HUB_ALIASES = frozenset({"index.docker.io", "registry-1.docker.io", DOCKER_HUB})

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
NAME = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
HOST = re.compile(
    r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
    r"|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
)
TAG = re.compile(r"[\w][\w.-]{0,127}")
DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")


def registry_host(host: str) -> str:
    """A registry host as written in an image or a .dockerconfigjson `auths` key, normalised:
    no scheme or path, and Docker Hub's names all `docker.io`."""
    bare = host.split("://", 1)[-1].split("/", 1)[0].lower()
    return DOCKER_HUB if bare in DOCKER_HUB_ALIASES else bare


@dataclass(frozen=True)
class ImageRef:
    image: str  # as the pod spec writes it
    host: str  # normalised registry host (docker.io for Docker Hub)
    name: str  # the repository within that registry, e.g. library/nginx
    tag: str  # "" when only a digest is given
    digest: str  # "" when none

    @property
    def reference(self) -> str:
        """What the manifest URL names: the digest if there is one, else the tag."""
        return self.digest or self.tag

    @classmethod
    def parse(cls, image: str) -> ImageRef:
        """Parse a reference; ValueError, saying what is wrong, for one no runtime could pull."""
        rest, _, digest = image.partition("@")
        if digest and not DIGEST.fullmatch(digest):
            raise ValueError(f"{image!r}: {digest!r} is not a digest (algorithm:hex)")
        path, tag = rest, ""
        if ":" in rest.rsplit("/", 1)[-1]:
            path, tag = rest.rsplit(":", 1)
            if not TAG.fullmatch(tag):
                raise ValueError(f"{image!r}: {tag!r} is not a valid tag")
        first, slash, remainder = path.partition("/")
        if slash and ("." in first or ":" in first or first == "localhost"):
            if not HOST.fullmatch(first):
                raise ValueError(f"{image!r}: {first!r} is not a registry host")
            host, name = registry_host(first), remainder
        else:
            host, name = DOCKER_HUB, path
        if host == DOCKER_HUB and "/" not in name:
            name = f"library/{name}"
        if not NAME.fullmatch(name):
            raise ValueError(
                f"{image!r}: repository {name!r} must be lowercase letters, digits and "
                "separators (. _ __ -) between '/'-separated components"
            )
        return cls(image, host, name, tag or ("" if digest else "latest"), digest)


Status = Literal["present", "missing", "refused", "unknown"]


@dataclass(frozen=True)
class ImageVerdict:
    """What the registry said of one image reference.

    `present` (200) and `missing` (404) judge the image; `refused` (the credentials of
    `secret` were rejected) and `unknown` (unreachable, another status, no credentials)
    leave it unjudged, and `detail` says why, naming the registry; never a credential.
    """

    image: str
    status: Status
    registry: str  # host, and the endpoint asked when it is not https://host
    detail: str
    secret: str = ""

    @property
    def judged(self) -> bool:
        return self.status in ("present", "missing")
