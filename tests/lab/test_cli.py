"""The `lab` command's own behaviour, apart from any running lab."""

from __future__ import annotations

import os
import subprocess
import sys


def test_a_reader_that_goes_away_ends_lab_quietly() -> None:
    """`lab faults | head -1`: the pipe closes under the listing; no traceback follows."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # every write now fails with EPIPE, as after head exits
    try:
        done = subprocess.run(
            [sys.executable, "-m", "lab", "faults"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert done.stderr == ""
    assert done.returncode == 141
