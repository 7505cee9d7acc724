"""What the tests of scheduled sweeps share (the Lease's and the resident sweeper's)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from lab.testing import LabHandle


def layered_profile(where: Path, lab: LabHandle, overrides: dict[str, Any]) -> Path:
    base = yaml.safe_load(lab.profile_path.read_text())["profiles"]["lab"]
    for key, value in overrides.items():
        base[key] = {**(base.get(key) or {}), **value}
    path = where / "profiles.yaml"
    path.write_text(yaml.safe_dump({"profiles": {"lab-test": base}}))
    return path
