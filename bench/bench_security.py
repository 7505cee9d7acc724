"""The security sweep and its evidence bundle against a lab: wall time, reads, bundle size.

Runs `pytest checks -m security` --runs times (default 3) against one lab (a private one,
or the lab at $LAB_ATTACH_STATE_DIR) and prints the median wall time, the Kubernetes API
requests the suite made (the emulator's /_lab/stats delta for its User-Agent; the emulator
counts requests, not bytes), and the bytes of the API pods' logs the request checks read
(reports/state/errors-io-*.json). Then one sweep with --evidence: its wall time, the
bundle's own write time and size as the run prints them, the bytes of each kind of file in
it (pod logs, CSV rows from PostgreSQL, findings), and the extra Kubernetes requests.
PostgreSQL's bytes for the checks themselves are not measured (the server does not count
bytes per session); the bundle's CSV files are what its COPY read.

    .venv/bin/python bench/bench_security.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_errors import running_lab  # noqa: E402  (one way to start the bench's lab)
from bench_sweep import Bench  # noqa: E402  (its environment and emulator stats)

SUITE = "rolerabbit-opscheck"
EVIDENCE = re.compile(r"^evidence: (\S+) \((\d+) files, (\d+) bytes, ([\d.]+)s;", re.M)


def sweep(bench: Bench, reports: Path, *extra: str) -> tuple[float, int, int, str]:
    """Wall time, Kubernetes requests, log bytes read, and the output of one security sweep."""
    bench.reset()
    command = [
        sys.executable, "-m", "pytest", str(ROOT / "checks"), "-m", "security", "-q",
        "-p", "no:cacheprovider", "--reports-dir", str(reports), *extra,
    ]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=bench.env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    requests = bench.stats(f"agent={SUITE}")
    log_bytes = 0
    for path in (reports / "state").glob("errors-io-*.json"):
        log_bytes += int(json.loads(path.read_text()).get("log_bytes", 0))
    total = sum(int(v) for v in requests.values() if isinstance(v, int))
    return wall, total, log_bytes, done.stdout


def sizes(bundle: Path) -> dict[str, int]:
    kinds: dict[str, int] = {}
    for path in bundle.rglob("*"):
        if path.is_file():
            kind = path.suffix.lstrip(".") or path.name
            kind = "pod logs" if path.parent.name == "logs" else kind
            kinds[kind] = kinds.get(kind, 0) + path.stat().st_size
    return kinds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="sweeps to take the median of")
    runs = parser.parse_args().runs
    with running_lab() as state_dir, tempfile.TemporaryDirectory(prefix="bench-sec-") as tmp:
        bench = Bench(state_dir, Path(tmp), write_bytecode=False)
        walls, requests, log_bytes = [], [], []
        for n in range(runs):
            wall, total, logs, _ = sweep(bench, Path(tmp) / f"sweep-{n}")
            walls.append(wall)
            requests.append(total)
            log_bytes.append(logs)
        median, reads = statistics.median(walls), statistics.median(log_bytes)
        print(f"security sweep, {runs} runs: median {median:.2f}s (min {min(walls):.2f}, "
              f"max {max(walls):.2f}); Kubernetes requests {statistics.median(requests):g}; "
              f"API log bytes read {reads:g}")  # fmt: skip
        wall, total, _, output = sweep(bench, Path(tmp) / "evidence", "--evidence")
        found = EVIDENCE.search(output)
        if found is None:
            print(f"--evidence wrote no bundle:\n{output[-2000:]}", file=sys.stderr)
            return 1
        bundle, files, size, took = Path(found[1]), found[2], found[3], float(found[4])
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(sizes(bundle).items()))
        print(f"with --evidence: {wall:.2f}s ({wall - median:+.2f}s); the "
              f"bundle {took:.2f}s, {files} files, {size} bytes ({kinds}); Kubernetes "
              f"requests {total} ({total - statistics.median(requests):+g})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
