"""Processes the benchmarks start on loopback, and what they cost."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import orjson

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise LookupError("VmHWM")


class Sandbox:
    """`sarportal sandbox` as its own process, with the time it took to start serving."""

    def __init__(self, state_dir: Path, transactions: int, **flags: object) -> None:
        self.state_dir = state_dir
        args = [
            sys.executable, "-m", "sarportal", "sandbox", "--port", "0",
            "--state-dir", str(state_dir), "--transactions", str(transactions),
        ]  # fmt: skip
        for name, value in flags.items():
            args += [f"--{name.replace('_', '-')}", str(value)]
        (state_dir / "sandbox.json").unlink(missing_ok=True)
        started = time.perf_counter()
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ready = state_dir / "sandbox.json"
        deadline = started + 120
        while not ready.exists():
            if self.process.poll() is not None or time.perf_counter() > deadline:
                raise RuntimeError("the sandbox did not start")
            time.sleep(0.02)
        self.start_seconds = time.perf_counter() - started
        self.url = orjson.loads(ready.read_bytes())["url"]
        self.ca = state_dir / "ca.pem"

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
