"""The errors + performance sweep against a lab: wall time, scrapes, log bytes, API calls.

Runs `pytest checks -m "errors or performance"` three times against one lab (a private
one, or the lab at $LAB_ATTACH_STATE_DIR) and prints, per sweep: wall time, /api/metrics
scrapes, PodMetrics lists, pod log reads and bytes read (bounded by sinceSeconds and
tailLines), and Kubernetes API requests by kind (the emulator's /_lab/stats delta).

    cold     default profile (30 s rate window), no recorded state
    warm     30 s later, same reports dir: a scheduled sweep that starts from the recorded
             scrape, so it waits for no rate window at all
    since10  log reads bounded to the last 10 s (sinceSeconds) and 200 lines (tailLines)

The lab's own processes (the pod->worker bridges, Prometheus) also call the emulator; only
the suite's requests are counted (its User-Agent, `/_lab/stats?agent=rolerabbit-opscheck`).

    .venv/bin/python bench/bench_errors.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lab import lifecycle  # noqa: E402
from lab.outputs import read_env_file  # noqa: E402
from lab.testing import make_state_dir, private_settings, stop_and_remove  # noqa: E402


@contextmanager
def running_lab() -> Iterator[Path]:
    attach = os.environ.get("LAB_ATTACH_STATE_DIR")
    if attach:
        yield Path(attach)
        return
    state_dir = make_state_dir()
    try:
        lifecycle.up(private_settings(state_dir), say=lambda _: None)
        time.sleep(5)  # let the load generator fill the logs and counters a little
        yield state_dir
    finally:
        stop_and_remove(state_dir)


def emulator_stats(kubeconfig: str) -> dict[str, int]:
    server = yaml.safe_load(Path(kubeconfig).read_text())["clusters"][0]["cluster"]["server"]
    url = f"{server}/_lab/stats?agent=rolerabbit-opscheck"
    with urllib.request.urlopen(url, timeout=10) as response:
        data: dict[str, int] = json.loads(response.read())
    return data


def sweep(state_dir: Path, reports: Path, overrides: dict[str, Any]) -> dict[str, Any]:
    env = {**os.environ, **read_env_file(str(state_dir / "env")), "LAB_STATE_DIR": str(state_dir)}
    profile = yaml.safe_load((state_dir / "profile.yaml").read_text())
    for section, values in overrides.items():
        profile["profiles"]["lab"].setdefault(section, {}).update(values)
    config = reports.parent / f"{reports.name}-profile.yaml"
    config.write_text(yaml.safe_dump(profile))
    before = emulator_stats(env["KUBECONFIG"])
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(ROOT / "checks"), "-m", "errors or performance",
         "-q", "-p", "no:cacheprovider", "--reports-dir", str(reports), "--config", str(config),
         "--env", "lab"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    wall = time.perf_counter() - started
    after = emulator_stats(env["KUBECONFIG"])
    io: dict[str, int] = {}
    for path in (reports / "state").glob("errors-io-*.json"):
        for key, value in json.loads(path.read_text()).items():
            io[key] = io.get(key, 0) + value
    calls = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    return {"wall": wall, "io": io, "calls": calls, "summary": summary}


def main() -> int:
    with running_lab() as state_dir, tempfile.TemporaryDirectory() as tmp:
        reports = Path(tmp) / "reports"
        runs = [
            ("cold", reports, {}),
            ("warm", reports, {}),
            (
                "since10",
                Path(tmp) / "since10",
                {"errors": {"log_window_s": 10, "log_tail_lines": 200}},
            ),
        ]
        print(f"{'sweep':<8} {'wall s':>7} {'scrapes':>8} {'top':>4} {'log reads':>9} "
              f"{'log bytes':>10}  kubernetes requests / result")  # fmt: skip
        for name, where, overrides in runs:
            if name == "warm":
                time.sleep(30)  # the next scheduled sweep: the recorded scrape is 30 s old
            figures = sweep(state_dir, where, overrides)
            io = figures["io"]
            calls = ", ".join(f"{k} {v}" for k, v in sorted(figures["calls"].items()) if v)
            print(
                f"{name:<8} {figures['wall']:>7.1f} {io.get('scrapes', 0):>8} "
                f"{io.get('pod_metrics_lists', 0):>4} {io.get('log_reads', 0):>9} "
                f"{io.get('log_bytes', 0):>10}  {calls} | {figures['summary']}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
