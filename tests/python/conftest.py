"""conftest: a geoapify-mock and a cellbatchd on an ipc socket in a temp dir, per test.

The binaries come from ctest's environment (CB_MOCK_BIN, CB_SERVER_BIN, CB_GAZETTEER).
Processes are stopped by pid; every wait is on observable state (a port file, the socket
answering a ping, the mock's counters), with a deadline instead of a fixed sleep.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from typing import Callable, Iterator, Optional, Tuple

import pytest

import cellbatch

KEY = "test-key"


def wait_for(cond: Callable[[], object], what: str, timeout: float = 15.0) -> object:
    """Polls cond until it is truthy; fails the test with what after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out: " + what)
        time.sleep(0.02)


class Servers:
    """The mock upstream and cellbatchd of one test."""

    def __init__(self, tmp: str) -> None:
        self.dir = tmp
        self.url = "ipc://%s/cellbatch.sock" % tmp
        self.server: Optional[subprocess.Popen] = None
        port_file = os.path.join(tmp, "port")
        self.mock = subprocess.Popen(
            [os.environ["CB_MOCK_BIN"], "--port", "0", "--port-file", port_file, "--pending",
             "50ms", "--gazetteer", os.environ["CB_GAZETTEER"]],
            stderr=open(os.path.join(tmp, "mock.log"), "a"))
        wait_for(lambda: os.path.exists(port_file) and os.path.getsize(port_file) > 0,
                 "the mock wrote its port")
        with open(port_file) as f:
            self.mock_url = "http://127.0.0.1:%s" % f.read().strip()
        self.start_server()

    def start_server(self) -> None:
        # a long window: a burst of calls from a loaded CI machine still forms one batch
        self.server = subprocess.Popen(
            [os.environ["CB_SERVER_BIN"], "--listen", self.url, "--upstream", self.mock_url,
             "--cache-db", os.path.join(self.dir, "cache.db"), "--batch-wait", "2s",
             "--batch-idle", "300ms"],
            env=dict(os.environ, GEOAPIFY_API_KEY=KEY),
            stderr=open(os.path.join(self.dir, "server.log"), "a"))
        wait_for(self._answers, "cellbatchd answered a ping")

    def _answers(self) -> bool:
        try:
            with cellbatch.Client(self.url, timeout=1.0) as c:
                return bool(c.ping())
        except cellbatch.Error:
            return False

    def kill_server(self, sig: int = signal.SIGKILL) -> None:
        assert self.server is not None
        self.server.send_signal(sig)
        self.server.wait(30)
        self.server = None

    def mock_stats(self) -> dict:
        with urllib.request.urlopen(self.mock_url + "/mock/stats", timeout=10) as r:
            return json.load(r)

    def submits(self) -> int:
        return int(self.mock_stats()["submits"])

    def mock_config(self, **cfg: object) -> None:
        req = urllib.request.Request(self.mock_url + "/mock/config",
                                     data=json.dumps(cfg).encode(), method="POST")
        urllib.request.urlopen(req, timeout=10).close()

    def expected(self, text: str) -> Optional[Tuple[float, float, str]]:
        """The mock's own answer (its single-lookup endpoint, not a batch submit)."""
        q = urllib.parse.urlencode({"text": text, "format": "json", "apiKey": KEY})
        with urllib.request.urlopen(self.mock_url + "/v1/geocode/search?" + q, timeout=10) as r:
            results = json.load(r)["results"]
        if not results:
            return None
        return results[0]["lat"], results[0]["lon"], results[0]["formatted"]

    def close(self) -> None:
        for p in (self.server, self.mock):
            if p is not None and p.poll() is None:
                p.terminate()
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


@pytest.fixture
def servers() -> Iterator[Servers]:
    tmp = tempfile.mkdtemp(prefix="cellbatch-py-")
    s = Servers(tmp)
    try:
        yield s
    finally:
        s.close()
        if os.environ.get("CB_KEEP_TMP"):
            print("kept", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def client(servers: Servers) -> Iterator[cellbatch.Client]:
    with cellbatch.Client(servers.url) as c:
        yield c


def gazetteer() -> list:
    import csv
    with open(os.environ["CB_GAZETTEER"], newline="", encoding="utf-8") as f:
        return [(r["address"], float(r["lat"]), float(r["lon"])) for r in csv.DictReader(f)]
