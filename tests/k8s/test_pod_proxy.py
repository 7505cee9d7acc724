"""The pod proxy subresource, reached by the real kubectl and the official Python client.

Each API pod gets a small real HTTP server of its own, registered the way the lab
supervisor registers its API processes (``POST /_lab/pod-backends``); its answers name
the pod, so a test sees which process the emulator forwarded to.
"""

from __future__ import annotations

import json
import threading
import urllib.error
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.k8s.support import NAMESPACE, Lab, wait_for


def pod_server(pod: str, log: Path) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            if self.path.startswith("/api/metrics"):
                body = f'http_requests_total{{pod="{pod}",query="{self.path}"}} 1\n'.encode()
                status, content_type = 200, "text/plain; version=0.0.4"
            else:
                body, status, content_type = b'{"error": "not found"}', 404, "application/json"
            with log.open("a") as handle:
                handle.write(json.dumps({"message": "request completed", "pod": pod}) + "\n")
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def api_pods(fresh: Lab, core: client.CoreV1Api, tmp_path: Path) -> Iterator[dict[str, int]]:
    """Ready API pod -> the port of the server that stands for it."""
    pods = sorted(
        p.metadata.name
        for p in core.list_namespaced_pod(NAMESPACE, label_selector="app=rolerabbit-api").items
    )
    servers = {pod: pod_server(pod, tmp_path / f"{pod}.jsonl") for pod in pods}
    ports = {pod: int(s.server_address[1]) for pod, s in servers.items()}
    backends = {pod: {"port": ports[pod], "log": str(tmp_path / f"{pod}.jsonl")} for pod in pods}
    fresh.post("/_lab/pod-backends", {"namespace": NAMESPACE, "pods": backends})
    yield ports
    fresh.post("/_lab/pod-backends", {"namespace": NAMESPACE, "pods": {}})
    for server in servers.values():
        server.shutdown()
        server.server_close()


def test_kubectl_get_raw_reaches_each_pods_own_process(
    fresh: Lab, api_pods: dict[str, int]
) -> None:
    for pod in api_pods:
        path = f"/api/v1/namespaces/{NAMESPACE}/pods/{pod}:3000/proxy/api/metrics?x=1"
        assert fresh.kubectl("get", "--raw", path).stdout.strip() == (
            f'http_requests_total{{pod="{pod}",query="/api/metrics?x=1"}} 1'
        )
    pod = next(iter(api_pods))
    by_name = f"/api/v1/namespaces/{NAMESPACE}/pods/{pod}:http/proxy/api/metrics"
    assert f'pod="{pod}"' in fresh.kubectl("get", "--raw", by_name).stdout
    no_port = f"/api/v1/namespaces/{NAMESPACE}/pods/{pod}/proxy/api/metrics"
    assert f'pod="{pod}"' in fresh.kubectl("get", "--raw", no_port).stdout


def test_python_client_reads_a_pods_metrics(
    core: client.CoreV1Api, api_pods: dict[str, int]
) -> None:
    pod = sorted(api_pods)[-1]
    text = core.connect_get_namespaced_pod_proxy_with_path(pod, NAMESPACE, "api/metrics")
    assert text.startswith(f'http_requests_total{{pod="{pod}",query="/api/metrics"}}')


def test_proxied_requests_fill_that_pods_log(
    fresh: Lab, core: client.CoreV1Api, api_pods: dict[str, int]
) -> None:
    first, second = sorted(api_pods)[:2]
    core.connect_get_namespaced_pod_proxy_with_path(first, NAMESPACE, "api/metrics")

    def logged(pod: str) -> str:
        return str(core.read_namespaced_pod_log(pod, NAMESPACE))

    wait_for(lambda: f'"pod": "{first}"' in logged(first), what="the pod's log line")
    assert '"pod": ' not in logged(second)


def test_proxy_errors_are_statuses(
    fresh: Lab, core: client.CoreV1Api, api_pods: dict[str, int]
) -> None:
    with pytest.raises(ApiException) as missing:
        core.connect_get_namespaced_pod_proxy_with_path("nosuch", NAMESPACE, "api/metrics")
    assert missing.value.status == 404 and 'pods \\"nosuch\\" not found' in missing.value.body
    workers = core.list_namespaced_pod(
        NAMESPACE, label_selector="app=rolerabbit-deployment-worker"
    ).items
    with pytest.raises(ApiException) as no_process:
        core.connect_get_namespaced_pod_proxy_with_path(
            workers[0].metadata.name, NAMESPACE, "api/metrics"
        )
    assert no_process.value.status == 503 and "has no process" in no_process.value.body
    pod = next(iter(api_pods))
    bad_port = f"/api/v1/namespaces/{NAMESPACE}/pods/{pod}:9999/proxy/api/metrics"
    result = fresh.kubectl("get", "--raw", bad_port, check=False)
    assert result.returncode != 0 and "has no port '9999'" in result.stderr
    answer = fresh.kubectl(
        "get", "--raw", f"/api/v1/namespaces/{NAMESPACE}/pods/{pod}/proxy/nope", check=False
    )
    # The pod's own 404 comes back as it answered it.
    assert answer.returncode != 0 and "(NotFound)" in answer.stderr, answer.stderr


def ready(core: client.CoreV1Api, pod: str) -> bool:
    conditions = core.read_namespaced_pod(pod, NAMESPACE).status.conditions or []
    return any(c.type == "Ready" and c.status == "True" for c in conditions)


def test_a_served_pod_is_ready_only_while_its_process_is_registered(
    fresh: Lab, core: client.CoreV1Api, api_pods: dict[str, int]
) -> None:
    """With a selector, the poster serves those pods: a pod without a process fails its
    readiness probe (not Ready, out of its Service's endpoints) until one is registered."""
    first, *rest = sorted(api_pods)
    backends = {pod: {"port": api_pods[pod]} for pod in rest}
    served = {"namespace": NAMESPACE, "selector": "app=rolerabbit-api", "pods": backends}
    fresh.post("/_lab/pod-backends", served)
    wait_for(lambda: not ready(core, first), what=f"{first} to turn not Ready")
    assert all(ready(core, pod) for pod in rest)
    endpoints = core.read_namespaced_endpoints("rolerabbit-api", NAMESPACE)
    addressed = {a.target_ref.name for s in endpoints.subsets or [] for a in s.addresses or []}
    assert first not in addressed and set(rest) <= addressed
    worker = core.list_namespaced_pod(NAMESPACE, label_selector="app=rolerabbit-deployment-worker")
    assert all(ready(core, p.metadata.name) for p in worker.items)  # not selected: untouched
    backends[first] = {"port": api_pods[first]}
    fresh.post("/_lab/pod-backends", served)
    wait_for(lambda: ready(core, first), what=f"{first} to turn Ready again")


def test_a_selector_that_does_not_parse_is_refused(fresh: Lab) -> None:
    body = {"namespace": NAMESPACE, "selector": "app in (", "pods": {}}
    with pytest.raises(urllib.error.HTTPError) as refused:
        fresh.post("/_lab/pod-backends", body)
    assert (
        refused.value.code == 400 and "unable to parse requirement" in refused.value.read().decode()
    )
