"""The Deployment Failures sweep (`pytest -m deployment`) at 30 and at 3,000 pods.

Starts a seeded Kubernetes emulator in this process (no other client talks to it), adds
bare pods with its seed-pods hook, and runs the sweep as a child process against it with a
kubeconfig and a minimal profile. Prints, per size: wall time, the sweep's peak RSS
(the child's own maximum, from wait4), its result, and the API requests the emulator
received (GET /_lab/stats, reset before the run).

    .venv/bin/python bench/bench_deployment.py [--sizes 30,3000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lab.k8s.kubeconfig import write_kubeconfig  # noqa: E402
from lab.k8s.server import Emulator, start_emulator  # noqa: E402

NAMESPACE = "rolerabbit-production"


def call(emulator: Emulator, method: str, path: str, body: object = None) -> object:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(emulator.url + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read() or b"null")


def pod_count(emulator: Emulator) -> int:
    listing = call(emulator, "GET", f"/api/v1/namespaces/{NAMESPACE}/pods")
    assert isinstance(listing, dict)
    return len(listing["items"])


def wait_ready(emulator: Emulator, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listing = call(emulator, "GET", f"/api/v1/namespaces/{NAMESPACE}/pods")
        assert isinstance(listing, dict)
        pods = listing["items"]
        if pods and all(
            any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in (p.get("status") or {}).get("conditions") or []
            )
            for p in pods
        ):
            return
        time.sleep(0.5)
    raise SystemExit("the emulator's pods did not turn Ready in time")


def sweep(work: Path, kubeconfig: Path, profiles: Path) -> tuple[float, float, int, str]:
    """Wall seconds, peak RSS (MiB), exit code and the summary line of one sweep."""
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-m",
        "deployment",
        "-q",
        "-p",
        "no:cacheprovider",
        "--config",
        str(profiles),
        "--env",
        "bench",
        "--reports-dir",
        str(work / "reports"),
        str(ROOT / "checks"),
    ]
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert process.stdout is not None
    output = process.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    last = [line for line in output.splitlines() if line.strip()][-1]
    return elapsed, usage.ru_maxrss / 1024, process.returncode, last


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="30,3000", help="pod counts, comma-separated")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    print(f"{'pods':>6} {'wall s':>8} {'peak RSS MiB':>13} {'requests':>9}  result / requests")
    for size in sizes:
        with (
            tempfile.TemporaryDirectory(prefix="bench-deployment-") as tmp,
            start_emulator(pod_startup_seconds=0.2) as emulator,
        ):
            work = Path(tmp)
            kubeconfig = write_kubeconfig(work / "kubeconfig", emulator.url)
            profiles = work / "profiles.yaml"
            # No registry runs here: ghcr.io maps to a closed local port (refused at once, so
            # DEP-105 is inconclusive without waiting on the network).
            profile = {
                "kubernetes": {"namespace": NAMESPACE},
                "deployment": {"registry_endpoints": {"ghcr.io": "http://127.0.0.1:9"}},
            }
            profiles.write_text(yaml.safe_dump({"profiles": {"bench": profile}}))
            wait_ready(emulator)
            extra = size - pod_count(emulator)
            if extra > 0:
                call(
                    emulator,
                    "POST",
                    "/_lab/hooks/seed-pods",
                    {"count": extra, "namespace": NAMESPACE, "prefix": "bench"},
                )
            wait_ready(emulator, timeout=120)
            call(emulator, "POST", "/_lab/stats/reset", {})
            elapsed, rss, code, last = sweep(work, kubeconfig, profiles)
            stats = call(emulator, "GET", "/_lab/stats")
            assert isinstance(stats, dict)
            total = sum(stats.values())
            print(f"{pod_count(emulator):>6} {elapsed:>8.2f} {rss:>13.1f} {total:>9}  {last}")
            print(f"{'':>40}{json.dumps(stats, sort_keys=True)}")
            if code != 0:
                print(f"sweep exit code {code}", file=sys.stderr)
                return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
