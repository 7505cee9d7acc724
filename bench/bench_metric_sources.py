"""The errors + performance sweep with each API metrics source: wall time, reads, bytes.

Runs `pytest checks -m "errors or performance"` against one lab (a private one, or the lab
at $LAB_ATTACH_STATE_DIR) once per source, each with its own reports dir (no recorded
state: every sweep is cold), and prints per sweep: wall time, metric sample rounds (a round
is one scrape of the URL, or one scrape of every Ready pod), Prometheus windows (one window
is an `up` query and one increase() query per counter), bytes of metrics read, and the
Kubernetes API requests by kind (the emulator's /_lab/stats delta, less the lab's own
background rate).

    url         api.base_url + /api/metrics through the lab's round-robin Service stand-in
    pods        every Ready API pod through the emulator's pod proxy
    prometheus  the lab's Prometheus, increase() over prometheus.window_s

    .venv/bin/python bench/bench_metric_sources.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from bench_errors import running_lab, sweep

SOURCES = ("url", "pods", "prometheus")


def main() -> int:
    with running_lab() as state_dir, tempfile.TemporaryDirectory() as tmp:
        print(
            f"{'source':<11} {'wall s':>7} {'rounds':>7} {'windows':>8} {'metric bytes':>13}"
            "  kubernetes requests / result"
        )
        for source in SOURCES:
            reports = Path(tmp) / source
            figures = sweep(state_dir, reports, {"api": {"metrics_source": source}})
            io = figures["io"]
            calls = ", ".join(f"{k} {v}" for k, v in sorted(figures["calls"].items()) if v)
            print(
                f"{source:<11} {figures['wall']:>7.1f} {io.get('scrapes', 0):>7} "
                f"{io.get('prometheus_windows', 0):>8} {io.get('metric_bytes', 0):>13}"
                f"  {calls} | {figures['summary']}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
