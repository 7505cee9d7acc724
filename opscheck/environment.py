"""The environment a run targets: the chosen profile plus its secrets.

Secrets come only from environment variables. For the `lab` profile they come from the lab's
own env file (what `lab env` prints), and that file wins over the shell, so a shell that
still has production's DATABASE_URL exported can never make a lab run touch production.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from opscheck.findings import DependencyUnavailable
from opscheck.settings import Profile

SECRET_VARIABLES = ("DATABASE_URL", "DATABASE_FIXER_URL", "REDIS_URL", "KUBECONFIG")
HINTS = {
    "DATABASE_URL": "export DATABASE_URL=postgresql://USER:PASSWORD@HOST:5432/DB",
    "DATABASE_FIXER_URL": "export DATABASE_FIXER_URL for the fixer role (see README)",
    "REDIS_URL": "export REDIS_URL=redis://:PASSWORD@HOST:6379/0",
    "KUBECONFIG": "export KUBECONFIG=/path/to/kubeconfig",
}


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines (an optional `export ` prefix and quotes are accepted)."""
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


@dataclass(frozen=True)
class Environment:
    """A profile ready to use, or the one reason it cannot be used."""

    name: str
    profile: Profile
    problem: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def build(
        cls, name: str, profile: Profile, problem: str | None, lab_env_file: Path | None
    ) -> Environment:
        variables = dict(os.environ)
        if lab_env_file is not None:
            variables.update(read_env_file(lab_env_file))
        return cls(name, profile, problem, variables)

    def require_usable(self) -> None:
        if self.problem:
            raise DependencyUnavailable("environment", self.name, "not usable", self.problem)

    def require(self, component: str) -> None:
        """Skip the requesting check when the profile declares `component` absent."""
        __tracebackhide__ = True
        if component in self.profile.absent:
            pytest.skip(f"profile {self.name!r} declares {component} absent (`absent:` setting)")

    def variable(self, name: str, default: str | None = None) -> str | None:
        return self.variables.get(name, default)

    def secret(self, name: str, fallback: str | None = None) -> str:
        """A secret variable's value, or a clear failure saying how to provide it."""
        self.require_usable()
        value = self.variables.get(name) or (self.variables.get(fallback) if fallback else None)
        if not value:
            raise DependencyUnavailable(
                name, f"profile {self.name}", f"{name} is not set", HINTS.get(name, "set it")
            )
        return value

    def secret_variables(self) -> dict[str, str]:
        return {k: v for k, v in self.variables.items() if k in SECRET_VARIABLES}
