"""The pre-deploy gate (`pytest -m predeploy --release IMAGE`) against the lab.

DEP-115 asks the lab's real registry (docker-registry with htpasswd Basic, standing in for
ghcr.io) for the release, with the pull secret of the Deployment it replaces. A tag is made
real by pushing it there through the distribution API (lab/services/registry_push.py),
with the lab's registry user. Exit codes are the README's: 0 pass, 1 refused, 4 usage.
"""

from __future__ import annotations

import json
import secrets
import socket
import time
from collections.abc import Iterator

import pytest

from lab.processes import free_port
from lab.services.registry import REGISTRY_USER
from lab.services.registry_push import RegistryPusher, image
from lab.testing import LabHandle
from tests.deployment.deployment_support import (
    API,
    FAST,
    WORKER,
    Emulator,
    Inject,
    Run,
    fast,
    statuses,
    wait_until,
)

APP = "ghcr.io/rolerabbit/app"
RELEASE = "DEP-115"
# What `-m predeploy` selects, each per-deployment check once per Deployment.
GATE = {
    f"DEP-101[{API}]",
    f"DEP-101[{WORKER}]",
    f"DEP-109[{API}]",
    f"DEP-109[{WORKER}]",
    RELEASE,
    "DB-101",
    "DB-102",
    "QUEUE-103",
    "QUEUE-104",
    "ERR-101",
}


def new_tag() -> str:
    """A tag no earlier test pushed (the lab's registry outlives a test)."""
    return f"v9.{secrets.randbelow(10**6)}.0"


def push(lab: LabHandle, repository: str, tag: str) -> None:
    password = json.loads(lab.paths.secrets.read_text())["registry_password"]
    endpoint = f"http://127.0.0.1:{lab.settings.registry_port}"
    assert RegistryPusher(endpoint, REGISTRY_USER, password).push(repository, tag) is True


def test_the_gate_refuses_a_release_never_pushed_and_accepts_it_once_pushed(
    lab: LabHandle, run_checks: Run
) -> None:
    image = f"{APP}:{new_tag()}"
    refused = run_checks("-m", "predeploy", "--release", image, profile=FAST)
    assert refused.outcome.ret == 1, refused.stdout
    got = statuses(refused)
    assert set(got) == GATE, got
    assert got[RELEASE] == "failed"
    assert {k: v for k, v in got.items() if k != RELEASE} == dict.fromkeys(
        GATE - {RELEASE}, "passed"
    )
    assert (
        f"[DEP-115] release {image} (replacing deployment/{API}) is not in its registry"
        in refused.stdout
    )
    tag = image.rsplit(":", 1)[1]
    assert f"HEAD /v2/rolerabbit/app/manifests/{tag} answered 404" in refused.stdout

    push(lab, "rolerabbit/app", tag)
    accepted = run_checks("-m", "predeploy", "--release", image, profile=FAST)
    assert accepted.outcome.ret == 0, accepted.stdout
    assert statuses(accepted) == dict.fromkeys(GATE, "passed")


def test_fail_on_decides_whether_a_missing_release_fails_the_gate(
    lab: LabHandle, run_checks: Run
) -> None:
    image = f"{APP}:{new_tag()}"
    # DEP-115 is high, as its section: below --fail-on critical, the gate lets it pass.
    lenient = run_checks("-k", RELEASE, "--release", image, "--fail-on", "critical")
    assert statuses(lenient) == {RELEASE: "failed"}
    assert lenient.outcome.ret == 0, lenient.stdout
    strict = run_checks("-k", RELEASE, "--release", image, "--fail-on", "high")
    assert statuses(strict) == {RELEASE: "failed"}
    assert strict.outcome.ret == 1, strict.stdout


def test_a_pull_secret_the_registry_refuses_fails_the_release(
    lab: LabHandle, run_checks: Run, fault: Inject
) -> None:
    """The cluster pulls with the same secret: a 401 to it means the deploy could not pull."""
    tag = new_tag()
    push(lab, "rolerabbit/app", tag)
    fault("regcred-broken")
    result = run_checks("-k", RELEASE, "--release", f"{APP}:{tag}")
    assert statuses(result) == {RELEASE: "failed"}, result.stdout
    assert result.outcome.ret == 1
    assert (
        f"[DEP-115] release {APP}:{tag} (replacing deployment/{API}) cannot be pulled with the "
        "Deployment's pull secret regcred: the registry refuses its credentials" in result.stdout
    )
    password = json.loads(lab.paths.secrets.read_text())["registry_password"]
    assert password not in result.stdout


def test_a_rollout_in_progress_holds_the_release_back(
    lab: LabHandle, run_checks: Run, fault: Inject
) -> None:
    """A sweep skips a rollout within its settle window; the gate cannot wave a release
    through while the last one may still fail: inconclusive, exit 1."""
    fault("bad-image", deadline="600")
    emulator = Emulator(lab)
    wait_until(lambda: not emulator.rolled_out(API), 10, "the rollout to start")
    image = f"{APP}:v1.2.3"
    result = run_checks(
        "-k", f"DEP-101 or {RELEASE}", "--release", image, profile=fast(settle_window_s=600)
    )
    got = statuses(result)
    assert got[f"DEP-101[{API}]"] == "inconclusive", result.stdout
    assert (got[RELEASE], got[f"DEP-101[{WORKER}]"]) == ("passed", "passed"), got
    assert result.outcome.ret == 1
    assert f"[DEP-101] inconclusive: rollout of deployment/{API} in progress for " in result.stdout
    assert f"; deploy {image} once it completes" in result.stdout


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """A port that takes connections and never answers (the kernel queues them unaccepted)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        server.close()


def test_a_registry_that_cannot_be_reached_leaves_the_release_inconclusive_in_bounded_time(
    lab: LabHandle, run_checks: Run, silent_endpoint: str
) -> None:
    image = f"{APP}:v1.2.3"  # in the lab's registry: only the endpoint is wrong
    bounds = "timeouts: {connect_s: 1, read_s: 1}\n"
    closed = f"http://127.0.0.1:{free_port()}"
    for endpoint, cause in ((closed, "connection refused"), (silent_endpoint, "timed out")):
        profile = bounds + f'deployment: {{registry_endpoints: {{"ghcr.io": "{endpoint}"}}}}\n'
        started = time.monotonic()
        result = run_checks("-k", RELEASE, "--release", image, profile=profile)
        took = time.monotonic() - started
        assert statuses(result) == {RELEASE: "inconclusive"}, result.stdout
        assert result.outcome.ret == 1
        assert (
            f"[DEP-115] inconclusive: cannot tell whether release {image} (replacing "
            f"deployment/{API}) is in its registry: registry ghcr.io ({endpoint}) "
            f"unreachable ({cause}" in result.stdout
        )
        assert took < 20, f"{cause}: the gate took {took:.1f}s"
        warned = run_checks(
            "-k", RELEASE, "--release", image, "--inconclusive", "warn", profile=profile
        )
        assert warned.outcome.ret == 0, warned.stdout


def test_the_release_deployment_is_found_by_repository_or_named(
    lab: LabHandle, run_checks: Run
) -> None:
    worker = run_checks("-k", RELEASE, "--release", "ghcr.io/rolerabbit/worker:v1.2.2")
    assert statuses(worker) == {RELEASE: "passed"}, worker.stdout
    # By digest: the manifest the lab pushed as app:v1.2.3 (the pusher's is deterministic).
    digest = image("rolerabbit/app", "v1.2.3")[2].digest
    pinned = run_checks("-k", RELEASE, "--release", f"{APP}@{digest}")
    assert statuses(pinned) == {RELEASE: "passed"}, pinned.stdout
    other = "ghcr.io/rolerabbit/reports:v1"
    unknown = run_checks("-k", RELEASE, "--release", other)
    assert statuses(unknown) == {RELEASE: "inconclusive"}, unknown.stdout
    assert (
        f"cannot tell which Deployment {other} replaces: no Deployment runs "
        "ghcr.io/rolerabbit/reports; name it with --release-deployment NAME" in unknown.stdout
    )
    # Named, it is asked with that Deployment's pull secret: the registry has no such image.
    named = run_checks("-k", RELEASE, "--release", other, "--release-deployment", API)
    assert statuses(named) == {RELEASE: "failed"}, named.stdout
    assert f"release {other} (replacing deployment/{API}) is not in its registry" in named.stdout
    wrong = run_checks("-k", RELEASE, "--release", other, "--release-deployment", "nope")
    assert "--release-deployment nope: no such Deployment" in wrong.stdout


def test_without_a_release_the_gate_is_inconclusive_and_a_sweep_leaves_the_check_out(
    lab: LabHandle, run_checks: Run
) -> None:
    gate = run_checks("-m", "predeploy", "-k", RELEASE)
    assert statuses(gate) == {RELEASE: "inconclusive"}, gate.stdout
    assert gate.outcome.ret == 1
    assert "no release given: pass --release IMAGE" in gate.stdout
    sweep = run_checks("-m", "deployment", "--co", "-q")
    assert "test_release_image" not in sweep.stdout
    assert "test_configuration_present" in sweep.stdout


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (
            ["-m", "predeploy", "--release", "ghcr.io/RoleRabbit/App:v2"],
            "--release: not an image reference: 'ghcr.io/RoleRabbit/App:v2': repository "
            "'RoleRabbit/App' must be lowercase",
        ),
        (
            ["-m", "predeploy", "--release", f"{APP}@sha256:abc"],
            "is not a digest (algorithm:hex)",
        ),
        (
            ["-m", "database", "--release", f"{APP}:v1.2.3"],
            "--release only applies when the release check DEP-115 is selected: "
            "add -m predeploy (the pre-deploy gate) or -k DEP-115",
        ),
        (
            ["-m", "predeploy", "--release-deployment", API],
            "--release-deployment only applies with --release IMAGE",
        ),
    ],
    ids=["uppercase", "bad-digest", "nothing-to-gate", "deployment-alone"],
)
def test_bad_gate_input_is_a_usage_error(
    lab: LabHandle, run_checks: Run, args: list[str], says: str
) -> None:
    result = run_checks(*args)
    assert result.outcome.ret == 4, result.stdout
    output = result.stdout + result.outcome.stderr.str()
    assert says in output
    assert "Traceback" not in output
