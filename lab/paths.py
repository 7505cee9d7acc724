"""The layout of a lab's state directory: every file the lab writes lives here.

settings.json      effective ports and rates (written by `lab up`)
secrets.json       generated passwords and the Kubernetes token (mode 0600)
supervisor.pid     the long-lived supervisor daemon
control.json       its control API address and token
pids/<svc>.json    one record per child process (pid, start time)
logs/<svc>.log     each process's stdout/stderr
logs/api/<pod>.jsonl      each API pod process's JSON request log (served as that pod's logs)
api-backends.json  the API pod processes' ports, for the balancer on api_port
switches.json      fault switches read by the API, worker and third-party stand-ins
faults.json        the faults currently injected
postgres/data      PostgreSQL's data dir (or a symlink, see services/postgres.py)
redis/             Redis's working dir
env, profile.yaml, kubeconfig   what the suite and an operator use
profiles.yaml      the lab's profile under other names (lab env --profile NAME)
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class StatePaths:
    root: Path

    @property
    def settings(self) -> Path:
        return self.root / "settings.json"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets.json"

    @property
    def supervisor_pid(self) -> Path:
        return self.root / "supervisor.pid"

    @property
    def control(self) -> Path:
        return self.root / "control.json"

    @property
    def startup_error(self) -> Path:
        return self.root / "startup-error.txt"

    @property
    def pids(self) -> Path:
        return self.root / "pids"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def api_logs(self) -> Path:
        return self.logs / "api"

    def api_log(self, pod: str) -> Path:
        """The JSON request log of the API process that plays `pod`."""
        return self.api_logs / f"{pod}.jsonl"

    @property
    def api_backends(self) -> Path:
        return self.root / "api-backends.json"

    @property
    def switches(self) -> Path:
        return self.root / "switches.json"

    @property
    def faults(self) -> Path:
        return self.root / "faults.json"

    @property
    def postgres(self) -> Path:
        return self.root / "postgres"

    @property
    def redis(self) -> Path:
        return self.root / "redis"

    @property
    def registry(self) -> Path:
        """The image registry's config, htpasswd and storage (registry/storage/)."""
        return self.root / "registry"

    @property
    def env(self) -> Path:
        return self.root / "env"

    @property
    def profile(self) -> Path:
        return self.root / "profile.yaml"

    @property
    def named_profiles(self) -> Path:
        return self.root / "profiles.yaml"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def pidfile(self, name: str) -> Path:
        return self.pids / f"{name}.json"

    def ensure(self) -> None:
        for directory in (self.root, self.pids, self.logs, self.redis):
            directory.mkdir(parents=True, exist_ok=True)


def remove_state(state_dir: Path) -> None:
    """Delete a stopped private lab's state dir, and its PostgreSQL data where that lives
    elsewhere (a symlink from the state dir)."""
    data = StatePaths(state_dir).postgres / "data"
    if data.is_symlink():
        shutil.rmtree(data.resolve().parent, ignore_errors=True)
    shutil.rmtree(state_dir, ignore_errors=True)
