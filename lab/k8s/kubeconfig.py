"""Write a kubeconfig that points kubectl and the Python client at the emulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

CONTEXT = "lab"


def kubeconfig_document(
    url: str, token: str | None = None, namespace: str = "rolerabbit-production"
) -> dict[str, Any]:
    user: dict[str, Any] = {"token": token} if token else {}
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT, "cluster": {"server": url}}],
        "users": [{"name": CONTEXT, "user": user}],
        "contexts": [
            {
                "name": CONTEXT,
                "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": namespace},
            }
        ],
        "current-context": CONTEXT,
        "preferences": {},
    }


def write_kubeconfig(
    path: str | Path, url: str, token: str | None = None, namespace: str = "rolerabbit-production"
) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(kubeconfig_document(url, token, namespace), sort_keys=False))
    target.chmod(0o600)
    return target
