"""The reference server as a real subprocess: started, awaited by polling, stopped with a deadline."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Sequence

from .server import client_url

# Loopback only: never send the readiness probe through a proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_LISTENING = re.compile(rb"fakeai-contract reference server listening on http://(\[[^\]]*\]|[^:\s]+):(\d+)")


class ReferenceStartError(RuntimeError):
    """The subprocess exited or never said it was listening; the message ends with its output."""


class ReferenceProcess:
    """A running `python -m fakeai_contract.reference`; stdout and stderr go to one log file."""

    def __init__(self, popen: subprocess.Popen, log_path: Path, temp_dir: str | None):
        self.popen = popen
        self.log_path = log_path
        self.base_url: str | None = None
        self.returncode: int | None = None
        self._temp_dir = temp_dir
        self._final_log: str | None = None

    @property
    def pid(self) -> int:
        """The subprocess's process id."""
        return self.popen.pid

    def log_text(self) -> str:
        """Everything the server wrote to stdout and stderr so far (kept after stop())."""
        if self._final_log is not None:
            return self._final_log
        return self.log_path.read_bytes().decode("utf-8", "replace")

    def wait_ready(self, timeout: float) -> None:
        """Poll the log for the listening line, then /health, until TIMEOUT seconds have passed."""
        deadline = time.monotonic() + timeout
        while self.base_url is None:
            match = _LISTENING.search(self.log_path.read_bytes())
            if match:
                self.base_url = client_url(match.group(1).decode().strip("[]"), int(match.group(2)))
                break
            self._check_alive(deadline)
            time.sleep(0.02)
        while not self._healthy():
            self._check_alive(deadline)
            time.sleep(0.02)

    def _check_alive(self, deadline: float) -> None:
        if self.popen.poll() is not None:
            raise ReferenceStartError(f"reference server exited with {self.popen.returncode}:\n{self.log_text()}")
        if time.monotonic() > deadline:
            self.stop()
            raise ReferenceStartError(f"reference server not ready in time:\n{self.log_text()}")

    def _healthy(self) -> bool:
        try:
            with _OPENER.open(self.base_url + "/health", timeout=1.0) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def stop(self, grace: float = 5.0) -> int:
        """SIGTERM, then SIGKILL after GRACE seconds; the exit code."""
        if self.returncode is None:
            if self.popen.poll() is None:
                self.popen.send_signal(signal.SIGTERM)
                try:
                    self.popen.wait(grace)
                except subprocess.TimeoutExpired:
                    self.popen.kill()
                    self.popen.wait(5.0)
            self.returncode = self.popen.returncode
        if self._temp_dir is not None:
            self._final_log = self.log_text()
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None
        return self.returncode

    def __enter__(self) -> "ReferenceProcess":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def spawn_reference(extra_args: Sequence[str] = (), port: int = 0, log_path: str | os.PathLike | None = None,
                    *, startup_timeout: float = 20.0) -> ReferenceProcess:
    """Start the reference server in a subprocess and return once /health answers.

    Without LOG_PATH its output goes to a temporary file, removed by stop() (log_text() keeps it).
    """
    temp_dir = None
    if log_path is None:
        temp_dir = tempfile.mkdtemp(prefix="fakeai-reference-")
        log_path = Path(temp_dir) / "server.log"
    log_path = Path(log_path)
    command = [sys.executable, "-m", "fakeai_contract.reference", "--port", str(port), *extra_args]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with open(log_path, "wb") as log:
        popen = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                 env=env)
    process = ReferenceProcess(popen, log_path, temp_dir)
    try:
        process.wait_ready(startup_timeout)
    except BaseException:
        process.stop()
        raise
    return process
