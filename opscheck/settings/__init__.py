"""An environment profile: targets, time bounds, fix policy, and each section's settings.

Every field has a default (the runbook's values), so a profile may be nearly empty. The
core fields are declared here; each section adds its own key, holding its settings model,
when `profile_model` builds the profile for the sections of the run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any, Literal, TypeVar

from pydantic import Field, create_model, model_validator

from opscheck.settings.alerting import Alerting, MetricsPush
from opscheck.settings.base import Settings
from opscheck.settings.sweep_lease import SweepLease
from opscheck.settings.targets import (
    ApiTarget,
    Dependency,
    FixPolicy,
    KubernetesTarget,
    PrometheusTarget,
    Timeouts,
)

S = TypeVar("S", bound=Settings)


class Suppression(Settings):
    """Silence one check (optionally on one target) with a reason, until a date."""

    check: str
    target: str | None = None
    reason: str
    expires: date


class Profile(Settings):
    kubernetes: KubernetesTarget = Field(default_factory=KubernetesTarget)
    api: ApiTarget = Field(default_factory=ApiTarget)
    dependencies: dict[str, Dependency] = Field(default_factory=dict)
    prometheus: PrometheusTarget = Field(default_factory=PrometheusTarget)
    timeouts: Timeouts = Field(default_factory=Timeouts)
    fix: FixPolicy = Field(default_factory=FixPolicy)
    suppress: list[Suppression] = Field(default_factory=list)
    sweep_lease: SweepLease = Field(default_factory=SweepLease)
    alerting: Alerting = Field(default_factory=Alerting)
    metrics_push: MetricsPush = Field(default_factory=MetricsPush)
    # Components this environment does not have: the checks that need one are skipped,
    # saying so; the others still run (e.g. a set-up without Kubernetes).
    absent: list[Literal["kubernetes", "api", "redis", "database"]] = Field(default_factory=list)
    # What an inconclusive check does to the run: fail it (default) or only warn.
    inconclusive: Literal["fail", "warn"] = "fail"

    @model_validator(mode="before")
    @classmethod
    def _replaced(cls, data: Any) -> Any:
        if isinstance(data, dict) and "registry_url" in data:
            raise ValueError(
                "registry_url was replaced by deployment.registry_endpoints: image existence "
                "is asked of each image's own registry (HEAD /v2/<name>/manifests/<tag>); "
                "delete registry_url, and map a registry host to the endpoint that serves it "
                "only if it is not https://HOST, e.g. deployment: {registry_endpoints: "
                '{"ghcr.io": "http://127.0.0.1:5000"}}'
            )
        return data

    @model_validator(mode="after")
    def _metrics_source_usable(self) -> Profile:
        source = self.api.metrics_source
        if source == "prometheus" and not self.prometheus.url:
            raise ValueError(
                "api.metrics_source is 'prometheus' but prometheus.url is not set: give the "
                "Prometheus URL, or choose the 'pods' or 'url' source"
            )
        if source == "pods" and "kubernetes" in self.absent:
            raise ValueError(
                "api.metrics_source 'pods' reads the pods through Kubernetes, which `absent` "
                "lists: choose 'url' or 'prometheus'"
            )
        return self

    @model_validator(mode="after")
    def _lease_outlives_a_renewal(self) -> Profile:
        # A renewal starts with two thirds of the duration left and may take a connect and
        # a read timeout: it must land before the Lease expires.
        bound = self.timeouts.connect_s + self.timeouts.read_s
        if self.sweep_lease.duration_s * 2 / 3 <= bound:
            raise ValueError(
                f"sweep_lease.duration_s ({self.sweep_lease.duration_s}) must be above 1.5 "
                f"times timeouts.connect_s + timeouts.read_s ({bound:g}): a renewal, every "
                "third of the duration, may take that long and must land before expiry"
            )
        return self

    @property
    def metrics_source(self) -> Literal["pods", "prometheus", "url"]:
        """The API metrics source in effect: the profile's, else `pods` with Kubernetes."""
        if self.api.metrics_source is not None:
            return self.api.metrics_source
        return "url" if "kubernetes" in self.absent else "pods"

    def _metrics_read(self) -> str:
        """The shell command that reads the API's metrics the way the metrics source does."""
        api, k = self.api, self.kubernetes
        if self.metrics_source == "url":
            return f"curl -s {api.base_url.rstrip('/')}{api.metrics_path}"
        if self.metrics_source == "prometheus":
            query = f"{{{self.prometheus.selector}}}"
            return (
                f"curl -s {(self.prometheus.url or '').rstrip('/')}/api/v1/query "
                f"--data-urlencode 'query={query}'"
            )
        if isinstance(api.metrics_port, int):
            port = str(api.metrics_port)
        else:
            ports = ".spec.containers[0].ports[0]"
            if api.metrics_port is not None:
                ports = f'.spec.containers[*].ports[?(@.name=="{api.metrics_port}")]'
            port = f"$(kubectl get -n {k.namespace} $p -o jsonpath='{{{ports}.containerPort}}')"
        return (
            f"for p in $(kubectl get pods -n {k.namespace} -l {k.api_selector} -o name); do "
            f'kubectl get --raw "/api/v1/namespaces/{k.namespace}/pods/${{p#pod/}}:{port}'
            f'/proxy{api.metrics_path}"; done'
        )

    def section(self, kind: type[S]) -> S:
        """The settings of the section whose model is `kind`."""
        for name in type(self).model_fields:
            value = getattr(self, name)
            if type(value) is kind:
                return value
        raise LookupError(f"the profile has no {kind.__name__}: is its section loaded?")

    def placeholders(self) -> Mapping[str, str]:
        """The names a manual step may use as {placeholders}, from every part of the profile."""
        k, api = self.kubernetes, self.api
        base = api.base_url.rstrip("/")
        names = dict(
            namespace=k.namespace,
            context=k.context or "",
            api_deployment=k.api_deployment,
            worker_deployment=k.worker_deployment,
            api_selector=k.api_selector,
            worker_selector=k.worker_selector,
            config_map=k.config_map,
            secret=k.secret,
            pull_secret=k.pull_secret,
            api_url=base,
            metrics_url=base + api.metrics_path,
            metrics_read=self._metrics_read(),
            queues_url=base + api.queues_path,
        )
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, Settings) and not isinstance(value, Profile):
                names.update(value.placeholders())
        return names


class ProfilesFile(Settings):
    profiles: dict[str, Profile]


def profile_model(sections: Iterable[Any]) -> type[Profile]:
    """The profile with one key per section that has settings (`database:`, `queue:`...),
    and one per part a section keeps apart (`security_logins:`); a key twice is an error."""
    fields: dict[str, Any] = {}
    for s in sections:
        for key, model in s.settings_keys.items():
            if key in fields or key in Profile.model_fields:
                raise ValueError(f"profile key {key!r} is declared twice (section {s.marker!r})")
            fields[key] = (model, Field(default_factory=model))
    return create_model("Profile", __base__=Profile, **fields)


def profiles_file_model(profile: type[Profile]) -> type[ProfilesFile]:
    entries: Any = dict[str, profile]  # type: ignore[valid-type]
    return create_model("ProfilesFile", __base__=ProfilesFile, profiles=(entries, ...))


__all__ = [
    "Dependency",
    "Profile",
    "ProfilesFile",
    "Suppression",
    "profile_model",
    "profiles_file_model",
]
