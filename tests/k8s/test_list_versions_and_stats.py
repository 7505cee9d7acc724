"""LIST resourceVersion semantics, and request counts by client and by how a LIST was served.

`resourceVersion=0` ("any version": a real API server answers it from its watch cache)
returns every object, paged as without it; the combinations a real server refuses are
400s. /_lab/stats counts each request under its client's User-Agent product, so a count
can leave out the lab's own background clients.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from kubernetes import client

from tests.k8s.support import NAMESPACE, Lab

PODS = f"/api/v1/namespaces/{NAMESPACE}/pods"


def raw(lab: Lab, path: str, agent: str | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(lab.url + path)
    if agent is not None:
        request.add_header("User-Agent", agent)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def names(listing: dict[str, Any]) -> list[str]:
    return [item["metadata"]["name"] for item in listing["items"]]


def test_resource_version_zero_lists_everything_paged_alike(fresh: Lab) -> None:
    status, consistent = raw(fresh, PODS)
    assert status == 200 and len(consistent["items"]) >= 3
    status, cached = raw(fresh, f"{PODS}?resourceVersion=0")
    assert status == 200 and names(cached) == names(consistent)
    seen: list[str] = []
    token = ""
    while True:
        query = "resourceVersion=0&limit=2" + (f"&continue={token}" if token else "")
        status, page = raw(fresh, f"{PODS}?{query}")
        assert status == 200 and len(page["items"]) <= 2
        seen += names(page)
        token = page["metadata"].get("continue") or ""
        if not token:
            break
    assert seen == names(consistent)
    current = consistent["metadata"]["resourceVersion"]
    for query in (f"resourceVersion={current}", f"resourceVersion={current}&resourceVersionMatch=NotOlderThan", f"resourceVersion={current}&resourceVersionMatch=Exact"):  # fmt: skip
        status, listing = raw(fresh, f"{PODS}?{query}")
        assert (status, names(listing)) == (200, names(consistent)), query


@pytest.mark.parametrize(
    ("query", "code", "message"),
    [
        ("resourceVersionMatch=NotOlderThan", 400, "forbidden unless resourceVersion"),
        ("resourceVersion=0&resourceVersionMatch=Exact", 400, 'forbidden for resourceVersion "0"'),
        ("resourceVersion=0&resourceVersionMatch=Newest", 400, "Unsupported value"),
        ("resourceVersion=abc", 400, "invalid resource version"),
        ("resourceVersion=99999999", 504, "Too large resource version"),
        ("resourceVersion=1&resourceVersionMatch=Exact", 410, "too old resource version"),
    ],
)
def test_resource_version_options_a_real_server_refuses(
    emulator: Lab, query: str, code: int, message: str
) -> None:
    status, answer = raw(emulator, f"{PODS}?{query}")
    assert (status, answer["kind"]) == (code, "Status")
    assert message in answer["message"]


def test_a_continued_list_takes_no_other_resource_version(emulator: Lab) -> None:
    _, first = raw(emulator, f"{PODS}?limit=1")
    token = first["metadata"]["continue"]
    status, answer = raw(emulator, f"{PODS}?limit=1&continue={token}&resourceVersion=5")
    assert status == 400
    assert answer["message"] == "specifying resource version is not allowed when using continue"


def test_stats_by_client_and_by_way_of_serving(fresh: Lab, core: client.CoreV1Api) -> None:
    fresh.post("/_lab/stats/reset")
    raw(fresh, f"{PODS}?resourceVersion=0", agent="rolerabbit-opscheck/1")
    raw(fresh, PODS, agent="rolerabbit-opscheck/1 (extra words)")
    raw(fresh, PODS, agent="rolerabbit-lab-bridge/1")
    core.read_namespaced_config_map("rolerabbit-config", NAMESPACE)  # the client's own agent
    assert fresh.get("/_lab/stats") == {"get configmaps": 1, "list pods": 3}
    assert fresh.get("/_lab/stats?agent=rolerabbit-opscheck") == {"list pods": 2}
    by_agent = fresh.get("/_lab/stats?by=agent")
    assert by_agent.pop("rolerabbit-lab-bridge") == {"list pods": 1}
    assert by_agent.pop("rolerabbit-opscheck") == {"list pods": 2}
    assert list(by_agent.values()) == [{"get configmaps": 1}]
    assert fresh.get("/_lab/stats?served=cache") == {"list pods": 1}
    assert fresh.get("/_lab/stats?by=served&agent=rolerabbit-opscheck") == {
        "cache": {"list pods": 1},
        "storage": {"list pods": 1},
    }
    status, answer = raw(fresh, "/_lab/stats?by=colour")
    assert status == 400 and "by must be one of agent, served, shape" in answer["message"]
    fresh.post("/_lab/stats/reset")
    assert fresh.get("/_lab/stats?by=agent") == {}
