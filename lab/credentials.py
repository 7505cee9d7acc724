"""Passwords and tokens generated once per state dir.

Stored in `secrets.json` (mode 0600). They are printed only by `lab env` and
written only to the `env` file, which exist to hand them to the operator.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True, repr=False)
class Credentials:
    """The lab's generated secrets; `repr` shows none of them."""

    superuser_password: str
    app_password: str
    monitor_password: str
    fixer_password: str
    k8s_token: str
    # The image registry's one user (REGISTRY_USER): its password is in the emulator's
    # regcred pull secret, as a real cluster's pull secret holds a registry's credentials.
    registry_password: str

    @classmethod
    def load_or_create(cls, path: Path) -> Credentials:
        """The state dir's credentials; any a state dir of an older lab lacks are added."""
        stored = json.loads(path.read_text()) if path.exists() else {}
        fresh = {
            "superuser_password": secrets.token_urlsafe(18),
            "app_password": secrets.token_urlsafe(18),
            "monitor_password": secrets.token_urlsafe(18),
            "fixer_password": secrets.token_urlsafe(18),
            "k8s_token": secrets.token_urlsafe(24),
            "registry_password": secrets.token_urlsafe(18),
        }
        if set(fresh) <= set(stored):
            return cls(**{k: stored[k] for k in fresh})
        creds = cls(**{**fresh, **{k: v for k, v in stored.items() if k in fresh}})
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(asdict(creds), handle)
        return creds
