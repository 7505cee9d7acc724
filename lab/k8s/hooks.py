"""The lab control API under ``/_lab/`` (placeholder, filled in by the hooks commit)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lab.k8s import errors
from lab.k8s.cluster import Cluster
from lab.k8s.routing import Request, Response
from lab.k8s.seed import seed_cluster

if TYPE_CHECKING:
    from lab.k8s.controller import Controller


class LabApi:
    def __init__(self, cluster: Cluster, controller: Controller) -> None:
        self.cluster = cluster
        self.controller = controller

    def handle(self, request: Request) -> Response:
        try:
            return self._dispatch(request)
        except errors.ApiError as error:
            return Response.error(error)

    def _dispatch(self, request: Request) -> Response:
        path, method = request.path.rstrip("/"), request.method
        if path == "/_lab/stats" and method == "GET":
            return Response.of(self.cluster.stats.snapshot())
        if path == "/_lab/stats/reset" and method == "POST":
            self.cluster.stats.reset()
            return Response.of({"ok": True})
        if path == "/_lab/registry" and method == "GET":
            return Response.of(self.cluster.registry.describe())
        if path == "/_lab/reset" and method == "POST":
            with self.cluster.lock:
                self.cluster.store.clear()
                self.cluster.recorder.reset()
                self.cluster.faults.clear()
                self.cluster.registry.reset()
                self.cluster.logs.clear()
                self.controller.reset()
                seed_cluster(self.cluster, self.cluster.settings.seed)
            return Response.of({"ok": True})
        raise errors.ApiError(404, "NotFound", f"no lab endpoint {method} {path}")
