"""The Deployment Failures sweep (`pytest -m deployment`) at 30, 3,000 and 10,000 pods.

Starts a seeded Kubernetes emulator in this process (no other client talks to it), adds
bare pods with its seed-pods hook, and runs the sweep as a child process against it with a
kubeconfig and a minimal profile. Prints, per size: wall time; the sweep's CPU seconds and
peak RSS (from wait4 in a small fresh parent: a child forked from this process would
inherit the emulator's high-water mark); the emulator's CPU seconds during the sweep (this
process's, which does nothing else meanwhile: HTTP serving plus its controller thread, whose
idle rate is measured just before and printed too), of which serving the API requests alone
(its handler threads' CPU), and its RSS; the sweep's result; and the
API requests the emulator received (GET /_lab/stats, reset before the run).

The suite's cost is the child's CPU; the emulator's serving cost is its own CPU here, in
another process: the wall time holds both (and, on a shared machine, other load).

`--profile DIR` also writes, per size, a cProfile of the sweep (DIR/suite-N.prof; read with
`python -m pstats`) and, when py-spy is on PATH, a py-spy profile of the emulator's threads
(DIR/emulator-N.txt, collapsed stacks); profiling slows both, so time without it.

    .venv/bin/python bench/bench_deployment.py [--sizes 30,3000,10000] [--profile DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Run:
    """One sweep: wall and CPU seconds, peak RSS (MiB), exit code and summary line."""

    wall: float
    cpu: float
    rss: float
    code: int
    last: str


# The sweep's own peak RSS: a child forked from this process would inherit its high-water
# mark (the emulator's objects) through fork and exec, so a small fresh interpreter forks
# the sweep and reports what wait4 says of it on its last line.
RUSAGE = """import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print("rusage", usage.ru_maxrss, usage.ru_utime + usage.ru_stime, flush=True)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def sweep(work: Path, kubeconfig: Path, profiles: Path, profile: Path | None) -> Run:
    # DEP-105 is inconclusive here (no registry runs): a warning, not a failed run.
    options = ["-m", "deployment", "-q", "-p", "no:cacheprovider", "--inconclusive", "warn"]
    options += ["--config", str(profiles), "--env", "bench"]
    options += ["--reports-dir", str(work / "reports"), str(ROOT / "checks")]
    python = [sys.executable] + (["-m", "cProfile", "-o", str(profile)] if profile else [])
    command = [sys.executable, "-S", "-c", RUSAGE, *python, "-m", "pytest", *options]
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    started = time.perf_counter()
    output = subprocess.run(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False
    )
    elapsed = time.perf_counter() - started
    lines = [line for line in output.stdout.decode(errors="replace").splitlines() if line.strip()]
    _, maxrss, cpu = lines[-1].split()
    return Run(elapsed, float(cpu), int(maxrss) / 1024, output.returncode, lines[-2])


def spy(out: Path) -> subprocess.Popen[bytes] | None:
    """py-spy recording this process (the emulator's threads) until stopped, if installed."""
    binary = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(binary).exists():
        print("py-spy not found: no emulator profile", file=sys.stderr)
        return None
    command = [binary, "record", "--pid", str(os.getpid()), "--format", "raw", "-o", str(out)]
    spied = subprocess.Popen([*command, "--rate", "200"], stdout=subprocess.DEVNULL)
    time.sleep(1)  # let it attach before the sweep starts
    return spied


def seed(emulator: Emulator, size: int) -> None:
    wait_ready(emulator)
    extra = size - pod_count(emulator)
    if extra > 0:
        body = {"count": extra, "namespace": NAMESPACE, "prefix": "bench"}
        call(emulator, "POST", "/_lab/hooks/seed-pods", body)
    wait_ready(emulator, timeout=300)


def own_rss() -> float:
    """This process's resident MiB now: the emulator and its objects."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def idle_cpu_rate(seconds: float = 2.0) -> float:
    """The emulator's CPU seconds per second with no client: its controller's own work."""
    before = time.process_time()
    time.sleep(seconds)
    return (time.process_time() - before) / seconds


def measure(size: int, profile_dir: Path | None) -> int:
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
        seed(emulator, size)
        idle = idle_cpu_rate()
        spied = spy(profile_dir / f"emulator-{size}.txt") if profile_dir else None
        call(emulator, "POST", "/_lab/stats/reset", {})
        cpu_before = time.process_time()
        suite_profile = profile_dir / f"suite-{size}.prof" if profile_dir else None
        run = sweep(work, kubeconfig, profiles, suite_profile)
        emulator_cpu = time.process_time() - cpu_before
        serving = emulator.cluster.stats.serving_cpu_s
        if spied is not None:
            spied.send_signal(signal.SIGINT)
            spied.wait(timeout=60)
        stats = call(emulator, "GET", "/_lab/stats")
        assert isinstance(stats, dict)
        print(
            f"{pod_count(emulator):>6} {run.wall:>7.2f} {run.cpu:>9.2f} {run.rss:>8.1f} "
            f"{emulator_cpu:>8.2f} {serving:>9.2f} {idle:>7.2f} "
            f"{own_rss():>8.0f} {sum(stats.values()):>8}  "
            f"{run.last}"
        )
        print(f"{'':>8}{json.dumps(stats, sort_keys=True)}")
        if run.code != 0:
            print(f"sweep exit code {run.code}", file=sys.stderr)
        return run.code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="30,3000,10000", help="pod counts, comma-separated")
    parser.add_argument("--profile", type=Path, help="write profiles of both sides here")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    print(
        f"{'pods':>6} {'wall s':>7} {'suite CPU':>9} {'RSS MiB':>8} {'emu CPU':>8} "
        f"{'emu serve':>9} {'idle/s':>7} {'emu RSS':>8} {'requests':>8}  result / requests"
    )
    for size in sizes:
        if code := measure(size, args.profile):
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
