"""The lab's long-lived supervisor daemon.

`lab up` starts it detached (`python -m lab.supervisor --state-dir DIR`). It owns
every service process and the fault state, so faults that hold resources
outlive the `lab inject` command. It restarts crashed services unless a fault
deliberately stopped them, runs the Kubernetes bridge, and serves the control
API (control.py). On a failed start it writes `startup-error.txt`, stops
whatever it had started and exits 1.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from lab.control import ControlServer
from lab.credentials import Credentials
from lab.errors import LabError
from lab.fault_state import ActiveFaults
from lab.k8s_client import EmulatorClient, write_kubeconfig
from lab.outputs import write_outputs
from lab.paths import StatePaths, remove_state
from lab.processes import ProcessRecord, record_process
from lab.services.alerting import alerting_services
from lab.services.api_pods import ApiPool
from lab.services.base import LabContext, Service
from lab.services.bridge import WorkerPool
from lab.services.catalog import (
    ApiService,
    KubernetesEmulatorService,
    LoadGeneratorService,
    ProducerService,
    ThirdPartyService,
    emulator_available,
)
from lab.services.postgres import PostgresService
from lab.services.prometheus import (
    API_CONTAINER_PORT,
    PrometheusService,
    prometheus_available,
)
from lab.services.redis_server import RedisService
from lab.services.registry import RegistryService
from lab.settings import NAMESPACE, QUEUE_NAME, LabSettings
from lab.switches import clear_switches

MONITOR_INTERVAL = 0.5
STARTING_INTERVAL = 0.05
RESTART_BACKOFF = 1.0
SETTLE_TIMEOUT = 60.0  # at start and after a reset: rollouts, workers, the queue flowing
FLOWING_S = 2.0  # a job completes every half second in a healthy lab
# Request lines the API pods log, from the start or from a reset (which clears the pods'
# logs), before the lab counts as settled: ERR-105 does not judge a revision's error share
# from fewer than bad_rollout_min_lines (20 by default), and the emulator reads the pods'
# files every 0.2 s (about 2 more lines of the load's 10 a second). Without this, a sweep
# right after a reset that replaced no pod would find the API's logs all but empty.
SETTLED_LOG_LINES = 25
STORES = ("postgres", "redis", "registry")  # started first, together; stopped last
STORES_SEEDED = ("postgres", "registry")  # then filled, together: schema and seed, images


# A job held this long under one lock token has lost its worker (a lab job takes <= 0.2 s).
ORPHAN_AFTER_S = 1.0


class Supervisor:
    """Runs the services; implements `lab.faults.framework.LabControl` for the faults."""

    def __init__(self, settings: LabSettings) -> None:
        paths = StatePaths(settings.state_dir)
        self.ctx = LabContext(settings, paths, Credentials.load_or_create(paths.secrets))
        self.lock = threading.RLock()
        self.phase = "starting"
        self.phase_detail = ""
        self._log_marks: dict[str, int] = {}  # API pod -> its log's size when a reset began
        self.stopping = threading.Event()
        self.orphaned = False  # stopped because its owner is gone: the state dir goes too
        self.emulator: KubernetesEmulatorService | None = None
        if settings.kubernetes and emulator_available():
            self.emulator = KubernetesEmulatorService(self.ctx)
        self.k8s = (
            EmulatorClient(self.emulator.url, self.ctx.credentials.k8s_token)
            if self.emulator
            else None
        )
        # Start order; shutdown runs in reverse.
        self.services: dict[str, Service] = {}
        for service in (
            PostgresService(self.ctx),
            RedisService(self.ctx),
            RegistryService(self.ctx),
            ThirdPartyService(self.ctx),
            *([self.emulator] if self.emulator else []),
            ApiService(self.ctx),
            ProducerService(self.ctx),
            LoadGeneratorService(self.ctx),
            *([PrometheusService(self.ctx)] if prometheus_available() else []),
            *alerting_services(self.ctx),
        ):
            self.services[service.name] = service
        postgres = self.services["postgres"]
        assert isinstance(postgres, PostgresService)
        self.postgres: PostgresService = postgres
        k8s_url = self.emulator.url if self.emulator else None
        self.workers = WorkerPool(self.ctx, k8s_url)
        self.api = ApiPool(self.ctx, k8s_url)  # behind the balancer, the "api" service
        self.pools = (self.api, self.workers)
        self.faults = ActiveFaults(self)
        self._last_restart: dict[str, float] = {}
        self.started_at = time.time()
        self.control = ControlServer(
            paths,
            {
                ("GET", "/status"): lambda _: self.status(),
                ("GET", "/faults"): lambda _: self.faults.catalogue(),
                ("POST", "/inject"): lambda b: self.faults.inject(b["name"], b.get("params") or {}),
                ("POST", "/clear"): lambda b: self.faults.clear(b["name"]),
                ("POST", "/reset"): lambda _: self.reset(),
                ("POST", "/shutdown"): lambda _: self.request_shutdown(),
            },
        )

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> None:
        paths = self.ctx.paths
        clear_switches(paths.switches)  # a previous (crashed) supervisor's faults are gone
        self.control.start()
        t0 = time.monotonic()
        # PostgreSQL (initdb on first start), Redis and the image registry are independent:
        # start them at once; then the schema and the image pushes. Prometheus too: it
        # sends its discovered targets to its scrapers every 5 s from its start (a fixed
        # tick), so the lab's first scrape of the API pods, which the lab waits for, comes
        # about 5 s after Prometheus starts, whatever else is ready by then.
        first = [n for n in (*STORES, "prometheus") if n in self.services]
        self._set_phase("starting", ", ".join(first))
        with ThreadPoolExecutor(max_workers=len(first)) as pool:
            for future in [pool.submit(self._bring_up, self.services[n]) for n in first]:
                future.result()
        self._set_phase("starting", "schema, seed and images")
        with ThreadPoolExecutor(max_workers=2) as pool:  # the database and the registry
            for future in [pool.submit(self.services[n].after_ready) for n in STORES_SEEDED]:
                future.result()
        rest = [s for n, s in self.services.items() if n not in first]
        self._set_phase("starting", ", ".join(s.name for s in rest))
        for service in rest:
            service.prepare()
            service.start()
        for service in rest:
            service.wait_ready()
        if self.emulator is not None:
            write_kubeconfig(paths.kubeconfig, self.emulator.url)
        write_outputs(self.ctx)
        self._set_phase("starting", "pods and workers")
        self._wait_settled()
        self._set_phase("ready", f"started in {time.monotonic() - t0:.1f}s")

    def _bring_up(self, service: Service) -> None:
        service.prepare()
        service.start()
        service.wait_ready()

    def _set_phase(self, phase: str, detail: str) -> None:
        self.phase, self.phase_detail = phase, detail

    def owner_gone(self) -> bool:
        """The lab has an owner (a test session) and it no longer runs."""
        settings = self.ctx.settings
        # Gone also when killed but not yet reaped (a zombie), or its pid was reused.
        owner = ProcessRecord("owner", settings.owner_pid, settings.owner_started)
        return bool(settings.owner_pid) and not owner.alive()

    def monitor(self) -> None:
        """Restart crashed services (unless a fault stopped them) and run the bridge; stop
        the lab when its owner is gone."""
        while not self.stopping.wait(self._monitor_interval()):
            if self.owner_gone():
                print(f"owner process {self.ctx.settings.owner_pid} is gone: stopping", flush=True)
                self.orphaned = True
                self.stopping.set()
                return
            with self.lock:
                if self.stopping.is_set():
                    return
                now = time.monotonic()
                for name, service in self.services.items():
                    if not service.wanted or service.running():
                        continue
                    if now - self._last_restart.get(name, 0.0) < RESTART_BACKOFF:
                        continue
                    self._last_restart[name] = now
                    service.restarts += 1
                    try:
                        service.prepare()
                        service.start()
                    except (LabError, OSError) as exc:
                        print(f"restart of {name} failed: {exc}", flush=True)
                for pods in self.pools:
                    pods.reconcile()
                self._point_prometheus()

    def _monitor_interval(self) -> float:
        """Shorter while a pod's process is starting: its pod turns Ready (and a rollout
        moves on) once the bridge sees the process answer and tells the emulator."""
        with self.lock:
            starting = any(pods.pending() for pods in self.pools)
        return STARTING_INTERVAL if starting else MONITOR_INTERVAL

    def _point_prometheus(self) -> None:
        """Keep the lab Prometheus's targets on the API pods that serve (file discovery)."""
        prometheus = self.services.get("prometheus")
        if isinstance(prometheus, PrometheusService) and self.emulator is not None:
            prometheus.write_targets((pod, API_CONTAINER_PORT) for pod in self.api.ready_serving())

    def request_shutdown(self) -> str:
        self.stopping.set()
        return "shutting down"

    def shutdown(self) -> None:
        self.stopping.set()
        self._set_phase("stopping", "")
        with self.lock:
            self.faults.release_all()
            for pods in self.pools:
                pods.stop_all()
            ordered = list(self.services.values())[::-1]
            # Python processes stop in parallel; the data stores after them.
            front = [s for s in ordered if s.name not in STORES]
            with ThreadPoolExecutor(max_workers=8) as pool:
                list(pool.map(lambda s: s.stop(timeout=5), front))
            with ThreadPoolExecutor(max_workers=len(STORES)) as pool:
                list(pool.map(lambda s: s.stop(timeout=15), ordered[len(front) :]))

    # -- LabControl (used by faults) -----------------------------------------------
    def stop_service(self, name: str) -> None:
        with self.lock:
            service = self._service(name)
            service.wanted = False
            service.stop()

    def start_service(self, name: str) -> None:
        with self.lock:
            service = self._service(name)
            service.wanted = True
            if not service.running():
                service.prepare()
                service.start()
            service.wait_ready()

    def set_switch(self, key: str, value: Any) -> None:
        from lab.switches import set_switch

        set_switch(self.ctx.paths.switches, key, value)

    def connect_db(self, role: str = "superuser", **kwargs: Any) -> Any:
        import psycopg

        from lab.services.postgres import role_url, superuser_dsn

        creds = self.ctx.credentials
        urls = {
            "superuser": superuser_dsn(self.ctx, "rolerabbit"),
            "app": role_url(self.ctx, "rolerabbit_app", creds.app_password),
            "monitor": role_url(self.ctx, "rolerabbit_monitor", creds.monitor_password),
            "fixer": role_url(self.ctx, "rolerabbit_fixer", creds.fixer_password),
        }
        kwargs.setdefault("connect_timeout", 3)
        return psycopg.connect(urls[role], **kwargs)

    def redis_client(self) -> Any:
        import redis

        from lab.services.redis_server import redis_url

        return redis.Redis.from_url(redis_url(self.ctx), socket_timeout=3, socket_connect_timeout=3)

    @property
    def kubernetes_available(self) -> bool:
        return self.k8s is not None

    def k8s_hook(self, name: str, body: dict[str, Any]) -> Any:
        if self.k8s is None:
            raise LabError("this fault needs the Kubernetes emulator, which is not running")
        return self.k8s.hook(name, body)

    def api_pods(self) -> dict[str, int]:
        with self.lock:
            return self.api.ready_serving()

    def set_static_workers_stopped(self, stopped: bool) -> None:
        with self.lock:
            self.workers.stopped = stopped
            self.workers.reconcile()

    def running_workers(self) -> set[str]:
        with self.lock:  # after the monitor's reconcile, which may list the pods before a hook
            self.workers.reconcile()
            return self.workers.running_pods()

    def _service(self, name: str) -> Service:
        try:
            return self.services[name]
        except KeyError:
            raise LabError(f"no service {name!r}; services: {', '.join(self.services)}") from None

    # -- control API ---------------------------------------------------------------
    def reset(self) -> dict[str, Any]:
        """Clear every fault, then bring the lab back to its healthy state (bounded).

        The emulator is re-seeded only if a fault or a fix changed the cluster (a re-seed
        replaces every pod, so every worker process restarts); otherwise only the pods'
        logs are cleared, so errors logged under a fault are not read by the next sweep.
        It goes first: the faults' clears then find the seeded Deployments, so restoring
        a spec or replacing a faulted pod costs no rollout.
        """
        held = self._held_jobs()
        # Only a fault makes the pods log what the next sweep must not read: without one
        # since the last reset, their logs stay (and nothing waits for new lines).
        faulted = self.faults.take_injected()
        self._log_marks = self._api_log_sizes() if faulted else {}
        if self.k8s is not None:
            self.k8s.reset(if_changed=True, clear_logs=faulted)
        cleared = self.faults.clear_all()
        clear_switches(self.ctx.paths.switches)
        with self.lock:
            self.workers.stopped = False
            for service in self.services.values():
                service.wanted = True
                if not service.running():
                    service.prepare()
                    service.start()
            for service in self.services.values():
                service.wait_ready()
            for pods in self.pools:
                pods.reconcile()
        self._wait_settled()
        self._release_orphans(held)
        return {"cleared": cleared}

    def _held_jobs(self) -> tuple[float, dict[str, str]]:
        """When, and which active jobs under which lock tokens, as a reset starts."""
        import redis

        from lab.faults.queue.support import held_jobs

        try:
            return time.monotonic(), held_jobs(self)
        except redis.RedisError:  # stopped by a fault: it restarts with an empty queue
            return time.monotonic(), {}

    def _release_orphans(self, before: tuple[float, dict[str, str]]) -> None:
        """Give back the jobs still held under the token they had when the reset started,
        at least a second ago: a lab job takes at most 0.2 s, so their workers were killed
        or wedged by a fault (or by a pod replaced under them). Their locks would keep them
        active, then stalled until BullMQ's own check, for up to a minute after the reset,
        and the next sweep would find them (QUEUE-107)."""
        import redis

        from lab.faults.queue.support import held_jobs, release

        started, held = before
        try:
            still = {job: token for job, token in held_jobs(self).items() if held.get(job) == token}
            if not still:
                return
            time.sleep(max(0.0, started + ORPHAN_AFTER_S - time.monotonic()))
            release(self, still)
        except redis.RedisError:
            return  # the queue checks will say what is wrong with Redis

    def _wait_settled(self) -> None:
        """Bounded wait, at start and after a reset, until the lab is healthy: the seeded
        Deployments rolled out (a sweep or a fault must not find a rollout in progress),
        one worker process per Ready worker pod, and jobs completing again (after a Redis
        restart the queue starts empty). The monitor thread keeps reconciling."""
        deadline = time.monotonic() + SETTLE_TIMEOUT
        pending: str | None = "the lab"
        while time.monotonic() < deadline:
            pending = self._unsettled()
            if pending is None:
                return
            time.sleep(0.2)
        raise LabError(
            f"{pending} did not settle within {SETTLE_TIMEOUT:.0f}s; "
            "see: lab status, and the logs in " + str(self.ctx.paths.logs)
        )

    def _unsettled(self) -> str | None:
        """What is still settling, or None. The pools reconcile first: a new API pod turns
        Ready (and its rollout moves on) only once its process serves."""
        with self.lock:
            for pods in self.pools:
                pods.reconcile()
            self._point_prometheus()
            api_pods, serving = self.api.desired_pods(), set(self.api.serving())
            workers, running = self.workers.desired_pods(), self.workers.running_pods()
        if self.k8s is not None:
            listing = self.k8s.call("GET", f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments")
            for deployment in listing.get("items") or []:
                if not rolled_out(deployment):
                    return f"deployment/{deployment['metadata']['name']}'s rollout"
        if api_pods is None or api_pods != serving:
            return "the API processes (one per Ready API pod)"
        if workers is None or workers != running:
            return "the worker processes (one per Ready worker pod)"
        if not self._jobs_completing():
            return f"the {QUEUE_NAME} queue (a job completed within {FLOWING_S:g}s)"
        prometheus = self.services.get("prometheus")
        if isinstance(prometheus, PrometheusService) and not prometheus.scrapes(serving):
            return "Prometheus (a scrape of every API pod)"
        if self.emulator is not None and (lines := self._api_lines_logged()) < SETTLED_LOG_LINES:
            return f"the API pods' logs ({lines} lines since the reset; {SETTLED_LOG_LINES} wanted)"
        return None

    def _api_log_sizes(self) -> dict[str, int]:
        """Each serving API pod's log file size: where a reset starts counting lines."""
        sizes = {}
        for pod in self.api_pods():
            try:
                sizes[pod] = self.ctx.paths.api_log(pod).stat().st_size
            except OSError:
                continue  # not written yet: count from its start
        return sizes

    def _api_lines_logged(self) -> int:
        """Lines the serving API pods logged since the last reset (or since they started)."""
        total = 0
        for pod in self.api_pods():
            try:
                with self.ctx.paths.api_log(pod).open("rb") as log:
                    log.seek(self._log_marks.get(pod, 0))
                    total += log.read().count(b"\n")
            except OSError:
                continue
        return total

    def _jobs_completing(self) -> bool:
        """Whether a job completed within FLOWING_S (Redis' clock): the queue flows."""
        import redis

        try:
            with self.redis_client() as client:
                newest = client.zrevrange(f"bull:{QUEUE_NAME}:completed", 0, 0, withscores=True)
                seconds, micros = client.time()
        except redis.RedisError:
            return False
        now_ms = seconds * 1000 + micros / 1000
        return bool(newest) and now_ms - float(newest[0][1]) < FLOWING_S * 1000

    def status(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "detail": self.phase_detail,
            "supervisor_pid": os.getpid(),
            "state_dir": str(self.ctx.paths.root),
            "services": [s.describe() for s in self.services.values()],
            "workers": self.workers.describe(),
            "api_pods": self.api.describe(),
            "bridge": {
                "mode": "kubernetes" if self.emulator else "static",
                "error": self.workers.last_error or self.api.last_error,
            },
            "faults": self.faults.active(),
            "postgres_data": self.postgres.data_location(),
        }


def rolled_out(deployment: dict[str, Any]) -> bool:
    """A complete rollout, as `kubectl rollout status` judges it."""
    spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
    want = int(spec.get("replicas", 1))
    return (
        status.get("observedGeneration", 0) >= deployment["metadata"].get("generation", 0)
        and status.get("updatedReplicas", 0) == want
        and status.get("replicas", 0) == want
        and status.get("availableReplicas", 0) == want
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lab-supervisor")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--daemonize", action="store_true", help="fork; the parent exits at once")
    args = parser.parse_args(argv)
    if args.daemonize and os.fork() > 0:
        # The launcher returns immediately, so the daemon is nobody's child to reap.
        os._exit(0)
    paths = StatePaths(args.state_dir.resolve())
    paths.ensure()
    record_process(paths.supervisor_pid, "supervisor", os.getpid())
    supervisor = Supervisor(LabSettings.load(paths.root))
    signal.signal(signal.SIGTERM, lambda *_: supervisor.stopping.set())
    signal.signal(signal.SIGINT, lambda *_: supervisor.stopping.set())
    code = 0
    try:
        supervisor.start()
        print(f"lab ready: {supervisor.phase_detail}", flush=True)
        monitor = threading.Thread(target=supervisor.monitor, name="monitor", daemon=True)
        monitor.start()
        supervisor.stopping.wait()
        monitor.join(timeout=10)
    except LabError as exc:
        paths.startup_error.write_text(str(exc) + "\n")
        supervisor._set_phase("failed", str(exc))
        code = 1
    except Exception:
        paths.startup_error.write_text("the lab supervisor crashed:\n" + traceback.format_exc())
        supervisor._set_phase("failed", "crashed")
        code = 1
    finally:
        # Cleanup on every path, also after a half-failed start.
        supervisor.shutdown()
        supervisor.control.stop()
        paths.supervisor_pid.unlink(missing_ok=True)
        if supervisor.orphaned:
            remove_state(paths.root)
    return code


if __name__ == "__main__":
    sys.exit(main())
