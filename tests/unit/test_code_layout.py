"""The code's layout rules that import-linter cannot state: tests stand alone, and every
section is one folder the suite discovers."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import checks
from opscheck.settings import profile_model

ROOT = Path(__file__).resolve().parents[2]


def _imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_no_test_module_imports_another():
    offenders = []
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        for module in _imported_modules(path):
            if module.startswith("tests.") and module.rsplit(".", 1)[-1].startswith("test_"):
                offenders.append(f"{path.relative_to(ROOT)} imports {module}")
    assert offenders == [], "move what they share into a *_support.py module"


def test_every_section_folder_is_discovered_with_its_settings():
    folders = sorted(p.parent.name for p in (ROOT / "checks").glob("*/__init__.py"))
    found = {s.marker: s for s in checks.sections()}
    assert sorted(found) == folders
    for marker, section in found.items():
        items = ROOT / "checks" / marker / "test_checks.py"
        assert section.settings is not None or not items.exists(), marker
    model = profile_model(found.values())
    keys = {k: kind for s in found.values() for k, kind in s.settings_keys.items()}
    assert set(keys) <= set(model.model_fields)
    # Each section's settings, and each part it keeps apart, are reached one way: by type.
    profile = model()
    for kind in keys.values():
        assert profile.section(kind) == kind()


def test_a_profile_key_declared_twice_is_refused():
    from opscheck import Section, Severity
    from opscheck.settings.base import Settings

    class Part(Settings):
        limit: int = 1

    one = Section("one", "One", "one", Severity.LOW, "1 h", "1 d", Part)
    two = Section("two", "Two", "two", Severity.LOW, "1 h", "1 d", more_settings=(("one", Part),))
    with pytest.raises(
        ValueError, match=r"^profile key 'one' is declared twice \(section 'two'\)$"
    ):
        profile_model([one, two])
    kept = profile_model([two]).model_validate({"one": {"limit": 5}})
    assert kept.section(Part) == Part(limit=5)
