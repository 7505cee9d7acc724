"""Discovery documents: ``/version``, ``/api``, ``/apis`` and per-group resource lists.

Only the legacy (unaggregated) form is served.  kubectl asks for aggregated
discovery first (``as=APIGroupDiscoveryList`` in Accept) but also accepts
plain ``application/json``, and falls back to the legacy documents when the
answer is not the aggregated kind, so a plain answer is enough.
"""

from __future__ import annotations

from typing import Any

from lab.k8s.resources import GROUP_VERSIONS, resources_in

Obj = dict[str, Any]

VERSION_INFO: Obj = {
    "major": "1",
    "minor": "37",
    "gitVersion": "v1.37.1-lab",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-01-01T00:00:00Z",
    "goVersion": "go1.24.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def core_versions(server_address: str) -> Obj:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def group_list() -> Obj:
    groups = []
    for group, version in GROUP_VERSIONS:
        gv = {"groupVersion": f"{group}/{version}", "version": version}
        groups.append({"name": group, "versions": [gv], "preferredVersion": gv})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def group(name: str) -> Obj | None:
    for group_name, version in GROUP_VERSIONS:
        if group_name == name:
            gv = {"groupVersion": f"{group_name}/{version}", "version": version}
            return {
                "kind": "APIGroup",
                "apiVersion": "v1",
                "name": name,
                "versions": [gv],
                "preferredVersion": gv,
            }
    return None


def resource_list(group_name: str, version: str) -> Obj | None:
    types = resources_in(group_name, version)
    if not types:
        return None
    entries: list[Obj] = []
    for rt in types:
        entry: Obj = {
            "name": rt.plural,
            "singularName": rt.singular,
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": list(rt.verbs),
        }
        if rt.short_names:
            entry["shortNames"] = list(rt.short_names)
        if rt.categories:
            entry["categories"] = list(rt.categories)
        entries.append(entry)
        for sub in rt.subresources:
            sub_entry: Obj = {
                "name": f"{rt.plural}/{sub}",
                "singularName": "",
                "namespaced": rt.namespaced,
            }
            if sub == "scale":
                sub_entry |= {
                    "group": "autoscaling",
                    "version": "v1",
                    "kind": "Scale",
                    "verbs": ["get", "patch", "update"],
                }
            elif sub == "log":
                sub_entry |= {"kind": "Pod", "verbs": ["get"]}
            else:
                sub_entry |= {"kind": rt.kind, "verbs": ["get", "patch", "update"]}
            entries.append(sub_entry)
    group_version = f"{group_name}/{version}" if group_name else version
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": entries,
    }
