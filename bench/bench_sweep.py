"""The full sweep (`pytest checks`, every section) against the runbook's scripted diagnosis.

In one run against one lab (a private one, or the lab at $LAB_ATTACH_STATE_DIR), each
measured --runs times (default 3), medians printed:

    runbook     bench/runbook-baseline.sh: the runbook's ~35 diagnosis commands for the
                five sections (kubectl, psql, redis-cli, curl, jq), as an operator runs them
    cold        `pytest checks`, a fresh reports dir: no recorded state
    warm        the same, in a reports dir whose previous sweep is seconds old (the
                metrics window starts from its recorded scrape)
    prometheus  `pytest checks --env lab-prometheus`: errors and performance read Prometheus
    -n 2        the cold sweep with `-n 2`: a sweep of one environment drops the workers
                and runs serially (opscheck/workers.py), so this is the serial cold sweep
                plus xdist's option handling
    -n 2 kept   the same with --parallel-sweep: two workers, each with its own reads

and the same sweeps in a resident process, as `opscheck-sweeper` runs them (pytest.main
again and again in one interpreter: imports, plugins and clients are paid once):

    sweeper warm        the scheduled sweep: its previous sweep is seconds old
    sweeper cold        a target's first sweep: a fresh reports dir, no recorded state
    sweeper prometheus  the same with --env lab-prometheus

The sweeps pass `--reports-dir=DIR`: written `--reports-dir DIR`, a new process runs
itself again once to read it (opscheck/invocation.py), which would add a start-up.

For each: wall time, peak RSS of the pytest process (its own maximum, from wait4; with
-n 2 the largest of it and its workers), and the Kubernetes requests it made, counted by
the emulator (GET /_lab/stats?agent=..., reset before: kubectl's for the runbook, the
suite's own User-Agent for the sweeps, so the lab's own background clients are left
out). Then the LISTs per resource type of one sweep of each kind, with how many asked
for resourceVersion=0 (served=cache) and how many were the windowed samplers' samples.

    .venv/bin/python bench/bench_sweep.py [--runs 3] [--write-bytecode]

Python writes no bytecode cache where PYTHONDONTWRITEBYTECODE is set (some sandboxes and
containers do): every sweep then compiles the suite's modules again, pytest's assertion
rewriting included. The bench measures as the environment is and says which; with
--write-bytecode it unsets the variable for the sweeps, as on a host that keeps its
__pycache__ (the first sweep writes it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_errors import running_lab  # noqa: E402  (one way to start the bench's lab)

from checks.errors.settings import ErrorsSettings  # noqa: E402
from checks.queue.settings import QueueSettings  # noqa: E402
from lab.outputs import read_env_file  # noqa: E402

SUITE = "rolerabbit-opscheck"


@dataclass
class Run:
    wall: float
    rss_mib: float
    code: int
    requests: dict[str, int]
    by_served: dict[str, dict[str, int]] = field(default_factory=dict)
    io: dict[str, int] = field(default_factory=dict)


class Bench:
    def __init__(self, state_dir: Path, work: Path, write_bytecode: bool) -> None:
        self.state_dir, self.work = state_dir, work
        env = read_env_file(str(state_dir / "env"))
        profile = yaml.safe_load((state_dir / "profile.yaml").read_text())["profiles"]["lab"]
        self.profile: dict[str, dict[str, object]] = profile
        statuses = {n: d["status_url"] for n, d in profile["dependencies"].items()}
        self.env = {
            **os.environ,
            **env,
            "LAB_STATE_DIR": str(state_dir),
            "OPSCHECK_STATE_DIR": str(work / "opscheck-state"),
            "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ.get('PATH', '')}",
            "STRIPE_STATUS_URL": statuses["stripe"],
            "CLOUDFLARE_STATUS_URL": statuses["cloudflare"],
        }
        if write_bytecode:
            self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        kubeconfig = yaml.safe_load(Path(env["KUBECONFIG"]).read_text())
        self.emulator = kubeconfig["clusters"][0]["cluster"]["server"]
        self.sweeps = 0

    def stats(self, query: str) -> dict[str, object]:
        with urllib.request.urlopen(f"{self.emulator}/_lab/stats?{query}", timeout=10) as r:
            data: dict[str, object] = json.loads(r.read())
        return data

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.emulator}/_lab/stats/reset", b"{}", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def timed(self, command: list[str]) -> tuple[float, float, int, str]:
        started = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        assert process.stdout is not None
        output = process.stdout.read().decode(errors="replace")
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        return wall, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status), output

    def runbook(self) -> Run:
        self.reset()
        wall, rss, code, output = self.timed(["bash", str(ROOT / "bench" / "runbook-baseline.sh")])
        if code != 0:
            print(output, file=sys.stderr)
        requests = self.stats("agent=kubectl")
        return Run(wall, rss, code, requests)  # type: ignore[arg-type]

    def sweep(self, reports: Path, *extra: str) -> Run:
        self.reset()
        command = [
            sys.executable, "-m", "pytest", str(ROOT / "checks"), "-q", "-p", "no:cacheprovider",
            f"--reports-dir={reports}", *extra,
        ]  # fmt: skip
        wall, rss, code, output = self.timed(command)
        if code != 0:
            print(output[-3000:], file=sys.stderr)
        requests = self.stats(f"agent={SUITE}")
        by_served = self.stats(f"agent={SUITE}&by=served")
        io: dict[str, int] = {}
        for path in (reports / "state").glob("errors-io-*.json"):
            for key, value in json.loads(path.read_text()).items():
                io[key] = io.get(key, 0) + value
        return Run(wall, rss, code, requests, by_served, io)  # type: ignore[arg-type]

    def fresh(self, name: str) -> Path:
        self.sweeps += 1
        return self.work / f"{name}-{self.sweeps}"

    def longest_window(self) -> float:
        """The lab profile's longest sampling window: the metrics window, the PodMetrics
        samples' span, the queue's growth interval."""
        errors = ErrorsSettings(**self.profile.get("errors", {}))
        queue = QueueSettings(**self.profile.get("queue", {}))
        usage = errors.memory_sample_interval_s * (errors.memory_samples - 1)
        return max(errors.scrape_interval_s, usage, queue.growth_interval_s)

    def resident(self) -> dict[str, float]:
        """One resident process (this file with --child): a warm-up sweep, then a cold, a
        warm and a prometheus sweep, each timed around pytest.main; and its peak RSS."""
        work = self.fresh("resident")
        command = [sys.executable, __file__, "--child", str(work)]
        _, rss, code, output = self.timed(command)
        if code != 0:
            print(output[-3000:], file=sys.stderr)
            raise SystemExit(f"the resident sweeps failed (exit {code})")
        figures: dict[str, float] = json.loads(output.strip().splitlines()[-1])
        return {**figures, "rss": rss}


def child(work: Path) -> int:
    """The resident sweeps, in this process (as opscheck-sweeper runs them)."""
    import contextlib
    import io

    import pytest

    def sweep(reports: Path, *extra: str) -> float:
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            code = pytest.main(
                [str(ROOT / "checks"), "-q", "-p", "no:cacheprovider", f"--reports-dir={reports}",
                 *extra]
            )  # fmt: skip
        if code != 0:
            raise SystemExit(f"sweep of {reports} exited {code}")
        return time.perf_counter() - started

    sweep(work / "warm")  # imports and plugins; the warm sweeps' previous sweep
    figures = {
        "sweeper cold": sweep(work / "cold"),
        "sweeper warm": sweep(work / "warm"),
        "sweeper prometheus": sweep(work / "prometheus", "--env=lab-prometheus"),
    }
    print(json.dumps(figures))
    return 0


def lists(requests: dict[str, int]) -> dict[str, int]:
    return {k.removeprefix("list "): v for k, v in requests.items() if k.startswith("list ")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--write-bytecode", action="store_true")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child)
    with running_lab() as state_dir, tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        bench = Bench(state_dir, Path(tmp), args.write_bytecode)
        names = ("runbook", "cold", "warm", "prometheus", "-n 2", "-n 2 kept")
        runs: dict[str, list[Run]] = {k: [] for k in names}
        resident: list[dict[str, float]] = []
        warm = bench.fresh("warm")
        bench.sweep(warm)  # the previous sweep of the warm ones
        for _ in range(args.runs):
            runs["runbook"].append(bench.runbook())
            runs["cold"].append(bench.sweep(bench.fresh("cold")))
            runs["warm"].append(bench.sweep(warm))
            runs["prometheus"].append(
                bench.sweep(bench.fresh("prometheus"), "--env", "lab-prometheus")
            )
            runs["-n 2"].append(bench.sweep(bench.fresh("xdist"), "-n", "2"))
            runs["-n 2 kept"].append(
                bench.sweep(bench.fresh("xdist-kept"), "-n", "2", "--parallel-sweep")
            )
            resident.append(bench.resident())
        bytecode = "off" if bench.env.get("PYTHONDONTWRITEBYTECODE") else "on"
        print(f"{args.runs} runs each, medians (min-max); bytecode cache {bytecode}")
        print(
            f"{'':<11} {'wall s':>21} {'peak RSS MiB':>13} {'k8s requests':>13} "
            f"{'LISTs':>6}  exit codes"
        )
        for name, measured in runs.items():
            walls = [r.wall for r in measured]
            total = statistics.median(sum(r.requests.values()) for r in measured)
            listed = statistics.median(sum(lists(r.requests).values()) for r in measured)
            print(
                f"{name:<11} {statistics.median(walls):>7.2f} ({min(walls):5.2f}-{max(walls):5.2f})"
                f" {statistics.median(r.rss_mib for r in measured):>13.1f} {total:>13g}"
                f" {listed:>6g}  {','.join(str(r.code) for r in measured)}"
            )
        for name in ("sweeper warm", "sweeper cold", "sweeper prometheus"):
            walls = [r[name] for r in resident]
            print(
                f"{name:<19}{statistics.median(walls):>7.2f} ({min(walls):5.2f}-{max(walls):5.2f})"
                f" {statistics.median(r['rss'] for r in resident):>5.1f}"
                "   (in one resident process; requests as the sweep above)"
            )
        median = {n: statistics.median(r.wall for r in m) for n, m in runs.items()}
        median |= {n: statistics.median(r[n] for r in resident) for n in resident[0] if n != "rss"}
        window = bench.longest_window()
        warm_ratio = median["warm"] / median["runbook"]
        print(
            f"\nnew process: warm {median['warm']:.2f} s = {warm_ratio:.2f}x the runbook; "
            f"cold {median['cold']:.2f} s; prometheus cold "
            f"{median['prometheus']:.2f} s"
            f"\nresident (opscheck-sweeper): warm {median['sweeper warm']:.2f} s = "
            f"{median['sweeper warm'] / median['runbook']:.2f}x the runbook (goal <= 2.0 s and "
            f"<= 1.0x); cold {median['sweeper cold']:.2f} s (goal <= {window + 1.0:.1f} s: the "
            f"longest window {window:.1f} s + 1.0 s); prometheus cold "
            f"{median['sweeper prometheus']:.2f} s (goal <= 2.0 s)"
            f"\n-n 2 / cold {median['-n 2'] / median['cold']:.2f}x, kept workers "
            f"{median['-n 2 kept'] / median['cold']:.2f}x"
        )
        print("\nKubernetes LISTs per type, one run of each (rv=0: asked resourceVersion=0)")
        kinds = sorted({k for m in runs.values() for r in m for k in lists(r.requests)})
        print(f"{'type':<26}" + "".join(f"{name:>14}" for name in runs))
        for kind in kinds:
            cells = []
            for measured in runs.values():
                run = measured[-1]
                count = lists(run.requests).get(kind, 0)
                cached = lists(run.by_served.get("cache", {})).get(kind, 0)  # type: ignore[arg-type]
                cells.append(f"{count}" + (f" ({cached} rv=0)" if cached else ""))
            print(f"{kind:<26}" + "".join(f"{cell:>14}" for cell in cells))
        print("\nother requests, one run of each")
        for name, measured in runs.items():
            other = {k: v for k, v in measured[-1].requests.items() if not k.startswith("list ")}
            print(f"{name:<11} {json.dumps(other, sort_keys=True)}")
        print("\nwindowed samples in each sweep (the sweep's own I/O figures, last run)")
        for name, measured in list(runs.items())[1:]:
            io = measured[-1].io
            print(
                f"{name:<11} pods source LISTs {io.get('pods_source_lists', 0)}, PodMetrics "
                f"LISTs {io.get('pod_metrics_lists', 0)} (the first is the sweep's read), "
                f"metric scrape rounds {io.get('scrapes', 0)}"
            )
        failed = [n for n, m in runs.items() if any(r.code != 0 for r in m)]
        if failed:
            print(f"non-zero exit codes: {', '.join(failed)}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
