"""The garbage collector in a sweep's process (opscheck/process_gc.py).

Off while the plugins are imported; on again, with the start-up frozen, when the checks
run: in a new pytest process, in each xdist worker and in the resident sweeper. Left off
where the process had turned it off itself; back on after a session that never started.
Between the sweeper's sweeps everything is looked at again, so a cycle a sweep drops is
collected even when an earlier freeze had moved it out of the collector's sight.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

# A check that records the collector's state as its process sees it, one file per run.
RECORDER = (
    "import gc, json, os, time\n"
    "from pathlib import Path\n"
    "from opscheck import check\n"
    "@check('T-901', title='Collector', section_marker='queue', symptom='s', manual=['none'])\n"
    "def test_collector(request):\n"
    "    out = Path(__file__).parent.parent / 'gc'\n"
    "    out.mkdir(exist_ok=True)\n"
    "    state = {'enabled': gc.isenabled(), 'frozen': gc.get_freeze_count(),\n"
    "             'pid': os.getpid(),\n"
    "             'worker': hasattr(request.config, 'workerinput')}\n"
    "    (out / f'{time.monotonic_ns()}.json').write_text(json.dumps(state))\n"
)
STARTUP_OBJECTS = 10_000  # what a sweep's imports leave: about 100,000 objects


def records(where: Path) -> list[dict[str, object]]:
    return [json.loads(p.read_text()) for p in sorted((where / "gc").glob("*.json"))]


def python(where: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A new interpreter in `where` (the suite's run-state directory from the fixture)."""
    return subprocess.run(
        [sys.executable, *args], cwd=where, env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize(
    "workers", [[], ["-n", "2", "--parallel-sweep", "-p", "xdist"]], ids=["serial", "xdist"]
)
def test_the_checks_run_with_the_collector_on_and_the_startup_frozen(
    suite: pytest.Pytester, workers: list[str]
) -> None:
    suite.makepyfile(**{"checks/test_gc": RECORDER})
    result = suite.runpytest_subprocess("--env", "test", *workers)
    assert result.ret == 0, result.stdout.str()
    [seen] = records(suite.path)
    assert seen["enabled"] is True
    assert isinstance(seen["frozen"], int) and seen["frozen"] > STARTUP_OBJECTS, seen
    assert seen["worker"] == bool(workers), seen


def test_a_process_that_turned_the_collector_off_keeps_it_off(suite: pytest.Pytester) -> None:
    suite.makepyfile(**{"checks/test_gc": RECORDER})
    done = python(
        suite.path,
        "-c",
        "import gc, pytest\ngc.disable()\n"
        "raise SystemExit(pytest.main(['--env', 'test', '-q', '-p', 'no:cacheprovider']))",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    [seen] = records(suite.path)
    assert seen == {**seen, "enabled": False, "frozen": 0}


def test_a_session_refused_before_it_starts_leaves_the_collector_on(
    suite: pytest.Pytester,
) -> None:
    done = python(
        suite.path,
        "-c",
        "import gc, pytest\n"
        "code = pytest.main(['--env', 'no-such-profile', '-q', '-p', 'no:cacheprovider'])\n"
        "print('exit', int(code), 'collector on:', gc.isenabled())",
    )
    assert done.stdout.splitlines()[-1] == "exit 4 collector on: True", done.stdout + done.stderr


def test_the_sweeper_collects_a_cycle_an_earlier_freeze_had_hidden(
    suite: pytest.Pytester,
) -> None:
    """Sweep 1 keeps a cycle, the freeze after it hides it; sweep 2 drops it; the look
    after sweep 2 must still find it (the finalizer writes `collected`), and sweep 3 says
    whether it did."""
    suite.makepyfile(
        **{
            "checks/test_gc": RECORDER,
            "checks/test_cycle": (
                "import sys, types, weakref\n"
                "from pathlib import Path\n"
                "from opscheck import check\n"
                "class Cycle:\n"
                "    def __init__(self):\n        self.me = self\n"
                "@check('T-902', title='Cycle', section_marker='queue', symptom='s', manual=['none'])\n"
                "def test_cycle():\n"
                "    holder = sys.modules.setdefault('gc_holder', types.ModuleType('gc_holder'))\n"
                "    marker = Path(__file__).parent.parent / 'collected'\n"
                "    sweep = getattr(holder, 'sweeps', 0) + 1\n"
                "    holder.sweeps = sweep\n"
                "    if sweep == 1:\n"
                "        holder.cycle = Cycle()\n"
                "        weakref.finalize(holder.cycle, marker.write_text, 'yes')\n"
                "    elif sweep == 2:\n"
                "        del holder.cycle\n"
                "    else:\n"
                "        assert marker.exists(), 'the dropped cycle was never collected'\n"
            ),
        }
    )
    done = python(
        suite.path, "-m", "opscheck.sweeper", "--every", "0", "--count", "3", "--",
        "--env", "test", "-q", "-p", "no:cacheprovider", "checks/test_gc.py",
        "checks/test_cycle.py",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    seen = records(suite.path)
    assert len(seen) == 3 and len({s["pid"] for s in seen}) == 1, seen
    assert all(s["enabled"] is True for s in seen), seen
    assert all(isinstance(s["frozen"], int) and s["frozen"] > STARTUP_OBJECTS for s in seen)
    assert (suite.path / "collected").read_text() == "yes"
