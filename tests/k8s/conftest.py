"""Fixtures for the emulator's tests: one emulator per test module, real clients.

The emulator runs in-process on a free port with short delays (see
``support.FAST``) so controller behaviour happens within a second or two.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client

from lab.k8s.kubeconfig import write_kubeconfig
from lab.k8s.server import start_emulator
from tests.k8s.support import FAST, Lab, api_client, seeded_ready, wait_for


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    emulator = start_emulator(**FAST)  # type: ignore[arg-type]
    kubeconfig = write_kubeconfig(tmp_path_factory.mktemp("kube") / "config", emulator.url)
    with emulator:
        yield Lab(emulator, kubeconfig)


@pytest.fixture(scope="module")
def api(emulator: Lab) -> Iterator[client.ApiClient]:
    with api_client(emulator.kubeconfig) as api_client_:
        yield api_client_


@pytest.fixture(scope="module")
def core(api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)


@pytest.fixture(scope="module")
def apps(api: client.ApiClient) -> client.AppsV1Api:
    return client.AppsV1Api(api)


@pytest.fixture
def fresh(emulator: Lab, apps: client.AppsV1Api) -> Lab:
    """A freshly seeded cluster whose deployments are fully available."""
    emulator.reset()
    wait_for(lambda: seeded_ready(apps), what="seeded deployments to become available")
    return emulator
