"""Overhead of the plugin core: a sweep of 100 trivial checks, serial and with -n 2.

Prints wall time and peak memory (the sum of RSS over the whole process tree, sampled
every 20 ms) for the same 100 trivial tests run three ways: plain pytest (baseline),
as opscheck checks, and as opscheck checks under --fix with nothing to fix.

    .venv/bin/python bench/bench_core.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

CHECKS = 100
REPEAT = 3

PLAIN = "\n".join(f"def test_{i}():\n    assert {i} >= 0\n" for i in range(CHECKS))
OPSCHECK = "from opscheck import check\n" + "\n".join(
    f'@check("B-{i:03d}", title="trivial {i}", section_marker="queue", symptom="s",'
    f' manual=["none"])\ndef test_{i}():\n    assert {i} >= 0\n'
    for i in range(CHECKS)
)


def run(directory: Path, args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak tree RSS (MiB) of one pytest run."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    peak = 0.0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        root = psutil.Process(process.pid)
        while not done.is_set():
            try:
                tree = [root, *root.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree) / 2**20)
            except psutil.Error:
                pass
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    code = process.wait()
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    if code not in (0,):
        raise SystemExit(f"pytest exited {code} in {directory} with {args}")
    return elapsed, peak


def suite(root: Path, name: str, body: str, with_plugin: bool) -> Path:
    directory = root / name
    (directory / "checks").mkdir(parents=True)
    (directory / "checks" / "test_bench.py").write_text(body)
    if with_plugin:
        (directory / "conftest.py").write_text('pytest_plugins = ["opscheck.plugin"]\n')
        (directory / "rolerabbit.yaml").write_text("profiles:\n  bench: {}\n")
    return directory


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        plain = suite(root, "plain", PLAIN, with_plugin=False)
        ops = suite(root, "opscheck", OPSCHECK, with_plugin=True)
        cases = [
            ("plain pytest, serial", plain, ["-p", "no:opscheck.plugin"]),
            ("opscheck, serial", ops, ["--env", "bench"]),
            ("opscheck --fix, serial", ops, ["--env", "bench", "--fix"]),
            ("plain pytest, -n 2", plain, ["-p", "no:opscheck.plugin", "-n", "2"]),
            ("opscheck, -n 2", ops, ["--env", "bench", "-n", "2", "--parallel-sweep"]),
            (
                "opscheck --fix, -n 2",
                ops,
                ["--env", "bench", "--fix", "-n", "2", "--parallel-sweep"],
            ),
        ]
        print(f"{CHECKS} trivial checks, median of {REPEAT} runs")
        print(f"{'case':<26} {'wall s':>8} {'peak RSS MiB':>13}")
        for label, directory, args in cases:
            samples = [run(directory, args) for _ in range(REPEAT)]
            wall = statistics.median(s[0] for s in samples)
            rss = statistics.median(s[1] for s in samples)
            print(f"{label:<26} {wall:>8.2f} {rss:>13.1f}")


if __name__ == "__main__":
    main()
