"""The errors/performance live tests run against the session's lab with its env exported."""

from __future__ import annotations

import pytest

from lab.testing import LabHandle
from tests.errors.errors_support import Cluster, use_lab_env


@pytest.fixture(autouse=True)
def _lab_env(lab: LabHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    use_lab_env(lab, monkeypatch)


@pytest.fixture(scope="session")
def cluster(lab: LabHandle) -> Cluster:
    return Cluster(lab)
