"""The deployment sweep reads each resource type once (paginated), whatever the pod count.

Counted on the emulator's side (GET /_lab/stats, reset before the run). The lab's own
emulator also serves the lab's pod-to-worker bridge, which polls pods, so the count runs
against a private emulator with the same seed, where every request is the suite's. The
profile is named `private`, not `lab`: a `lab` profile always takes the lab's own secrets. Every
check of the section shares the session snapshot: 10 or 1,000 pods cost the same LISTs,
only more pages of pods (and of the events they left); no object is ever fetched on its own.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.k8s.kubeconfig import write_kubeconfig
from lab.k8s.server import start_emulator
from lab.testing import LabHandle
from tests.deployment.deployment_support import (
    API,
    CORE,
    WORKER,
    PrivateEmulator,
    Run,
    private_profile,
    statuses,
    wait_until,
    without_lease,
)

PAGE = 500
PREFIX = "dep-sweep"


@pytest.fixture
def private(
    lab: LabHandle, open_registry: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[PrivateEmulator, list[str]]]:
    """A seeded emulator of our own, and a registry without auth holding the lab's tags;
    KUBECONFIG and the profile's registry_endpoints point at them."""
    with start_emulator(pod_startup_seconds=0.2) as server:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", server.url)
        monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
        view = PrivateEmulator(server.url)
        wait_until(lambda: view.rolled_out(API) and view.rolled_out(WORKER), 30, "seeded pods")
        yield view, private_profile(tmp_path, open_registry)


@pytest.mark.parametrize("total", [10, 1000])
def test_deployment_sweep_lists_each_type_once(
    run_checks: Run, private: tuple[PrivateEmulator, list[str]], total: int
) -> None:
    emulator, profile = private
    present = len(emulator.call("GET", f"{CORE}/pods")["items"])
    emulator.hook(
        "seed-pods",
        {"count": total - present, "namespace": "rolerabbit-production", "prefix": PREFIX},
    )
    assert len(emulator.call("GET", f"{CORE}/pods")["items"]) == total
    emulator.reset_stats()
    result = run_checks("-m", "deployment", *profile)
    assert set(statuses(result).values()) == {"passed"}, result.stdout
    stats = emulator.stats()
    events = len(emulator.call("GET", f"{CORE}/events")["items"])  # each pod leaves some
    pages = math.ceil(total / PAGE)
    assert stats.pop("list pods") == pages
    assert 1 <= stats.pop("list pods.metrics.k8s.io") <= pages
    # Starting pods keep adding events, so the sweep saw at most as many as there are now.
    assert 1 <= stats.pop("list events") <= max(1, math.ceil(events / PAGE))
    # Secrets by name, never listed (the two the profile and the Deployments name).
    assert without_lease(stats) == {
        "get secrets": 2,
        "list configmaps": 1,
        "list deployments": 1,
        "list nodes": 1,
        "list replicasets": 1,
    }


def test_deployment_sweep_fails_in_one_line_when_the_api_is_unreachable(
    run_checks: Run, lab: LabHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", "http://127.0.0.1:9")
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    timeouts = {"connect_s": 1, "read_s": 1}
    args = private_profile(tmp_path, "http://127.0.0.1:9/", timeouts=timeouts)
    result = run_checks("-m", "deployment", *args)
    assert set(statuses(result).values()) == {"failed"}
    out = result.stdout
    assert (
        "[DEP-101] cannot reach the Kubernetes API at http://127.0.0.1:9 (connection refused)"
        in (out)
    )
    assert "Traceback" not in out


def test_deployment_registry_unreachable_leaves_the_image_check_inconclusive_only(
    run_checks: Run, private: tuple[PrivateEmulator, list[str]], tmp_path: Path
) -> None:
    result = run_checks(
        "-k", "DEP-105 or DEP-101", *private_profile(tmp_path, "http://127.0.0.1:9")
    )
    got = statuses(result)
    assert got[f"DEP-101[{API}]"] == "passed"
    assert got[f"DEP-105[{API}]"] == "inconclusive", result.stdout
    assert (
        "[DEP-105] inconclusive: cannot tell whether ghcr.io/rolerabbit/app:v1.2.3 exists: "
        "registry ghcr.io (http://127.0.0.1:9) unreachable (connection refused) — is "
        "deployment.registry_endpoints right for this host?" in result.stdout
    )
    assert "Traceback" not in result.stdout
