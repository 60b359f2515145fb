"""`python -m hybrid.dev.simulator` as a subprocess on a loopback port, and a view of its request log."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from hybrid.dev.servers import free_port, wait_until_answering
from tests.conftest import ROOT

FAST = ("--ttft-ms", "20", "--token-ms", "5", "--tokens", "20")
"""Test defaults: an answer of 20 one-token chunks in about 120 ms."""


@dataclass
class SimulatorProcess:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def openai_base_url(self) -> str:
        return self.url + "/v1"

    def requests(self, model: str | None = None) -> list[dict[str, Any]]:
        """The simulator's request log, only requests for `model` if given."""
        records = httpx.get(self.url + "/_sim/requests", timeout=5).json()["requests"]
        return [r for r in records if model is None or r["model"] == model]

    def closed(self, model: str, timeout: float = 2.0) -> dict[str, Any]:
        """The last request for `model`, once the simulator saw its connection close."""
        deadline = time.monotonic() + timeout
        while True:
            records = self.requests(model)
            if records and records[-1]["closed"] is not None:
                return records[-1]
            if time.monotonic() > deadline:
                raise AssertionError(f"no closed request for {model!r}: {records}")
            time.sleep(0.01)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_simulator(log: Path, *args: str) -> SimulatorProcess:
    """Start the simulator with `FAST` defaults (then `args`) and wait until it answers."""
    port = free_port()
    argv = [sys.executable, "-m", "hybrid.dev.simulator", "--port", str(port), *FAST, *args]
    handle = log.open("wb")
    process = subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT, cwd=ROOT)
    simulator = SimulatorProcess(url=f"http://127.0.0.1:{port}", process=process, log=log)
    if wait_until_answering(process, simulator.url + "/v1/models", log, seconds=15):
        return simulator
    simulator.stop()
    raise RuntimeError(f"simulator did not start:\n{log.read_text()}")
