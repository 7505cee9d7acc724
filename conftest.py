"""Loads the plugin core, the shared client fixtures and every remediation fixture.

Modules under fixtures/ and remediations/ are discovered, so adding one needs no edit here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

_ROOT = Path(__file__).parent


def _modules(package: str) -> list[str]:
    return sorted(
        f"{package}.{path.stem}"
        for path in (_ROOT / package).glob("*.py")
        if not path.name.startswith("_")
    )


pytest_plugins = ["opscheck.plugin", *_modules("fixtures"), *_modules("remediations")]

# Plugin modules import each other (a section's fixtures use the shared clients); marking
# them all before any is imported keeps pytest from warning that one was imported too early.
pytest.register_assert_rewrite(*pytest_plugins)
