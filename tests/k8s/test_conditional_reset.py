"""`POST /_lab/reset {"if_changed": true}` re-seeds only after a hook changed something.

`lab reset` resets the cluster first, then clears every fault, and clearing a hook-made
fault calls the hook again. After a re-seed that clear changes nothing; if it counted as
a change, the next reset would re-seed again and restart every pod for nothing.
"""

from __future__ import annotations

from kubernetes import client

from tests.k8s.support import NAMESPACE, Lab, pod_uids

CPU = {"deployment": "rolerabbit-api", "namespace": NAMESPACE}


def test_a_hook_that_clears_nothing_leaves_nothing_to_reseed(
    fresh: Lab, core: client.CoreV1Api
) -> None:
    pods = pod_uids(core)
    assert fresh.post("/_lab/hooks/clear", {"hook": "cpu-usage"})["ok"] is True
    assert fresh.post("/_lab/hooks/cpu-usage", {**CPU, "enabled": False})["active"] is False
    assert fresh.post("/_lab/reset", {"if_changed": True})["reseeded"] is False
    assert pod_uids(core) == pods


def test_a_hook_that_changed_something_is_undone_by_a_reseed(
    fresh: Lab, core: client.CoreV1Api
) -> None:
    pods = pod_uids(core)
    fresh.post("/_lab/hooks/cpu-usage", {**CPU, "millicores": 900})
    fresh.post("/_lab/hooks/cpu-usage", {**CPU, "enabled": False})  # changed, then changed back
    assert fresh.post("/_lab/reset", {"if_changed": True})["reseeded"] is True
    assert not pod_uids(core) & pods
    # The re-seed left nothing changed: clearing the hook's fault now is a no-op.
    fresh.post("/_lab/hooks/clear", {"hook": "cpu-usage"})
    assert fresh.post("/_lab/reset", {"if_changed": True})["reseeded"] is False


def test_a_conditional_reset_clears_the_pods_logs_unless_told_not_to(
    fresh: Lab, core: client.CoreV1Api
) -> None:
    added = fresh.post("/_lab/hooks/add-logs", {"deployment": "rolerabbit-api", "lines": ["kept"]})
    pod = added["pods"][0]
    # Adding log lines changes nothing a re-seed would undo.
    answer = fresh.post("/_lab/reset", {"if_changed": True, "clear_logs": False})
    assert answer["reseeded"] is False
    assert "kept" in core.read_namespaced_pod_log(pod, NAMESPACE)
    assert fresh.post("/_lab/reset", {"if_changed": True})["reseeded"] is False
    assert "kept" not in core.read_namespaced_pod_log(pod, NAMESPACE)
