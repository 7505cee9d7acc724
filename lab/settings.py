"""Where the lab keeps its state and which ports it listens on.

Every port and rate is configurable (CLI flags or `LAB_*` environment
variables); `lab up` stores the effective values in `<state dir>/settings.json`
so later commands (`status`, `inject`, `down`) talk to the same lab.

Default ports stay clear of the standard ones (PostgreSQL 5432, Redis 6379,
an app's 3000) so a system PostgreSQL or Redis is never touched, and below Linux's
ephemeral range (32768-60999): a port in it can be held for a minute by any outgoing
connection that drew it (in TIME_WAIT), which on a busy machine made `lab up` fail:

    postgres 25432   redis 26379   api 23000   thirdparty 23100   kubernetes 26443
    prometheus 29090   pushgateway 29091   alertmanager 29093
    receiver 29095 (the stand-in for Slack and PagerDuty that Alertmanager posts to)
    registry 25000 (the image registry standing in for ghcr.io)
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from lab.errors import LabError

# Ports a service listens on, in start order; used for pre-flight checks and messages.
PORT_FIELDS: dict[str, str] = {
    "postgres_port": "postgres",
    "redis_port": "redis",
    "registry_port": "registry",
    "api_port": "api",
    "thirdparty_port": "thirdparty",
    "k8s_port": "kubernetes",
    "prometheus_port": "prometheus",
    "pushgateway_port": "pushgateway",
    "alertmanager_port": "alertmanager",
    "receiver_port": "receiver",
}

# The short names of the port settings (`api` for api_port): flags, env variables, tests.
PORT_NAMES = tuple(attr.removesuffix("_port") for attr in PORT_FIELDS)

NAMESPACE = "rolerabbit-production"
QUEUE_NAME = "deployment"
DATABASE = "rolerabbit"
# How often the lab's metrics.k8s.io measures (metrics-server's --metric-resolution, 15 s by
# default): a second, so that ERR-104's and PERF-102's samples a second apart are distinct
# measurements and the lab's sweeps judge within seconds. The metric-resolution hook sets
# metrics-server's 15 s for a test of how the suite handles it.
METRIC_RESOLUTION_S = 1.0


@dataclass
class LabSettings:
    """The effective configuration of one lab, persisted in its state dir."""

    state_dir: Path
    postgres_port: int = 25432
    redis_port: int = 26379
    registry_port: int = 25000
    api_port: int = 23000
    thirdparty_port: int = 23100
    k8s_port: int = 26443
    prometheus_port: int = 29090
    pushgateway_port: int = 29091
    alertmanager_port: int = 29093
    receiver_port: int = 29095  # the Slack / PagerDuty stand-in Alertmanager posts to
    producer_rate: float = 2.0  # jobs per second
    load_rate: float = 10.0  # API requests per second
    static_workers: int = 2  # worker processes when no Kubernetes emulator runs
    kubernetes: bool = True  # start the emulator and the pod->worker bridge
    # A private lab's owner (lab/testing.py): when that process is gone (its pid no longer
    # runs, or runs another program started later), the supervisor stops the lab and
    # removes its state dir, so a test run that was killed leaves nothing running.
    owner_pid: int = 0  # 0: no owner (`lab up`); the lab runs until `lab down`
    owner_started: float = 0.0  # the owner's start time (epoch seconds), against pid reuse

    @property
    def settings_file(self) -> Path:
        return self.state_dir / "settings.json"

    def save(self) -> None:
        data = asdict(self)
        data["state_dir"] = str(self.state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.settings_file.write_text(json.dumps(data, indent=2) + "\n")

    @classmethod
    def load(cls, state_dir: Path) -> LabSettings:
        """Settings saved by `lab up`, or defaults when the lab never ran there."""
        path = state_dir / "settings.json"
        if not path.exists():
            return cls(state_dir=state_dir)
        data = json.loads(path.read_text())
        known = {f.name for f in fields(cls)}
        data = {k: v for k, v in data.items() if k in known}
        data["state_dir"] = state_dir
        return cls(**data)

    def with_overrides(self, overrides: dict[str, object]) -> LabSettings:
        """A copy with non-None overrides applied (flags beat env beat saved values)."""
        data = asdict(self)
        data["state_dir"] = self.state_dir
        data.update({k: v for k, v in overrides.items() if v is not None})
        return LabSettings(**data)

    def ports(self) -> dict[str, int]:
        """Service name -> port, for every port the lab listens on."""
        result = {svc: int(getattr(self, attr)) for attr, svc in PORT_FIELDS.items()}
        if not self.kubernetes:
            result.pop("kubernetes")
        return result


def repo_root() -> Path:
    """The repository this package lives in (lab/ sits at its top)."""
    return Path(__file__).resolve().parent.parent


def default_state_dir() -> Path:
    """`LAB_STATE_DIR`, else `.lab/` in the repository root."""
    env = os.environ.get("LAB_STATE_DIR")
    return Path(env).resolve() if env else repo_root() / ".lab"


def env_overrides() -> dict[str, object]:
    """`LAB_POSTGRES_PORT`-style environment overrides for every setting.

    `lab up` applies them over the saved settings; its flags beat them.
    """
    result: dict[str, object] = {}
    for f in fields(LabSettings):
        if f.name == "state_dir":
            continue
        raw = os.environ.get(f"LAB_{f.name.upper()}")
        if raw is None:
            continue
        if f.type == "bool":
            result[f.name] = raw.lower() in {"1", "true", "yes", "on"}
            continue
        try:
            result[f.name] = float(raw) if f.type == "float" else int(raw)
        except ValueError:
            kind = "an integer" if f.type == "int" else "a number"
            variable = f"LAB_{f.name.upper()}"
            raise LabError(
                f"{variable}={raw!r} is not {kind}: unset it, or set it like "
                f"{variable}={getattr(LabSettings, f.name)}"
            ) from None
    return result
