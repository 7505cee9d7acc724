"""DEP-105/DEP-106 against real registries: the lab's (htpasswd Basic), one without auth, one
with token auth (docker-registry `auth: token`, a certificate made here and a small real
token server), and a server that answers 500. Every registry is a docker-registry process.
"""

from __future__ import annotations

import base64
import json
import secrets
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from lab.k8s.kubeconfig import write_kubeconfig
from lab.k8s.server import start_emulator
from lab.processes import free_port
from lab.services.registry_push import RegistryPusher
from lab.testing import LabHandle
from tests.deployment.deployment_support import (
    API,
    CORE,
    FAST,
    WORKER,
    Inject,
    PrivateEmulator,
    Run,
    private_profile,
    statuses,
    use_lab_env,
    wait_until,
)
from tests.deployment.registry_support import running_registry
from tests.deployment.token_server import TokenServer

APP, WORKER_IMAGE = "ghcr.io/rolerabbit/app:v1.2.3", "ghcr.io/rolerabbit/worker:v1.2.3"
DEP105 = {f"DEP-105[{API}]", f"DEP-105[{WORKER}]"}


def dep105(result: Any) -> dict[str, str]:
    return {k: v for k, v in statuses(result).items() if k in DEP105}


# -- the lab's registry (htpasswd Basic, credentials in regcred) ----------------------------


def test_the_lab_registry_holds_the_running_tags_and_dep_105_passes(
    run_checks: Run, lab: LabHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_lab_env(lab, monkeypatch)
    result = run_checks("-k", "DEP-105 or DEP-106", profile=FAST)
    assert set(statuses(result).values()) == {"passed"}, result.stdout
    password = json.loads(lab.paths.secrets.read_text())["registry_password"]
    assert password not in result.stdout


def test_wrong_credentials_are_refused_not_missing(
    run_checks: Run, lab: LabHandle, fault: Inject, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_lab_env(lab, monkeypatch)
    fault("regcred-broken")
    result = run_checks("-k", "DEP-105", profile=FAST)
    assert dep105(result) == dict.fromkeys(DEP105, "inconclusive"), result.stdout
    endpoint = f"http://127.0.0.1:{lab.settings.registry_port}"
    assert (
        f"[DEP-105] inconclusive: cannot tell whether {APP} exists: the credentials of secret "
        f"regcred were refused by registry ghcr.io ({endpoint}): HEAD "
        "/v2/rolerabbit/app/manifests/v1.2.3 answered 401" in result.stdout
    )
    assert "not in registry" not in result.stdout


# -- a private emulator against registries of the test's own ------------------------------


@pytest.fixture
def emulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PrivateEmulator]:
    """A seeded emulator whose regcred holds tok-user's credentials for ghcr.io."""
    creds = ("ghcr.io", TokenServer.USER, TokenServer.PASSWORD)
    with start_emulator(pod_startup_seconds=0.2, registry_credentials=creds) as server:
        monkeypatch.setenv("KUBECONFIG", str(write_kubeconfig(tmp_path / "kc", server.url)))
        view = PrivateEmulator(server.url)
        wait_until(lambda: view.rolled_out(API) and view.rolled_out(WORKER), 30, "seeded pods")
        yield view


def app_only(root: Path) -> None:
    """Storage under `root` holding app:v1.2.3 only (worker:v1.2.3 never pushed)."""
    with running_registry(root) as registry:
        RegistryPusher(registry.endpoint).push_all({"ghcr.io/rolerabbit/app": ("v1.2.3",)})


def test_a_registry_without_auth_judges_present_and_missing(
    run_checks: Run, emulator: PrivateEmulator, tmp_path: Path
) -> None:
    app_only(tmp_path / "open")
    with running_registry(tmp_path / "open") as registry:
        result = run_checks("-k", "DEP-105", *private_profile(tmp_path, registry.endpoint))
    assert dep105(result) == {f"DEP-105[{API}]": "passed", f"DEP-105[{WORKER}]": "failed"}
    assert (
        f"{WORKER_IMAGE}: not in registry ghcr.io ({registry.endpoint}): HEAD "
        "/v2/rolerabbit/worker/manifests/v1.2.3 answered 404" in result.stdout
    )


def test_the_bearer_token_flow_with_a_token_auth_registry(
    run_checks: Run, emulator: PrivateEmulator, tmp_path: Path
) -> None:
    app_only(tmp_path / "tokens")
    with TokenServer(tmp_path) as tokens, running_registry(tmp_path / "tokens", tokens.auth()) as r:
        args = private_profile(tmp_path, r.endpoint)
        emulator.reset_stats()
        result = run_checks("-k", "DEP-105", *args)
        # The pull secret the pod templates name is read by one GET, and no Secret is listed.
        assert emulator.stats().get("get secrets") == 1, emulator.stats()
        assert "list secrets" not in emulator.stats()
        assert dep105(result) == {f"DEP-105[{API}]": "passed", f"DEP-105[{WORKER}]": "failed"}
        assert f"{WORKER_IMAGE}: not in registry ghcr.io ({r.endpoint})" in result.stdout
        # The token service was asked with the challenge's service and a pull scope, with
        # regcred's credentials; the token never shows.
        assert ("tok-user", "test-registry", "repository:rolerabbit/app:pull") in tokens.asked
        assert not any(token in result.stdout for token in tokens.issued)

        wrong = base64.b64encode(f"{TokenServer.USER}:{secrets.token_hex(8)}".encode()).decode()
        config = {"auths": {"ghcr.io": {"auth": wrong}}}
        data = {".dockerconfigjson": base64.b64encode(json.dumps(config).encode()).decode()}
        merge = "application/merge-patch+json"
        emulator.call("PATCH", f"{CORE}/secrets/regcred", {"data": data}, merge)
        refused = run_checks("-k", "DEP-105", *args)
    assert dep105(refused) == dict.fromkeys(DEP105, "inconclusive"), refused.stdout
    assert (
        f"the credentials of secret regcred were refused by registry ghcr.io ({r.endpoint}): "
        "its token service answered 401" in refused.stdout
    )


class Answers500(BaseHTTPRequestHandler):
    heads: list[str] = []  # the paths asked, in order (one server per test)

    def do_HEAD(self) -> None:
        self.heads.append(self.path)
        self.send_response(500)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_a_registry_answering_500_or_unreachable_is_inconclusive_never_a_pass(
    run_checks: Run, emulator: PrivateEmulator, tmp_path: Path
) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Answers500)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    Answers500.heads.clear()
    try:
        result = run_checks("-k", "DEP-105 or DEP-106", *private_profile(tmp_path, endpoint))
    finally:
        server.shutdown()
        server.server_close()
    assert dep105(result) == dict.fromkeys(DEP105, "inconclusive"), result.stdout
    # One HEAD per distinct reference per sweep, shared by DEP-105 and DEP-106.
    assert sorted(Answers500.heads) == [
        "/v2/rolerabbit/app/manifests/v1.2.3",
        "/v2/rolerabbit/worker/manifests/v1.2.3",
    ]
    assert (
        f"[DEP-105] inconclusive: cannot tell whether {APP} exists: registry ghcr.io "
        f"({endpoint}) answered HTTP 500 to HEAD /v2/rolerabbit/app/manifests/v1.2.3"
    ) in result.stdout
    closed = f"http://127.0.0.1:{free_port()}"
    gone = run_checks("-k", "DEP-105", *private_profile(tmp_path, closed))
    assert dep105(gone) == dict.fromkeys(DEP105, "inconclusive"), gone.stdout
    assert f"registry ghcr.io ({closed}) unreachable (connection refused)" in gone.stdout


def test_the_storage_helper_is_a_real_registry() -> None:
    """The fixture's registry answers the distribution API (a HEAD of a pushed manifest)."""
    with tempfile.TemporaryDirectory() as tmp, running_registry(Path(tmp)) as registry:
        pusher = RegistryPusher(registry.endpoint)
        assert pusher.push("rolerabbit/app", "v1") is True
        assert pusher.push("rolerabbit/app", "v1") is False  # idempotent: one HEAD
