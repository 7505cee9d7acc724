"""`GET /_lab/stats/access`: each client's requests as RBAC names them, API group and
subresource included, so the suite's requests can be held to a Role's rules."""

from __future__ import annotations

import urllib.request

from kubernetes import client

from tests.k8s.support import NAMESPACE, Lab

AGENT = "rolerabbit-opscheck/1"
APPS = f"/apis/apps/v1/namespaces/{NAMESPACE}"


def raw(lab: Lab, path: str, agent: str) -> int:
    """GET `path` as `agent`; its status (bodies differ: JSON, a pod's log text)."""
    request = urllib.request.Request(lab.url + path, headers={"User-Agent": agent})
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()
        return int(response.status)


def test_access_names_the_group_and_the_subresource(fresh: Lab, core: client.CoreV1Api) -> None:
    fresh.post("/_lab/stats/reset")
    raw(fresh, f"{APPS}/deployments", agent=AGENT)
    raw(fresh, f"{APPS}/deployments/rolerabbit-api/scale", agent=AGENT)
    raw(fresh, f"/apis/metrics.k8s.io/v1beta1/namespaces/{NAMESPACE}/pods", agent=AGENT)
    pod = core.list_namespaced_pod(NAMESPACE).items[0].metadata.name
    raw(fresh, f"/api/v1/namespaces/{NAMESPACE}/pods/{pod}/log", agent=AGENT)
    raw(fresh, f"/api/v1/namespaces/{NAMESPACE}/secrets/regcred", agent=AGENT)
    raw(fresh, f"/apis/rbac.authorization.k8s.io/v1/namespaces/{NAMESPACE}/roles", agent=AGENT)
    assert fresh.get("/_lab/stats/access?agent=rolerabbit-opscheck") == {
        "get deployments.apps/scale": 1,
        "get pods/log": 1,
        "get secrets": 1,
        "list deployments.apps": 1,
        "list pods.metrics.k8s.io": 1,
        "list roles.rbac.authorization.k8s.io": 1,
    }
    # Every client's, the test's own client (kubernetes' Python client) among them.
    assert fresh.get("/_lab/stats/access")["list pods"] == 1
    # The plain counts keep their names (no group for the core and apps APIs).
    assert fresh.get("/_lab/stats?agent=rolerabbit-opscheck")["list deployments"] == 1
    fresh.post("/_lab/stats/reset")
    assert fresh.get("/_lab/stats/access") == {}
