"""Pure rules of the Deployment Failures checks: snapshot data + thresholds -> verdict.

A rule returns a Finding (failed), None (passed) or NoData (inconclusive: exactly what it
could not see). A list the checks could not read reaches a rule as NoData in its place.

Every rule reads plain Kubernetes objects (as listed once per session) and the section's
settings; `now` is passed in so unit tests can pin time. Summaries are one line of truth —
measured value against threshold — and evidence never contains a secret value: secrets are
read for their names, types and key names only.

One module per concern (objects.py is what the rules read from Kubernetes objects); this
package re-exports every public name, so checks and planners import `checks.deployment`
only; each module's docstring names the checks it serves.
"""

from __future__ import annotations

from checks.deployment.configuration import config_references
from checks.deployment.health import health, warning_events
from checks.deployment.images import image_pulls, pull_secret, pull_secret_names
from checks.deployment.objects import (
    age_s,
    condition,
    container_statuses,
    counted,
    events_about,
    images_of,
    last_seen_s,
    mebibytes,
    no_pods,
    not_found,
    not_here,
    parse_time,
    pod_name,
    quantity,
    template_containers,
    undated_data,
)
from checks.deployment.pods import containers_failing, pending_pods, restarts, waiting
from checks.deployment.release import (
    Release,
    release_image,
    release_target,
    target_pull_secrets,
)
from checks.deployment.resources import (
    hpa_for,
    limits_missing,
    limits_of,
    node_pressure,
    oom_killed,
    replicas_below_minimum,
    usage_near_limits,
)
from checks.deployment.revisions import revision_failures
from checks.deployment.rollout import (
    Rollout,
    rollout,
    rollout_evidence,
    rollout_in_progress,
    rollout_stuck,
)
from checks.deployment.settings import DeploymentSettings
from opscheck import Section, Severity

SECTION = Section(
    "deployment",
    "Deployment Failures",
    "deployment-failures",
    Severity.HIGH,
    "15 min",
    "+30 min",
    DeploymentSettings,
)

__all__ = [
    "SECTION",
    "Release",
    "Rollout",
    "age_s",
    "condition",
    "config_references",
    "container_statuses",
    "containers_failing",
    "counted",
    "events_about",
    "health",
    "hpa_for",
    "image_pulls",
    "images_of",
    "last_seen_s",
    "limits_missing",
    "limits_of",
    "mebibytes",
    "no_pods",
    "node_pressure",
    "not_found",
    "not_here",
    "oom_killed",
    "parse_time",
    "pending_pods",
    "pod_name",
    "pull_secret",
    "pull_secret_names",
    "quantity",
    "release_image",
    "release_target",
    "replicas_below_minimum",
    "restarts",
    "revision_failures",
    "rollout",
    "rollout_evidence",
    "rollout_in_progress",
    "rollout_stuck",
    "target_pull_secrets",
    "template_containers",
    "undated_data",
    "usage_near_limits",
    "waiting",
    "warning_events",
]
