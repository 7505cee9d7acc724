"""Wires the suite together: the plugin core, the runbook's sections, the shared fixtures
and every remediation fixture.

Sections (checks/<section>/ with a SECTION), and modules under fixtures/ and remediations/,
are discovered, so adding one needs no edit here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import checks
from opscheck import Section
from opscheck.plugin_modules import register_plugin_modules

_ROOT = Path(__file__).parent


def _modules(package: str) -> list[str]:
    return sorted(
        f"{package}.{path.stem}"
        for path in (_ROOT / package).glob("*.py")
        if not path.name.startswith("_")
    )


_SECTION_PLUGINS = [*_modules("fixtures"), *_modules("remediations")]

# opscheck.plugin is an installed pytest11 plugin (so its options parse early); naming it
# here too keeps a checkout without the entry point working, and is a no-op otherwise. The
# modules are registered by name, without pytest's entry-point scan per `pytest_plugins`
# entry (opscheck/plugin_modules.py).
_PLUGINS = ["opscheck.plugin", *_SECTION_PLUGINS]

# Section modules import each other (their fixtures use the shared clients); marking them
# all before any is imported keeps pytest from warning that one was imported too early.
pytest.register_assert_rewrite(*_SECTION_PLUGINS)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    register_plugin_modules(pluginmanager, _PLUGINS)


def pytest_opscheck_sections() -> list[Section]:
    """Every folder under checks/ that declares a SECTION is a runbook section."""
    return checks.sections()
