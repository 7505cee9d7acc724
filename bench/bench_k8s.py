"""Benchmark the Kubernetes API emulator the way the suite uses it.

1. List 5,000 pods in pages of 500 with the official client: wall time, and
   peak RSS of the emulator process and of this client process.
2. ``rollout restart`` of a 100-replica deployment: time until the rollout
   is complete (all replicas updated and available, old pods gone).

The emulator runs as a subprocess (``python -m lab.k8s``) so its RSS is its own.
Run: ``.venv/bin/python bench/bench_k8s.py``.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import psutil
from kubernetes import client, config

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from lab.k8s.kubeconfig import write_kubeconfig

POD_COUNT = 5000
PAGE = 500
REPLICAS = 100


def _peak_rss_mib(process: psutil.Process) -> float:
    # VmHWM is the kernel's high-water mark of resident memory for the process.
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return process.memory_info().rss / 2**20


def _post(url: str, body: dict[str, object]) -> dict[str, object]:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=300) as response:
        result: dict[str, object] = json.loads(response.read())
        return result


def _wait(check: object, timeout: float, what: str) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if check():  # type: ignore[operator]
            return time.perf_counter() - start
        time.sleep(0.05)
    raise SystemExit(f"timed out after {timeout}s waiting for {what}")


def _rollout_complete(apps: client.AppsV1Api, name: str, namespace: str) -> bool:
    d = apps.read_namespaced_deployment(name, namespace)
    s = d.status
    return bool(
        s
        and s.observed_generation == d.metadata.generation
        and s.updated_replicas == s.replicas == s.available_replicas == d.spec.replicas
    )


def main() -> int:
    emulator = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lab.k8s",
            "--port",
            "0",
            "--seed",
            "empty",
            "--pod-startup-seconds",
            "0.2",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        assert emulator.stdout is not None
        line = emulator.stdout.readline().strip()
        if not line.startswith("ready "):
            raise SystemExit(f"emulator did not start: {line!r}")
        url = line.split()[1]
        process = psutil.Process(emulator.pid)
        with tempfile.TemporaryDirectory() as scratch:
            kubeconfig = write_kubeconfig(Path(scratch) / "config", url, namespace="bench")
            configuration = client.Configuration()
            config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
            api = client.ApiClient(configuration)
        core, apps = client.CoreV1Api(api), client.AppsV1Api(api)

        started = time.perf_counter()
        _post(f"{url}/_lab/hooks/seed-pods", {"count": POD_COUNT, "namespace": "bench"})
        seeded = time.perf_counter() - started
        # Let the kubelet start them all first: the suite lists a settled cluster.
        settle = _wait(
            lambda: (
                not core.list_namespaced_pod(
                    "bench", field_selector="status.phase!=Running", limit=1
                ).items
            ),
            120,
            "bench pods to run",
        )
        baseline_rss = process.memory_info().rss / 2**20

        started = time.perf_counter()
        names: list[str] = []
        token, pages = None, 0
        while True:
            page = core.list_namespaced_pod("bench", limit=PAGE, _continue=token)
            names += [p.metadata.name for p in page.items]
            pages += 1
            token = page.metadata._continue
            if not token:
                break
        listed = time.perf_counter() - started
        assert len(names) == len(set(names)) == POD_COUNT, len(names)
        client_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"[1] list {POD_COUNT} pods in {pages} pages of {PAGE}: {listed:.2f} s wall "
            f"({POD_COUNT / listed:.0f} pods/s); seeding {seeded:.2f} s, "
            f"all Running after {settle:.2f} s"
        )
        print(
            f"    emulator RSS after seeding {baseline_rss:.0f} MiB, "
            f"peak {_peak_rss_mib(process):.0f} MiB; client peak RSS {client_peak:.0f} MiB"
        )

        core.delete_namespace("bench")
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="rollout")))
        labels = {"app": "bench-api"}
        apps.create_namespaced_deployment(
            "rollout",
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "bench-api"},
                "spec": {
                    "replicas": REPLICAS,
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {
                            "containers": [
                                {"name": "api", "image": "ghcr.io/rolerabbit/app:v1.2.3"}
                            ]
                        },
                    },
                },
            },
        )
        initial = _wait(
            lambda: _rollout_complete(apps, "bench-api", "rollout"), 120, "initial rollout"
        )
        restarted_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        started = time.perf_counter()
        apps.patch_namespaced_deployment(
            "bench-api",
            "rollout",
            {
                "spec": {
                    "template": {
                        "metadata": {
                            "annotations": {"kubectl.kubernetes.io/restartedAt": restarted_at}
                        }
                    }
                }
            },
        )
        _wait(
            lambda: (
                apps.read_namespaced_deployment("bench-api", "rollout").status.observed_generation
                == 2
            ),
            30,
            "observe",
        )
        _wait(lambda: _rollout_complete(apps, "bench-api", "rollout"), 300, "restart rollout")
        _wait(
            lambda: len(core.list_namespaced_pod("rollout").items) == REPLICAS, 60, "old pods to go"
        )
        restart = time.perf_counter() - started
        print(
            f"[2] rollout restart of a {REPLICAS}-replica deployment (25% surge/unavailable, "
            f"0.2 s pod start-up): complete in {restart:.2f} s (initial rollout {initial:.2f} s)"
        )
        print(f"    emulator peak RSS overall {_peak_rss_mib(process):.0f} MiB")
        api.close()
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
