"""Loading the profiles file and choosing a profile, with errors a person can act on.

Bad configuration stops the run before any check: one message per problem, each naming the
file, the key and what is expected. The caller turns ConfigError into pytest's usage error.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from opscheck.redaction import mask_passwords
from opscheck.settings import Profile, profiles_file_model

DEFAULT_FILE = "rolerabbit.yaml"
LAB = "lab"
# The profiles `lab up` writes into the lab's state directory: the lab itself, and the lab
# with the errors and performance checks reading its Prometheus, and the lab sending alerts to
# its Alertmanager and metrics to its Pushgateway.
LAB_PROFILES = (LAB, "lab-prometheus", "lab-alerting")


def is_lab(name: str) -> bool:
    return name in LAB_PROFILES


class ConfigError(Exception):
    """Invalid configuration; the message is ready to show as is."""


def default_config_path(rootdir: Path) -> Path:
    return Path(os.environ.get("ROLERABBIT_CONFIG") or rootdir / DEFAULT_FILE)


def lab_state_dir(rootdir: Path) -> Path:
    return Path(os.environ.get("LAB_STATE_DIR") or rootdir / ".lab")


def _describe(error: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required value is missing"
    got = error.get("input")
    # The value is echoed to help; a URL in it may hold a password, which it must not echo.
    return f"{error['msg'].lower()} (got {mask_passwords(repr(got))})"


def _dotted(location: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in location) or "(top level)"


def read_profiles(path: Path, model: type[Profile]) -> dict[str, Profile]:
    """Parse and validate a profiles file; every problem is named in the ConfigError."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the profiles file ({exc.strerror})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}:{where}: {problem}") from None
    if raw is None:
        raw = {"profiles": {}}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with a 'profiles' key at the top level")
    try:
        return profiles_file_model(model).model_validate(raw).profiles
    except ValidationError as exc:
        lines = [f"{path}: {_dotted(e['loc'])}: {_describe(e)}" for e in exc.errors()]
        raise ConfigError("invalid configuration\n" + "\n".join(lines)) from None


def available_profiles(
    config_path: Path, model: type[Profile], *, explicit: bool
) -> dict[str, Profile]:
    """The profiles in the file; a missing default file just means 'no profiles yet'."""
    if config_path.exists():
        return read_profiles(config_path, model)
    if explicit:
        raise ConfigError(f"{config_path}: profiles file not found (given with --config)")
    return {}


def choose(
    name: str,
    profiles: dict[str, Profile],
    config_path: Path,
    state_dir: Path,
    model: type[Profile],
) -> tuple[Profile, str | None]:
    """The named profile, plus a problem to report per check if it cannot be used yet.

    The lab's profiles (`lab`, `lab-prometheus`), unless the file defines them, are the ones
    `lab up` writes into the lab's state directory; a lab that is not running is a per-check
    failure, not a usage error, so the suite's own tests and `--catalogue` still work
    without it.
    """
    if name in profiles:
        return profiles[name], None
    if not is_lab(name):
        known = ", ".join(sorted({*profiles, *LAB_PROFILES}))
        raise ConfigError(f"{config_path}: unknown profile {name!r} (--env); known: {known}")
    lab_file = state_dir / "profile.yaml"
    if not lab_file.exists():
        return model(), (
            f"the lab is not running: {lab_file} does not exist — start it with "
            f"`.venv/bin/lab up`, or choose another profile with --env"
        )
    lab_profiles = read_profiles(lab_file, model)
    if name not in lab_profiles:
        raise ConfigError(
            f"{lab_file}: profiles.{name}: required value is missing (restart the lab: "
            "`lab down` then `lab up` writes every lab profile)"
        )
    return lab_profiles[name], None
