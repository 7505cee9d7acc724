"""Registering the suite's own plugin modules without pytest's entry-point scan.

pytest imports each name in a `pytest_plugins` list with `consider_entry_points=True`:
before importing the module it reads the entry points of every installed distribution,
to see whether the name is an installed plugin's. With about sixty plugin modules (the
core's, and every section's fixtures and remediations) that is sixty scans of the whole
environment per pytest session: a quarter of a second of a sweep's start-up, and as much
again for every in-process session. These modules are this project's own, never an
entry point's, so they are imported by name instead (`PytestPluginManager.import_plugin`
without entry points), from a `pytest_addhooks` hook: it runs when the module that lists
them is registered, before pytest would read that module's `pytest_plugins`.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest


def register_plugin_modules(
    pluginmanager: pytest.PytestPluginManager, names: Iterable[str]
) -> None:
    """Import and register each module in order, as `pytest_plugins` would; a module already
    registered (or blocked with `-p no:NAME`) is left as it is."""
    for name in names:
        pluginmanager.import_plugin(name)
