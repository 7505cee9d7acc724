"""Which target a run acts on, as a short stable key, and where per-target run state lives.

The sweep lock and the fix ledger belong to the target, not to a reports directory or a
profiles file: two runs with different --reports-dir, or two profiles naming the same
servers, must never sweep or fix the same target at once. The key is built from where the
profile points (Kubernetes server and namespace, database host and name, Redis host and
index, API URL), never from secrets.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from opscheck.environment import Environment

STATE_DIR_VARIABLE = "OPSCHECK_STATE_DIR"


def machine_state_dir() -> Path:
    """Per-machine run state: $OPSCHECK_STATE_DIR, else the XDG state home."""
    explicit = os.environ.get(STATE_DIR_VARIABLE)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "rolerabbit-opscheck"


def _endpoint(url: str | None) -> str:
    """scheme://host:port/path of a URL or DSN, without user or password."""
    if not url:
        return "-"
    try:
        parts = urlsplit(url)
        if parts.scheme and parts.hostname:
            return f"{parts.scheme}://{parts.hostname}:{parts.port or ''}{parts.path}"
    except ValueError:
        pass
    # A key/value DSN or something unparsable: keep only the non-secret keys.
    fields = [f for f in url.split() if f.split("=", 1)[0] in ("host", "port", "dbname")]
    return " ".join(sorted(fields)) or hashlib.sha256(url.encode()).hexdigest()[:12]


def _kubernetes_server(environment: Environment) -> str:
    """The API server of the profile's context, or the kubeconfig's path if unreadable."""
    path = environment.variable("KUBECONFIG") or str(Path.home() / ".kube" / "config")
    wanted = environment.profile.kubernetes.context
    try:
        config = yaml.safe_load(Path(path.split(os.pathsep)[0]).read_text()) or {}
        context_name = wanted or config.get("current-context")
        context = next(c["context"] for c in config["contexts"] if c["name"] == context_name)
        cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
        return str(cluster["server"])
    except (OSError, yaml.YAMLError, KeyError, StopIteration, TypeError, AttributeError):
        return f"{path}#{wanted or ''}"


def target_description(environment: Environment) -> str:
    profile = environment.profile
    return " ".join(
        [
            f"kubernetes={_kubernetes_server(environment)}/{profile.kubernetes.namespace}",
            f"database={_endpoint(environment.variable('DATABASE_URL'))}",
            f"redis={_endpoint(environment.variable('REDIS_URL'))}",
            f"api={profile.api.base_url}",
        ]
    )


def target_key(environment: Environment) -> str:
    """A short stable key of the target; the same servers give the same key."""
    return hashlib.sha256(target_description(environment).encode()).hexdigest()[:16]
