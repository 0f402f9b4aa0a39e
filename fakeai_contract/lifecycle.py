"""Servers the runner owns: start in their own process group, capture output to a file, stop the whole tree."""

from __future__ import annotations

import atexit
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Mapping, Sequence

from fakeai_contract.errors import UsageError

#: How long stop() waits for the group to vanish after SIGKILL before giving up.
KILL_WAIT = 5.0
_POLL = 0.02
_TAIL_BLOCK = 8192

#: Exit codes a POSIX shell uses for "cannot run the command", and what to tell the user.
_SHELL_EXIT_HINTS = {
    126: "the command was found but is not executable (check its permissions)",
    127: "command not found (check the command name and PATH)",
}


def _signal_number(name: str | int) -> int:
    """The signal number for NAME ('SIGTERM', 'TERM', 'sigint' or a number)."""
    if isinstance(name, int):
        return int(signal.Signals(name))
    text = str(name).strip().upper()
    if text.isdigit():
        return int(signal.Signals(int(text)))
    if not text.startswith("SIG"):
        text = "SIG" + text
    try:
        return int(signal.Signals[text])
    except KeyError:
        raise UsageError(f"unknown stop signal {name!r}",
                         fix="use a signal name such as SIGTERM, SIGINT or SIGQUIT") from None


def describe_exit(returncode: int | None) -> str:
    """A human phrase for a process's exit status, e.g. 'exited with code 3' or 'killed by SIGKILL'."""
    if returncode is None:
        return "is still running"
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    hint = _SHELL_EXIT_HINTS.get(returncode)
    return f"exited with code {returncode}" + (f": {hint}" if hint else "")


def _group_members_alive(pgid: int) -> bool:
    """Whether any non-zombie process is in group PGID (zombies may never be reaped in a container)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: fields start after the last ')'.
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            return True
    return False


class ServerProcess:
    """A server command the runner starts, watches and always stops, with its output in LOG_PATH."""

    def __init__(self, command: Sequence[str] | str, *, shell: bool = False,
                 env: Mapping[str, str] | None = None, log_path: Path,
                 stop_signal: str | int = "SIGTERM", grace: float = 5.0,
                 cwd: str | Path | None = None):
        self.command = command
        self.shell = shell
        self.env = dict(env or {})
        self.log_path = Path(log_path)
        self.stop_signal = _signal_number(stop_signal)
        self.grace = float(grace)
        self.cwd = cwd
        self.log_start = 0          # size of the log file when the server started: its output follows
        self._proc: subprocess.Popen | None = None
        self._stopped = False

    # -- starting -------------------------------------------------------------------------

    def argv(self) -> list[str] | str:
        """What is handed to the OS: an argument list, or one string for the shell."""
        if self.shell:
            return self.command if isinstance(self.command, str) else shlex.join(self.command)
        argv = shlex.split(self.command) if isinstance(self.command, str) else [str(a) for a in self.command]
        if not argv:
            raise UsageError("the server command is empty", fix="give the command that starts the server")
        return argv

    def display(self) -> str:
        """The command as one line of text, for messages."""
        return self.command if isinstance(self.command, str) else shlex.join(map(str, self.command))

    def start(self) -> "ServerProcess":
        """Start the command in its own process group, stdin from /dev/null, stdout+stderr appended to
        the log. The group keeps the terminal's Ctrl-C for the tool, which then stops the server in
        order; the server stays in the tool's session, so it shares the tool's scheduling: under
        `nice fakeai-contract run --serve ...` the server is niced too, also on kernels that share CPU
        time out by session (autogroup), where a session of its own would escape the nice."""
        if self._proc is not None:
            raise RuntimeError(f"server already started: {self.display()}")
        argv = self.argv()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env}
        with open(self.log_path, "ab") as log:
            self.log_start = log.tell()
            try:
                # The child writes straight into the file: no pipe to drain, nothing can block.
                self._proc = subprocess.Popen(
                    argv, shell=self.shell, env=env, cwd=self.cwd, stdin=subprocess.DEVNULL,
                    stdout=log, stderr=subprocess.STDOUT, process_group=0, close_fds=True)
            except FileNotFoundError as exc:
                missing = self.cwd if self.cwd and not Path(self.cwd).is_dir() else (exc.filename or argv[0])
                raise UsageError(
                    f"cannot start the server {self.display()!r}: {missing!r} does not exist",
                    fix="check the executable name, that it is installed and on PATH, and the working directory"
                ) from None
            except PermissionError:
                raise UsageError(
                    f"cannot start the server {self.display()!r}: permission denied",
                    fix="check that the executable has execute permission") from None
        _register(self)
        return self

    # -- watching -------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """The server's process id (also its process group's id), or None before start."""
        return self._proc.pid if self._proc else None

    def poll(self) -> int | None:
        """The exit code if the server has exited (negative: killed by that signal), else None."""
        return self._proc.poll() if self._proc else None

    @property
    def is_running(self) -> bool:
        """Whether the server was started and has not exited."""
        return self._proc is not None and self._proc.poll() is None

    def tail(self, n: int = 20) -> list[str]:
        """The last N lines the server wrote, read backwards from the end of the log."""
        if n <= 0:
            return []
        try:
            with open(self.log_path, "rb") as f:
                end = f.seek(0, os.SEEK_END)
                pos, data = end, b""
                while pos > self.log_start and data.count(b"\n") <= n:
                    step = min(_TAIL_BLOCK, pos - self.log_start)
                    pos -= step
                    f.seek(pos)
                    data = f.read(step) + data
        except OSError:
            return []
        lines = data.decode("utf-8", errors="replace").splitlines()
        return lines[-n:]

    # -- stopping -------------------------------------------------------------------------

    def _wait_group(self, timeout: float) -> bool:
        """Reap the leader and wait until no live process is left in the group; True if it emptied."""
        deadline = time.monotonic() + timeout
        while True:
            self._proc.poll()
            if not _group_members_alive(self._proc.pid):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(_POLL)

    def _signal_group(self, signum: int) -> None:
        try:
            os.killpg(self._proc.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self) -> int | None:
        """Stop the whole process group: stop_signal, up to `grace` seconds, then SIGKILL; idempotent."""
        if self._proc is None:
            return None
        if not self._stopped:
            self._stopped = True
            try:
                # Signal the group even when the leader is gone: its children may still run.
                self._signal_group(self.stop_signal)
                if not self._wait_group(self.grace):
                    self._signal_group(signal.SIGKILL)
                    self._wait_group(KILL_WAIT)
            finally:
                _unregister(self)
        try:
            return self._proc.wait(timeout=KILL_WAIT)
        except subprocess.TimeoutExpired:
            return self._proc.poll()

    def __enter__(self) -> "ServerProcess":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"ServerProcess({self.display()!r}, pid={self.pid}, returncode={self.poll()})"


# -- every server still running, so an interrupted run never leaves one behind -------------

_LIVE: dict[int, ServerProcess] = {}
_LIVE_LOCK = threading.RLock()    # re-entrant: stop_all may run in a signal handler on this thread


def _register(server: ServerProcess) -> None:
    with _LIVE_LOCK:
        _LIVE[id(server)] = server


def _unregister(server: ServerProcess) -> None:
    with _LIVE_LOCK:
        _LIVE.pop(id(server), None)


def running_servers() -> list[ServerProcess]:
    """Every ServerProcess started and not yet stopped."""
    with _LIVE_LOCK:
        return list(_LIVE.values())


def stop_all() -> int:
    """Stop every ServerProcess not yet stopped; return how many were stopped."""
    servers = running_servers()
    for server in servers:
        server.stop()
    return len(servers)


atexit.register(stop_all)


# -- helpers for the runner ---------------------------------------------------------------

def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on HOST that nothing listens on right now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def reference_command(extra_args: Sequence[str], port: int) -> list[str]:
    """The command that starts the bundled reference server on 127.0.0.1:PORT."""
    return [sys.executable, "-m", "fakeai_contract", "serve", "--host", "127.0.0.1",
            "--port", str(port), *extra_args]
