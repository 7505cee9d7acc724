"""Shared pieces of deploy/'s tests: the generator script as a module, and a lab without
the suite's NetworkPolicy blocks before and after a test that makes some."""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import cache
from importlib.machinery import SourceFileLoader
from importlib.util import module_from_spec, spec_from_loader
from pathlib import Path
from types import ModuleType

import pytest

from lab.testing import LabHandle
from tests.deployment.deployment_support import Emulator

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts/deploy-generate"
POLICIES = "/apis/networking.k8s.io/v1/namespaces/rolerabbit-production/networkpolicies"
OURS = "labelSelector=app.kubernetes.io%2Fmanaged-by%3Drolerabbit-opscheck"
ENFORCED_S = 3.0  # the lab's API balancer re-reads the policies every second


@cache
def generator() -> ModuleType:
    """scripts/deploy-generate as a module (it has no .py suffix to import it by)."""
    loader = SourceFileLoader("deploy_generate", str(SCRIPT))
    spec = spec_from_loader(loader.name, loader)
    assert spec is not None
    module = module_from_spec(spec)
    loader.exec_module(module)
    return module


@pytest.fixture
def without_blocks(lab: LabHandle) -> Iterator[Emulator]:
    """The lab's emulator, with no block of the suite's before and after the test."""
    emulator = Emulator(lab)

    def clear() -> None:
        for policy in emulator.call("GET", f"{POLICIES}?{OURS}")["items"]:
            emulator.call("DELETE", f"{POLICIES}/{policy['metadata']['name']}")
        time.sleep(ENFORCED_S)

    clear()
    yield emulator
    clear()
