"""``python -m lab.k8s``: announces its URL, serves, and exits cleanly on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_module_entry_point_serves_and_stops_on_sigterm() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lab.k8s",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--seed",
            "empty",
            "--token",
            "t0k",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("ready http://127.0.0.1:")
        url = line.split()[1]
        request = urllib.request.Request(
            f"{url}/api/v1/namespaces", headers={"Authorization": "Bearer t0k"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            names = [n["metadata"]["name"] for n in json.loads(response.read())["items"]]
        assert names == ["default", "kube-public", "kube-system"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
