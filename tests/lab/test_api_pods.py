"""One real API process per Ready API pod, a round-robin balancer on api_port, the pod
proxy reaching each process, and API faults on one pod only."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from lab.errors import LabError
from lab.settings import NAMESPACE
from lab.testing import LabHandle
from tests.lab.helpers import get_json, pod_urls, wait_until

Inject = Callable[..., dict[str, Any]]
KUBECTL = sys.executable.rsplit("/", 1)[0] + "/kubectl"


def kubectl(lab: LabHandle, *args: str) -> str:
    result = subprocess.run(
        [KUBECTL, "--kubeconfig", lab.env["KUBECONFIG"], "-n", NAMESPACE, *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def ready_api_pods(lab: LabHandle) -> set[str]:
    out = kubectl(lab, "get", "pods", "-l", "app=rolerabbit-api", "-o", "name")
    return {line.removeprefix("pod/") for line in out.split()}


def proxied(lab: LabHandle, pod: str, path: str) -> str:
    return kubectl(
        lab, "get", "--raw", f"/api/v1/namespaces/{NAMESPACE}/pods/{pod}:3000/proxy{path}"
    )


def five_xx(text: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "http_requests_total" and s.labels["status"].startswith("5")
    )


def test_each_ready_api_pod_is_a_process_reached_by_the_pod_proxy(lab: LabHandle) -> None:
    pods = pod_urls(lab.status())
    assert set(pods) == ready_api_pods(lab) and len(set(pods.values())) == 3
    for pod in pods:
        assert f'"pod": "{pod}"' in proxied(lab, pod, "/health")
        assert "http_requests_total" in proxied(lab, pod, "/api/metrics")
    seen: set[str] = set()
    balancer = lab.env["ROLERABBIT_API_URL"]

    # The balancer's turn is shared with the load generator, whose fixed rate can keep a
    # fixed-interval poller on the same pod; back-to-back requests step through the turn.
    def every_pod_answered() -> bool:
        for _ in pods:
            seen.add(get_json(f"{balancer}/health")["pod"])
        return seen == set(pods)

    wait_until(every_pod_answered, 10, "the balancer to send requests to every pod")


def test_a_reset_keeps_the_pods_and_their_logs_unless_a_fault_came_since(
    lab: LabHandle, fault: Inject
) -> None:
    lab.reset()
    pod = sorted(pod_urls(lab.status()))[0]
    logged = kubectl(lab, "logs", pod).splitlines()[-1]  # each line has its own timestamp
    lab.reset()  # nothing since the last: the same pods, their logs kept
    assert sorted(pod_urls(lab.status()))[0] == pod
    assert logged in kubectl(lab, "logs", pod).splitlines()
    fault("queue-paused")
    lab.reset()  # a fault since: what the pods logged under it goes
    assert sorted(pod_urls(lab.status()))[0] == pod
    assert logged not in kubectl(lab, "logs", pod).splitlines()


def test_api_error_rate_on_the_first_pod_only(lab: LabHandle, fault: Inject) -> None:
    pods = pod_urls(lab.status())
    first = sorted(pods)[0]
    before = {pod: five_xx(proxied(lab, pod, "/api/metrics")) for pod in pods}
    result = fault("api-error-rate", share=0.3, pod="first")
    assert f"to API pod {first} now fail with 502" in result["note"], result
    after = {pod: five_xx(proxied(lab, pod, "/api/metrics")) for pod in pods}
    assert after[first] - before[first] >= 16
    assert {pod: after[pod] - before[pod] for pod in pods if pod != first} == {
        pod: 0.0 for pod in pods if pod != first
    }


def test_a_pod_param_that_is_not_a_ready_api_pod_names_them(lab: LabHandle) -> None:
    with pytest.raises(LabError) as info:
        lab.inject("api-error-rate", share=0.3, pod="nosuch")
    message = str(info.value)
    assert "--param pod=nosuch is not a Ready API pod" in message
    assert all(pod in message for pod in pod_urls(lab.status()))
    assert lab.status()["faults"] == {}


def test_scaling_the_api_changes_its_processes(lab: LabHandle) -> None:
    kubectl(lab, "scale", "deployment/rolerabbit-api", "--replicas", "1")
    try:
        wait_until(lambda: len(pod_urls(lab.status())) == 1, 20, "one API process")
        assert set(pod_urls(lab.status())) == ready_api_pods(lab)
    finally:
        kubectl(lab, "scale", "deployment/rolerabbit-api", "--replicas", "3")
    wait_until(lambda: len(pod_urls(lab.status())) == 3, 20, "three API processes again")
    kubectl(lab, "rollout", "status", "deployment/rolerabbit-api", "--timeout", "30s")


def test_a_rollout_is_done_only_once_its_new_pods_processes_answer(lab: LabHandle) -> None:
    """A new pod turns Ready only once its process serves, as a readiness probe makes it:
    whatever trusts `rollout status` (the suite's fixes, the next test) reaches every pod."""
    before = ready_api_pods(lab)
    kubectl(lab, "rollout", "restart", "deployment/rolerabbit-api")
    kubectl(lab, "rollout", "status", "deployment/rolerabbit-api", "--timeout", "60s")
    ready = kubectl(
        lab,
        "get",
        "pods",
        "-l",
        "app=rolerabbit-api",
        "-o",
        "jsonpath={range .items[?(@.status.containerStatuses[0].ready==true)]}"
        "{.metadata.name}{'\\n'}{end}",
    ).split()
    assert len(ready) == 3 and not before & set(ready), (before, ready)
    for pod in ready:  # at once: no wait between the rollout and the requests
        assert f'"pod": "{pod}"' in proxied(lab, pod, "/health")
