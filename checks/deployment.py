"""Pure rules of the Deployment Failures checks: snapshot data + thresholds -> Finding | None.

Every rule reads plain Kubernetes objects (as listed once per session) and the section's
settings; `now` is passed in so unit tests can pin time. Summaries are one line of truth —
measured value against threshold — and evidence never contains a secret value: secrets are
read for their names, types and key names only.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from fixtures.deployment import RegistryIndex, Workload, revision_of, split_image
from fixtures.kubernetes import Obj
from opscheck import Finding
from opscheck.settings.deployment import DeploymentSettings
from remediations.rollouts import rollout_state

# -- small readers -------------------------------------------------------------------------


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def age_s(text: str | None, now: datetime) -> float | None:
    moment = parse_time(text)
    return None if moment is None else (now - moment).total_seconds()


_QUANTITY = re.compile(r"^([0-9.]+(?:e[0-9]+)?)([A-Za-z]*)$")
_UNITS = {
    "": 1.0,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "Ki": 2.0**10,
    "Mi": 2.0**20,
    "Gi": 2.0**30,
    "Ti": 2.0**40,
    "n": 1e-9,
    "u": 1e-6,
}


def quantity(text: str | float | int) -> float:
    """A Kubernetes quantity (`250m`, `512Mi`, `1`) in base units (cores or bytes)."""
    if isinstance(text, int | float):
        return float(text)
    match = _QUANTITY.match(text.strip())
    if not match or match.group(2) not in _UNITS:
        raise ValueError(f"invalid quantity {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def mebibytes(value: float) -> str:
    return f"{value / 2**20:.0f}Mi"


def condition(obj: Obj, type_: str) -> Obj | None:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == type_), None)


def pod_name(pod: Obj) -> str:
    return str(pod["metadata"]["name"])


def container_statuses(pod: Obj) -> Iterator[Obj]:
    status = pod.get("status") or {}
    yield from status.get("initContainerStatuses") or []
    yield from status.get("containerStatuses") or []


def template_containers(template: Obj) -> list[Obj]:
    spec = template.get("spec") or {}
    return [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]


def images_of(template: Obj) -> list[str]:
    return [str(c.get("image", "")) for c in template_containers(template)]


def not_found(w: Workload) -> Finding:
    return Finding(
        f"{w.ref} not found in namespace {w.namespace} (expected 1 deployment)",
        [f"kubectl get deployments -n {w.namespace}"],
        {"deployment": w.name, "missing": True},
    )


def counted(counter: Counter[str]) -> str:
    return ", ".join(f"{reason} x{n}" for reason, n in counter.most_common())


def events_about(events: Iterable[Obj], names: set[str], kind: str = "Pod") -> list[Obj]:
    return [
        e
        for e in events
        if (e.get("involvedObject") or {}).get("kind") == kind
        and (e.get("involvedObject") or {}).get("name") in names
    ]


def last_seen_s(event: Obj, now: datetime) -> float | None:
    stamp = event.get("lastTimestamp") or event.get("eventTime") or event.get("firstTimestamp")
    return age_s(stamp, now)


# -- DEP-101 rollout -----------------------------------------------------------------------


@dataclass(frozen=True)
class Rollout:
    complete: bool
    why: str  # kubectl rollout status' words
    deadline_exceeded: bool
    age_s: float  # how long the deployment has been incomplete (0 when complete)


def rollout(w: Workload, now: datetime) -> Rollout:
    deployment = w.deployment or {}
    complete, why = rollout_state(deployment)
    progressing = condition(deployment, "Progressing") or {}
    exceeded = progressing.get("status") == "False" and (
        progressing.get("reason") == "ProgressDeadlineExceeded"
    )
    if complete:
        return Rollout(True, why, False, 0.0)
    starts = [age_s((w.current or {}).get("metadata", {}).get("creationTimestamp"), now)]
    available = condition(deployment, "Available") or {}
    if available.get("status") == "False":
        starts.append(age_s(available.get("lastTransitionTime"), now))
    known = [s for s in starts if s is not None]
    return Rollout(False, why, exceeded, min(known) if known else 0.0)


def rollout_evidence(w: Workload) -> list[str]:
    deployment = w.deployment or {}
    spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
    lines = [
        f"desired {spec.get('replicas', 1)}, updated {status.get('updatedReplicas', 0)}, "
        f"available {status.get('availableReplicas', 0)}, total {status.get('replicas', 0)}; "
        f"observedGeneration {status.get('observedGeneration', 0)} of generation "
        f"{deployment['metadata'].get('generation', 0)}"
    ]
    for label, rs in (("current", w.current), ("previous", w.previous)):
        if rs is not None:
            rs_status = rs.get("status") or {}
            lines.append(
                f"{label} revision {revision_of(rs)} ({rs['metadata']['name']}): "
                f"{', '.join(images_of(rs['spec'].get('template') or {}))}; "
                f"{rs_status.get('readyReplicas', 0)}/{rs['spec'].get('replicas', 0)} ready"
            )
    for pod in w.pods_of(w.current) if w.current else []:
        for status in container_statuses(pod):
            waiting = (status.get("state") or {}).get("waiting") or {}
            if waiting.get("reason"):
                lines.append(f"pod/{pod_name(pod)} {status['name']}: {waiting['reason']}")
    return lines


def rollout_stuck(w: Workload, s: DeploymentSettings, now: datetime) -> Finding | None:
    """DEP-101: the rollout is complete, or still within its settle window."""
    if w.deployment is None:
        return not_found(w)
    state = rollout(w, now)
    if state.complete:
        return None
    data = {"deployment": w.name, "revision": revision_of(w.current or {})}
    if state.deadline_exceeded:
        deadline = (w.deployment.get("spec") or {}).get("progressDeadlineSeconds", 600)
        message = (condition(w.deployment, "Progressing") or {}).get("message", "")
        summary = (
            f"rollout of {w.ref} made no progress for more than its {deadline}s deadline "
            f"(Progressing=False, ProgressDeadlineExceeded): {message}"
        )
        return Finding(summary, rollout_evidence(w), data)
    if state.age_s > s.settle_window_s:
        summary = (
            f"rollout of {w.ref} not complete after {state.age_s:.0f}s "
            f"(settle window {s.settle_window_s:g}s): {state.why}"
        )
        return Finding(summary, rollout_evidence(w), data)
    return None


def rollout_in_progress(w: Workload, s: DeploymentSettings, now: datetime) -> str | None:
    """Why DEP-101 is neither passed nor failed: a rollout within its settle window."""
    if w.deployment is None:
        return None
    state = rollout(w, now)
    if state.complete or state.deadline_exceeded or state.age_s > s.settle_window_s:
        return None
    return (
        f"rollout of {w.ref} in progress for {state.age_s:.0f}s "
        f"(settle window {s.settle_window_s:g}s): {state.why}"
    )


# -- DEP-102 containers start, DEP-105 image pulls ------------------------------------------


def waiting(w: Workload, reasons: Sequence[str]) -> list[tuple[Obj, Obj, str, str]]:
    """(pod, container status, reason, message) for containers waiting for one of reasons."""
    found = []
    for pod in w.pods:
        for status in container_statuses(pod):
            wait = (status.get("state") or {}).get("waiting") or {}
            if wait.get("reason") in reasons:
                found.append((pod, status, str(wait["reason"]), str(wait.get("message", ""))))
    return found


def containers_failing(w: Workload, s: DeploymentSettings) -> Finding | None:
    """DEP-102: no container waits in CrashLoopBackOff, CreateContainerConfigError, ..."""
    if w.deployment is None:
        return not_found(w)
    stuck = waiting(w, s.failing_waiting_reasons)
    if not stuck:
        return None
    pods = sorted({pod_name(p) for p, *_ in stuck})
    reasons = Counter(reason for *_, reason, _ in stuck)
    evidence = [f"pod/{pod_name(p)} {c['name']}: {r} — {m}".rstrip(" —") for p, c, r, m in stuck]
    if "CreateContainerConfigError" in reasons:
        evidence.append(
            "a missing ConfigMap/Secret key is the runbook's 'Application Errors' cause: "
            "see DEP-109"
        )
    current = {pod_name(p) for p in w.pods_of(w.current)} if w.current else set()
    summary = (
        f"{len(pods)} of {len(w.pods)} pods of {w.ref} have containers failing to start "
        f"({counted(reasons)}; threshold 0)"
    )
    return Finding(
        summary,
        evidence,
        {
            "deployment": w.name,
            "reasons": sorted(reasons),
            "pods": pods,
            "current_revision_only": set(pods) <= current,
        },
    )


def image_pulls(
    w: Workload, s: DeploymentSettings, registry: RegistryIndex | None
) -> Finding | None:
    """DEP-105: no ErrImagePull/ImagePullBackOff, and every image reference exists."""
    if w.deployment is None:
        return not_found(w)
    failing = waiting(w, s.image_pull_reasons)
    missing, notes = [], []
    if registry is None:
        notes.append("image existence not checked: the profile has no registry_url")
    else:
        for image in dict.fromkeys(images_of(w.template())):
            repo, tag, digest = split_image(image)
            known = registry.tags.get(repo)
            if known is None:
                missing.append(f"{image}: repository {repo} not in the registry")
            elif tag and tag not in known:
                shown = ", ".join(sorted(known)[-5:])
                missing.append(f"{image}: tag {tag} not in {repo} (tags: {shown})")
            elif digest and not tag:
                notes.append(f"{image}: digest not checked (the listing has tags only)")
    if not failing and not missing:
        return None
    images = sorted({str(c.get("image", "")) for _, c, _, _ in failing})
    reasons = Counter(reason for *_, reason, _ in failing)
    parts = []
    if failing:
        parts.append(
            f"{len({pod_name(p) for p, *_ in failing})} pods of {w.ref} cannot pull "
            f"{', '.join(images)} ({counted(reasons)})"
        )
    if missing:
        parts.append(f"{len(missing)} image references not in the registry")
    evidence = [f"pod/{pod_name(p)} {c['name']}: {r} — {m}" for p, c, r, m in failing[:10]]
    return Finding(
        "; ".join(parts) + " (threshold 0)",
        [*missing, *evidence, *notes],
        {"deployment": w.name, "images": images, "missing": missing},
    )


# -- DEP-103 pending, DEP-104 restarts ----------------------------------------------------


def pending_pods(
    w: Workload, events: Sequence[Obj], s: DeploymentSettings, now: datetime
) -> Finding | None:
    """DEP-103: no pod Pending longer than the threshold; unschedulable ones say why."""
    if w.deployment is None:
        return not_found(w)
    stuck = []
    for pod in w.pods:
        if (pod.get("status") or {}).get("phase") != "Pending":
            continue
        age = age_s(pod["metadata"].get("creationTimestamp"), now) or 0.0
        if age > s.pending_threshold_s:
            stuck.append((pod, age))
    if not stuck:
        return None
    scheduling = defaultdict(list)
    for event in events_about(events, {pod_name(p) for p, _ in stuck}):
        if event.get("reason") == "FailedScheduling":
            scheduling[event["involvedObject"]["name"]].append(event)
    evidence, unschedulable = [], 0
    for pod, age in stuck:
        scheduled = condition(pod, "PodScheduled") or {}
        if scheduled.get("status") == "False":
            unschedulable += 1
            latest = sorted(scheduling[pod_name(pod)], key=lambda e: e.get("lastTimestamp") or "")
            why = latest[-1].get("message") if latest else scheduled.get("message", "")
            evidence.append(f"pod/{pod_name(pod)} Unschedulable for {age:.0f}s: {why}")
        else:
            reasons = [
                ((c.get("state") or {}).get("waiting") or {}).get("reason", "?")
                for c in container_statuses(pod)
            ]
            evidence.append(f"pod/{pod_name(pod)} Pending for {age:.0f}s: {', '.join(reasons)}")
    summary = (
        f"{len(stuck)} pods of {w.ref} Pending longer than {s.pending_threshold_s:g}s "
        f"({unschedulable} unschedulable; threshold 0)"
    )
    return Finding(
        summary, evidence, {"deployment": w.name, "pods": [pod_name(p) for p, _ in stuck]}
    )


def restarts(w: Workload, s: DeploymentSettings, now: datetime) -> Finding | None:
    """DEP-104: no container restarted more than max_restarts with a restart in the window."""
    if w.deployment is None:
        return not_found(w)
    hot = []
    for pod in w.pods:
        for status in container_statuses(pod):
            count = int(status.get("restartCount", 0))
            last = ((status.get("lastState") or {}).get("terminated")) or {}
            since = age_s(last.get("finishedAt"), now)
            if count > s.max_restarts and since is not None and since <= s.restart_window_s:
                hot.append((pod, status, count, since, last))
    if not hot:
        return None
    worst = max(hot, key=lambda h: h[2])
    summary = (
        f"{len(hot)} containers of {w.ref} restarting: up to {worst[2]} restarts, the last "
        f"{worst[3]:.0f}s ago (threshold > {s.max_restarts} within {s.restart_window_s:g}s)"
    )
    evidence = [
        f"pod/{pod_name(p)} {c['name']}: {n} restarts, last exit {t.get('reason', '?')} "
        f"(code {t.get('exitCode', '?')}) {since:.0f}s ago"
        for p, c, n, since, t in hot
    ]
    evidence.append(f"kubectl logs pod/{pod_name(worst[0])} -n {w.namespace} --previous --tail=100")
    return Finding(summary, evidence, {"deployment": w.name, "pods": [pod_name(h[0]) for h in hot]})


# -- DEP-106 pull secret, DEP-109 configuration -------------------------------------------


def _secret(secrets: Iterable[Obj], name: str) -> Obj | None:
    return next((x for x in secrets if x["metadata"]["name"] == name), None)


def _registry_host(image: str) -> str:
    first = image.split("/", 1)[0]
    return first if "/" in image and ("." in first or ":" in first) else "docker.io"


def pull_secret(
    w: Workload, secrets: Sequence[Obj], name: str, s: DeploymentSettings
) -> Finding | None:
    """DEP-106: the pull secret exists, has the right type, parses, and the pods use it."""
    if w.deployment is None:
        return not_found(w)
    problems: list[str] = []
    secret = _secret(secrets, name)
    if secret is None:
        problems.append(f"secret {name} not found in namespace {w.namespace}")
    else:
        if secret.get("type") != s.pull_secret_type:
            problems.append(
                f"secret {name} has type {secret.get('type')!r}, not {s.pull_secret_type}"
            )
        problems.extend(_dockerconfig_problems(secret, name, images_of(w.template())))
    users = [w.template(), *w.pods]
    unreferenced = [
        obj
        for obj in users
        if name
        not in {r.get("name") for r in (obj.get("spec") or {}).get("imagePullSecrets") or []}
    ]
    if unreferenced:
        where = "the pod template" if unreferenced[0] is users[0] else "its pods"
        problems.append(
            f"{w.ref}: {where} do not reference {name} in imagePullSecrets "
            f"({len(unreferenced)} of {len(users)} template+pods)"
        )
    if not problems:
        return None
    return Finding(
        f"pull secret {name} unusable for {w.ref}: {len(problems)} problems (threshold 0)",
        problems,
        {"deployment": w.name, "secret": name},
    )


def _dockerconfig_problems(secret: Obj, name: str, images: list[str]) -> list[str]:
    raw = (secret.get("data") or {}).get(".dockerconfigjson")
    if raw is None:
        return [f"secret {name} has no .dockerconfigjson key"]
    try:
        document = json.loads(base64.b64decode(raw, validate=True))
    except (binascii.Error, ValueError):
        return [f"secret {name}: .dockerconfigjson is not base64-encoded JSON (value not shown)"]
    auths = document.get("auths") if isinstance(document, dict) else None
    if not isinstance(auths, dict) or not auths:
        return [f"secret {name}: .dockerconfigjson has no 'auths' entries"]
    problems = [
        f"secret {name}: the entry for {host} has neither 'auth' nor username/password"
        for host, entry in auths.items()
        if not isinstance(entry, dict)
        or not (entry.get("auth") or (entry.get("username") and entry.get("password")))
    ]
    hosts = {h.removeprefix("https://").split("/", 1)[0] for h in auths}
    for host in sorted({_registry_host(i) for i in images} - hosts):
        problems.append(
            f"secret {name} has no credentials for {host} (has: {', '.join(sorted(hosts))})"
        )
    return problems


def config_references(
    w: Workload,
    configmaps: Sequence[Obj],
    secrets: Sequence[Obj],
    required: Sequence[tuple[str, str]],
) -> Finding | None:
    """DEP-109: the ConfigMaps/Secrets and keys the deployment references exist.

    `required` are (kind, name) pairs that must exist whatever the template says
    (the runbook's rolerabbit-config and rolerabbit-secrets). Only key names are shown.
    """
    if w.deployment is None:
        return not_found(w)
    stores = {
        "ConfigMap": {c["metadata"]["name"]: c for c in configmaps},
        "Secret": {x["metadata"]["name"]: x for x in secrets},
    }
    problems = []
    for kind, name in required:
        if name not in stores[kind]:
            problems.append(f"{kind} {name} not found in namespace {w.namespace}")
    for container, kind, name, key in _references(w.template()):
        obj = stores[kind].get(name)
        if obj is None:
            line = f"container {container}: {kind} {name} not found"
        elif key is not None and key not in {
            **(obj.get("data") or {}),
            **(obj.get("binaryData") or {}),
        }:
            line = f"container {container}: key {key} not found in {kind} {name}"
        else:
            continue
        if line not in problems:
            problems.append(line)
    problems = list(dict.fromkeys(problems))
    if not problems:
        return None
    missing_keys = [p for p in problems if " key " in p]
    summary = (
        f"{len(problems)} configuration references of {w.ref} do not resolve "
        f"({len(missing_keys)} missing keys; threshold 0)"
    )
    return Finding(summary, problems, {"deployment": w.name})


def _references(template: Obj) -> Iterator[tuple[str, str, str, str | None]]:
    """(container, kind, name, key or None) for every non-optional config reference."""
    for container in template_containers(template):
        cname = str(container.get("name", ""))
        for source in container.get("envFrom") or []:
            for field, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                ref = source.get(field)
                if ref and not ref.get("optional"):
                    yield cname, kind, str(ref.get("name", "")), None
        for variable in container.get("env") or []:
            value_from = variable.get("valueFrom") or {}
            for field, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                ref = value_from.get(field)
                if ref and not ref.get("optional"):
                    yield cname, kind, str(ref.get("name", "")), str(ref.get("key", ""))
    for volume in (template.get("spec") or {}).get("volumes") or []:
        for field, kind, name_field in (
            ("configMap", "ConfigMap", "name"),
            ("secret", "Secret", "secretName"),
        ):
            source = volume.get(field)
            if source and not source.get("optional"):
                name = str(source.get(name_field, ""))
                yield f"volume {volume.get('name')}", kind, name, None
                for item in source.get("items") or []:
                    yield f"volume {volume.get('name')}", kind, name, str(item.get("key", ""))


# -- DEP-107 health, DEP-108 warning events -------------------------------------------------


def health(
    w: Workload, events: Sequence[Obj], s: DeploymentSettings, now: datetime
) -> Finding | None:
    """DEP-107: every pod Ready (after a grace), probe failures within the threshold."""
    if w.deployment is None:
        return not_found(w)
    unready = []
    for pod in w.pods:
        ready = condition(pod, "Ready") or {}
        if ready.get("status") == "True":
            continue
        since = age_s(
            ready.get("lastTransitionTime") or pod["metadata"].get("creationTimestamp"), now
        )
        if since is not None and since > s.not_ready_grace_s:
            unready.append((pod, since, ready.get("message") or ready.get("reason") or "not ready"))
    probes = [
        e
        for e in events_about(events, {pod_name(p) for p in w.pods})
        if e.get("reason") == "Unhealthy" and (last_seen_s(e, now) or 0.0) <= s.probe_window_s
    ]
    failures = sum(int(e.get("count") or 1) for e in probes)
    if not unready and failures <= s.max_probe_failures:
        return None
    messages = Counter(str(e.get("message", "")) for e in probes)
    parts = []
    if unready:
        parts.append(
            f"{len(unready)} of {len(w.pods)} pods of {w.ref} not Ready for more than "
            f"{s.not_ready_grace_s:g}s"
        )
    if failures > s.max_probe_failures:
        quote = messages.most_common(1)[0][0]
        parts.append(
            f"{failures} probe failures in {s.probe_window_s:g}s "
            f"(threshold {s.max_probe_failures}): {quote}"
        )
    evidence = [f"pod/{pod_name(p)} not Ready for {t:.0f}s: {why}" for p, t, why in unready]
    evidence += [f"Unhealthy x{n}: {message}" for message, n in messages.most_common(5)]
    return Finding("; ".join(parts), evidence, {"deployment": w.name})


def warning_events(
    events: Sequence[Obj], live: set[tuple[str, str]], s: DeploymentSettings, now: datetime
) -> Finding | None:
    """DEP-108: recent Warning events, grouped; fails on the reasons that matter.

    `live` holds (kind, name) of the objects that still exist: an event about a pod that is
    gone is shown as history but does not fail the check.
    """
    recent = [
        e
        for e in events
        if e.get("type") == "Warning" and (last_seen_s(e, now) or 0.0) <= s.event_window_s
    ]
    groups: dict[tuple[str, str, str], list[Obj]] = defaultdict(list)
    for event in recent:
        involved = event.get("involvedObject") or {}
        key = (
            str(event.get("reason", "")),
            str(involved.get("kind", "")),
            str(involved.get("name", "")),
        )
        groups[key].append(event)
    failing = {
        key: group
        for key, group in groups.items()
        if key[0] in s.failing_event_reasons and (key[1] != "Pod" or (key[1], key[2]) in live)
    }
    if not failing:
        return None
    total = sum(int(e.get("count") or 1) for group in failing.values() for e in group)
    reasons = Counter({key[0]: 0 for key in failing})
    for key, group in failing.items():
        reasons[key[0]] += sum(int(e.get("count") or 1) for e in group)
    ordered = sorted(groups.items(), key=lambda kv: (kv[0] not in failing, kv[0]))
    evidence = []
    for (reason, kind, name), group in ordered:
        latest = max(group, key=lambda e: e.get("lastTimestamp") or "")
        count = sum(int(e.get("count") or 1) for e in group)
        mark = "" if (reason, kind, name) in failing else " (not failing)"
        evidence.append(
            f"{reason} x{count} on {kind.lower()}/{name}: {latest.get('message', '')}{mark}"
        )
    summary = (
        f"{total} Warning events in the last {s.event_window_s:g}s on "
        f"{len({key[1:] for key in failing})} objects "
        f"({counted(reasons)}; threshold 0 for {', '.join(s.failing_event_reasons)})"
    )
    return Finding(summary, evidence, {"reasons": sorted(reasons)})


# -- DEP-110 OOMKilled, DEP-111 limits set, DEP-112 usage vs limit, DEP-113 nodes ---------


def limits_of(template: Obj) -> dict[str, dict[str, str]]:
    """container -> its limits, from the pod template."""
    return {
        str(c.get("name")): dict((c.get("resources") or {}).get("limits") or {})
        for c in template_containers(template)
    }


def oom_killed(w: Workload, s: DeploymentSettings, now: datetime) -> Finding | None:
    """DEP-110: no container's last termination was OOMKilled within the window."""
    if w.deployment is None:
        return not_found(w)
    limits = limits_of(w.template())
    hits = []
    for pod in w.pods:
        for status in container_statuses(pod):
            state = status.get("state") or {}
            last = (
                state.get("terminated") or (status.get("lastState") or {}).get("terminated") or {}
            )
            since = age_s(last.get("finishedAt"), now)
            if last.get("reason") == "OOMKilled" and (since is None or since <= s.oom_window_s):
                hits.append((pod, str(status["name"]), since))
    if not hits:
        return None
    containers = sorted({c for _, c, _ in hits})
    shown = ", ".join(f"{c} (limit {limits.get(c, {}).get('memory', 'none')})" for c in containers)
    summary = (
        f"{len(hits)} containers of {w.ref} last terminated OOMKilled within "
        f"{s.oom_window_s:g}s: {shown} (threshold 0)"
    )
    evidence = [
        f"pod/{pod_name(p)} {c}: OOMKilled {'' if t is None else f'{t:.0f}s ago'}".rstrip()
        for p, c, t in hits
    ]
    return Finding(
        summary, evidence, {"deployment": w.name, "resources": {c: ["memory"] for c in containers}}
    )


def limits_missing(w: Workload) -> Finding | None:
    """DEP-111: every container of the pod template sets CPU and memory limits."""
    if w.deployment is None:
        return not_found(w)
    missing = [
        f"container {name}: no {' or '.join(r for r in ('cpu', 'memory') if r not in limits)} limit"
        for name, limits in limits_of(w.template()).items()
        if not {"cpu", "memory"} <= set(limits)
    ]
    if not missing:
        return None
    total = len(limits_of(w.template()))
    return Finding(
        f"{len(missing)} of {total} containers of {w.ref} have no CPU/memory limit (threshold 0)",
        missing,
        {"deployment": w.name},
    )


def usage_near_limits(
    w: Workload, pod_metrics: Sequence[Obj], s: DeploymentSettings
) -> Finding | None:
    """DEP-112: per container, usage/limit below the CPU and memory ratios (kubectl top)."""
    if w.deployment is None:
        return not_found(w)
    names = {pod_name(p) for p in w.pods}
    limits = limits_of(w.template())
    ratios = {"cpu": s.cpu_usage_ratio, "memory": s.memory_usage_ratio}
    hot: list[tuple[str, str, str, float, float, float]] = []
    for metrics in pod_metrics:
        if metrics["metadata"]["name"] not in names:
            continue
        for container in metrics.get("containers") or []:
            limit = limits.get(str(container.get("name")), {})
            for resource, ratio in ratios.items():
                used, cap = (container.get("usage") or {}).get(resource), limit.get(resource)
                if used is None or cap is None or quantity(cap) <= 0:
                    continue
                share = quantity(used) / quantity(cap)
                if share >= ratio:
                    hot.append(
                        (
                            metrics["metadata"]["name"],
                            str(container["name"]),
                            resource,
                            quantity(used),
                            quantity(cap),
                            share,
                        )
                    )
    if not hot:
        return None
    worst = max(hot, key=lambda h: h[5] / ratios[h[2]])
    summary = (
        f"{len(hot)} container usages of {w.ref} at or above their limit ratio: worst "
        f"{worst[1]} {worst[2]} at {worst[5]:.0%} of its limit (threshold {ratios[worst[2]]:.0%})"
    )
    evidence = [
        f"pod/{pod} {c} {r}: {_show(r, used)} of {_show(r, cap)} ({share:.0%})"
        for pod, c, r, used, cap, share in hot[:20]
    ]
    resources: dict[str, list[str]] = defaultdict(list)
    for _, c, r, *_ in hot:
        if r not in resources[c]:
            resources[c].append(r)
    return Finding(summary, evidence, {"deployment": w.name, "resources": dict(resources)})


def _show(resource: str, value: float) -> str:
    return f"{value * 1000:.0f}m" if resource == "cpu" else mebibytes(value)


def node_pressure(nodes: Sequence[Obj], s: DeploymentSettings) -> Finding | None:
    """DEP-113: no node reports MemoryPressure, DiskPressure (or PIDPressure)."""
    pressed = [
        (node["metadata"]["name"], c)
        for node in nodes
        for c in (node.get("status") or {}).get("conditions") or []
        if c.get("type") in s.pressure_conditions and c.get("status") == "True"
    ]
    if not pressed:
        return None
    kinds = Counter(c["type"] for _, c in pressed)
    return Finding(
        f"{len({n for n, _ in pressed})} of {len(nodes)} nodes under pressure "
        f"({counted(kinds)}; threshold 0)",
        [f"node/{n} {c['type']}: {c.get('message') or c.get('reason', '')}" for n, c in pressed],
        {"nodes": sorted({n for n, _ in pressed})},
    )


# -- DEP-114 replicas ------------------------------------------------------------------------


def hpa_for(w: Workload, hpas: Sequence[Obj]) -> Obj | None:
    """The HorizontalPodAutoscaler that scales this deployment, if one does."""
    for hpa in hpas:
        ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
        if ref.get("kind") == "Deployment" and ref.get("name") == w.name:
            return hpa
    return None


def replicas_below_minimum(
    w: Workload, hpas: Sequence[Obj], s: DeploymentSettings
) -> Finding | None:
    """DEP-114: the deployment asks for at least its minimum replicas (an HPA's, if any)."""
    if w.deployment is None:
        return not_found(w)
    hpa = hpa_for(w, hpas)
    if hpa is not None:
        minimum = int((hpa.get("spec") or {}).get("minReplicas", 1))
        source = f"minReplicas of HorizontalPodAutoscaler {hpa['metadata']['name']}"
    else:
        minimum = s.min_replicas.get(w.role, 1)
        source = f"deployment.min_replicas.{w.role}"
    replicas = int((w.deployment.get("spec") or {}).get("replicas", 1))
    if replicas >= minimum:
        return None
    available = int((w.deployment.get("status") or {}).get("availableReplicas", 0))
    return Finding(
        f"{w.ref} scaled to {replicas} replicas ({available} available) < minimum {minimum} "
        f"({source})",
        [f"kubectl get deployment {w.name} -n {w.namespace}"],
        {"deployment": w.name, "role": w.role, "replicas": replicas, "minimum": minimum},
    )


# -- the health of a revision, for rollbacks -----------------------------------------------


def revision_failures(
    w: Workload,
    rs: Obj,
    events: Sequence[Obj],
    registry: RegistryIndex | None,
    s: DeploymentSettings,
) -> list[str]:
    """Why a ReplicaSet's revision was itself failing (empty: healthy as far as can be told).

    A revision that runs pods is judged by them now: all Ready, none waiting in a failing
    reason (old events of pods long gone do not count against it). A revision scaled to
    zero is judged by the Warning events its pods left, and by whether its images exist in
    the registry.
    """
    reasons: list[str] = []
    rev = revision_of(rs)
    pods = w.pods_of(rs)
    wanted = int((rs.get("spec") or {}).get("replicas", 0))
    if pods or wanted:
        bad = {*s.failing_waiting_reasons, *s.image_pull_reasons}
        for pod in pods:
            for status in container_statuses(pod):
                wait = ((status.get("state") or {}).get("waiting") or {}).get("reason")
                if wait in bad:
                    reasons.append(f"revision {rev}: pod/{pod_name(pod)} {status['name']} {wait}")
        ready = sum(1 for p in pods if (condition(p, "Ready") or {}).get("status") == "True")
        if not reasons and ready < max(wanted, 1):
            reasons.append(f"revision {rev}: {ready} of {wanted} pods Ready")
        return reasons
    if registry is not None:
        for image in images_of((rs.get("spec") or {}).get("template") or {}):
            repo, tag, _ = split_image(image)
            if tag and tag not in registry.tags.get(repo, frozenset()):
                reasons.append(f"revision {rev}: image {image} not in the registry")
    prefix = rs["metadata"]["name"] + "-"
    for event in events:
        involved = event.get("involvedObject") or {}
        if (
            event.get("type") == "Warning"
            and involved.get("kind") == "Pod"
            and str(involved.get("name", "")).startswith(prefix)
            and event.get("reason") in s.failing_event_reasons
        ):
            reasons.append(
                f"revision {rev}: {event.get('reason')} on pod/{involved.get('name')}: "
                f"{event.get('message', '')}"
            )
    return list(dict.fromkeys(reasons))
