"""`pytest --catalogue`: a readable table of the selected checks instead of running them."""

from __future__ import annotations

import pytest

from opscheck.catalogue import CheckSpec
from opscheck.keys import SPEC
from opscheck.rendering import manual_steps


class CatalogueView:
    def __init__(self) -> None:
        self.specs: dict[str, CheckSpec] = {}

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:
            spec = item.stash.get(SPEC, None)
            if spec is not None:
                self.specs.setdefault(spec.id, spec)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool:
        return True  # list, don't run

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        rows = [("ID", "SECTION", "SEVERITY", "TITLE", "REMEDIATION")]
        for spec in sorted(self.specs.values(), key=lambda s: s.id):
            rem = spec.remediation
            fix = f"{rem.id} {rem.title}" if rem else "manual: " + manual_steps(spec)[0]
            if rem and rem.destructive:
                fix += " [destructive]"
            rows.append((spec.id, spec.section.marker, spec.severity.value, spec.title, fix))
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        tr = terminalreporter
        tr.write_sep("=", f"catalogue: {len(self.specs)} checks")
        for row in rows:
            cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:4])]
            tr.write_line("  ".join([*cells, row[4]]).rstrip())
