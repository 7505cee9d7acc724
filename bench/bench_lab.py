"""Timings of the lab's lifecycle: `lab up` cold and warm, `lab down`, and the demo.

    .venv/bin/python bench/bench_lab.py [--skip-demo]

Cold = a fresh state dir (initdb, schema and seed included); warm = the data
dir exists and the lab was down. Each lab runs on free ports in a temp state
dir, so a lab already running on the default ports is not touched.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from lab.processes import free_port
from lab.testing import make_state_dir, stop_and_remove

ROOT = Path(__file__).resolve().parent.parent


def timed(state_dir: Path, *args: str) -> float:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "lab", "--state-dir", str(state_dir), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    elapsed = time.monotonic() - started
    if result.returncode != 0 and args[0] != "demo":
        raise SystemExit(f"lab {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    if args[0] == "demo":
        print(f"  demo exit code {result.returncode} (0: the final sweep is green)")
    return elapsed


def ports() -> list[str]:
    flags = []
    for name in ("postgres", "redis", "api", "thirdparty", "k8s"):
        flags += [f"--{name}-port", str(free_port())]
    return flags


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-demo", action="store_true")
    args = parser.parse_args()
    state_dir = make_state_dir()
    try:
        cold = timed(state_dir, "up", *ports())
        down = timed(state_dir, "down")
        warm = timed(state_dir, "up")
        down_warm = timed(state_dir, "down")
        print(f"lab up, cold (initdb + seed): {cold:6.2f} s")
        print(f"lab down:                     {down:6.2f} s")
        print(f"lab up, warm (data dir kept): {warm:6.2f} s")
        print(f"lab down (after warm up):     {down_warm:6.2f} s")
        if not args.skip_demo:
            demo = timed(state_dir, "demo", "--down-after")
            print(f"lab demo end to end:          {demo:6.2f} s")
    finally:
        stop_and_remove(state_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
