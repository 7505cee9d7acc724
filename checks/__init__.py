"""The runbook's sections: one folder each, holding its settings, model, rules and checks.

`sections()` finds them: every folder here whose package declares a `SECTION`.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from opscheck import Section


def sections() -> list[Section]:
    """Every runbook section of the suite, in folder-name order."""
    found = []
    for path in sorted(Path(__file__).parent.glob("*/__init__.py")):
        module = importlib.import_module(f"{__name__}.{path.parent.name}")
        declared = getattr(module, "SECTION", None)
        if isinstance(declared, Section):
            found.append(declared)
    return found
