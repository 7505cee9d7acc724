"""Shared pieces of deploy/'s tests: the generator script as a module."""

from __future__ import annotations

from functools import cache
from importlib.machinery import SourceFileLoader
from importlib.util import module_from_spec, spec_from_loader
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts/deploy-generate"


@cache
def generator() -> ModuleType:
    """scripts/deploy-generate as a module (it has no .py suffix to import it by)."""
    loader = SourceFileLoader("deploy_generate", str(SCRIPT))
    spec = spec_from_loader(loader.name, loader)
    assert spec is not None
    module = module_from_spec(spec)
    loader.exec_module(module)
    return module
