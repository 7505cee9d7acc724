"""A real image registry for the lab: Debian's docker-registry (CNCF distribution 2.8).

It stands in for the host the lab's images name (ghcr.io): 127.0.0.1 only, filesystem
storage under the state dir, htpasswd Basic auth for one user whose password is the lab's
generated `registry_password` (bcrypt'd into the htpasswd file). Once it answers, the lab's
image tags (lab/k8s/registry.py DEFAULT_REPOSITORIES) are pushed through its HTTP API; a
tag already there costs one HEAD, so a restart or a second `lab up` pushes nothing.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import bcrypt
import yaml

from lab.errors import actionable
from lab.k8s.registry import DEFAULT_REPOSITORIES
from lab.services.base import LabContext, Service
from lab.services.registry_push import PushError, RegistryPusher

REGISTRY_HOST = "ghcr.io"  # the host the lab's image references name
REGISTRY_USER = "rolerabbit-ci"


def find_docker_registry() -> str:
    found = shutil.which("docker-registry")
    if found:
        return found
    raise actionable(
        "docker-registry was not found.",
        "PATH for `docker-registry` (Debian's package of the CNCF distribution registry)",
        ["install it: apt-get install docker-registry (scripts/bootstrap does)"],
    )


def registry_endpoint(ctx: LabContext) -> str:
    return f"http://127.0.0.1:{ctx.settings.registry_port}"


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner may read (it holds a credential or its hash)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


# distribution checks the password of every request against this hash, so its cost is
# paid per request: at bcrypt's common 10 rounds that was ~60 ms a request, 3.6 s of
# pushing the lab's images at each start (60 requests) and more in every sweep's registry
# reads. The password is random, long and loopback-only; the protocol is the same at any
# cost, so the lab takes bcrypt's least.
HASH_ROUNDS = 4


def write_htpasswd(path: Path, user: str, password: str) -> None:
    """`user:bcrypt-hash`, the only format distribution reads; kept if it still matches
    (at the same cost)."""
    if path.exists():
        stored_user, _, stored_hash = path.read_text().strip().partition(":")
        if (
            stored_user == user
            and stored_hash.startswith(f"$2b${HASH_ROUNDS:02d}$")
            and bcrypt.checkpw(password.encode(), stored_hash.encode())
        ):
            return
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=HASH_ROUNDS)).decode()
    write_private(path, f"{user}:{hashed}\n")


def registry_config(root: Path, port: int, htpasswd: Path | None, secret: str) -> dict[str, object]:
    """distribution's config.yml: loopback, filesystem storage, htpasswd auth (or none)."""
    config: dict[str, object] = {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {
            "filesystem": {"rootdirectory": str(root / "storage")},
            "delete": {"enabled": True},
        },
        "http": {"addr": f"127.0.0.1:{port}", "secret": secret},
    }
    if htpasswd is not None:
        config["auth"] = {"htpasswd": {"realm": "rolerabbit-lab", "path": str(htpasswd)}}
    return config


def answers(endpoint: str, timeout: float = 1.0) -> bool:
    """Whether a registry answers its API base (/v2/): 200, or 401 when auth is on."""
    try:
        with urllib.request.urlopen(f"{endpoint}/v2/", timeout=timeout) as response:
            return bool(response.status == 200)
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code == 401
    except (urllib.error.URLError, OSError):
        return False


class RegistryService(Service):
    name = "registry"

    def __init__(self, ctx: LabContext) -> None:
        super().__init__(ctx)
        self.binary = find_docker_registry()
        self.root = ctx.paths.registry

    @property
    def port(self) -> int:
        return self.ctx.settings.registry_port

    @property
    def config_path(self) -> Path:
        return self.root / "config.yml"

    def prepare(self) -> None:
        htpasswd = self.root / "htpasswd"
        write_htpasswd(htpasswd, REGISTRY_USER, self.ctx.credentials.registry_password)
        config = registry_config(self.root, self.port, htpasswd, secrets.token_urlsafe(24))
        write_private(self.config_path, yaml.safe_dump(config, sort_keys=False))

    def command(self) -> list[str]:
        return [self.binary, "serve", str(self.config_path)]

    def healthy(self) -> bool:
        return answers(registry_endpoint(self.ctx))

    def after_ready(self) -> None:
        """Push the lab's image tags (idempotent)."""
        pusher = RegistryPusher(
            registry_endpoint(self.ctx), REGISTRY_USER, self.ctx.credentials.registry_password
        )
        try:
            pusher.push_all(DEFAULT_REPOSITORIES)
        except PushError as exc:
            raise actionable(
                f"pushing the lab's images to its registry failed: {exc}",
                f"the registry's log {self.log_path}",
                [f"read it: tail -n 30 {self.log_path}", "then `lab down` and `lab up`"],
            ) from None


def pull_secret_file(ctx: LabContext) -> Path:
    """The regcred entry the emulator seeds (host, username, password), mode 0600."""
    path = ctx.paths.registry / "regcred.json"
    entry = {
        "host": REGISTRY_HOST,
        "username": REGISTRY_USER,
        "password": ctx.credentials.registry_password,
    }
    write_private(path, json.dumps(entry))
    return path
