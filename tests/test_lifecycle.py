"""ServerProcess against real subprocesses: start, capture, early exit, stop the whole group."""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from fakeai_contract.errors import UsageError
from fakeai_contract.lifecycle import (ServerProcess, describe_exit, free_port, reference_command,
                                       running_servers, stop_all)
from tests.helpers import poll

PY = sys.executable
pytestmark = pytest.mark.timeout(60)


def alive(pid: int) -> bool:
    """Whether PID is a live process (a zombie nobody reaped counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rfind(")") + 2:].split()[0] not in ("Z", "X")


def log_text(server: ServerProcess) -> str:
    return server.log_path.read_text(errors="replace")


def script(tmp_path: Path, name: str, body: str) -> list[str]:
    path = tmp_path / name
    path.write_text(body)
    return [PY, "-u", str(path)]


@pytest.fixture(autouse=True)
def _no_leftovers():
    yield
    leftovers = running_servers()
    stop_all()
    assert not leftovers, f"test left servers running: {leftovers}"


def test_http_server_starts_answers_logs_and_stops(tmp_path):
    port = free_port()
    log = tmp_path / "logs" / "server.log"       # parent folder does not exist yet
    server = ServerProcess([PY, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                            "--directory", str(tmp_path)], log_path=log, grace=5)
    with server:
        assert server.is_running and server.pid
        assert os.getpgid(server.pid) == server.pid      # its own process group
        assert os.getsid(server.pid) == os.getsid(0)     # in the tool's session: a nice reaches it

        def answers():
            try:
                return requests.get(f"http://127.0.0.1:{port}/", timeout=1).status_code == 200
            except requests.ConnectionError:
                return False
        poll(answers, timeout=10)
        poll(lambda: "GET / HTTP/1.1" in log_text(server), timeout=10)
    assert not server.is_running
    assert server.poll() == -signal.SIGTERM
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_early_exit_gives_exit_code_and_tail(tmp_path):
    cmd = script(tmp_path, "crash.py",
                 "import sys\n"
                 "for i in range(200): print(f'line {i}')\n"
                 "print('fatal: bad config', file=sys.stderr)\n"
                 "sys.exit(3)\n")
    server = ServerProcess(cmd, log_path=tmp_path / "s.log").start()
    code = poll(lambda: server.poll() is not None and server.poll() + 1000, timeout=10)
    assert server.poll() == 3 and code == 1003
    assert not server.is_running
    assert server.tail(3) == ["line 198", "line 199", "fatal: bad config"]
    assert server.tail(500)[0] == "line 0" and len(server.tail(500)) == 201
    assert server.tail(0) == []
    assert describe_exit(server.poll()) == "exited with code 3"
    assert server.stop() == 3


def test_tail_reads_across_blocks_and_skips_earlier_content(tmp_path):
    log = tmp_path / "s.log"
    log.write_text("old run line\n" * 10)
    cmd = script(tmp_path, "many.py", "for i in range(5000): print('x' * 30, i)\n")
    server = ServerProcess(cmd, log_path=log).start()
    poll(lambda: server.poll() is not None, timeout=10)
    assert server.log_start == len("old run line\n") * 10
    assert log.read_text().startswith("old run line\n")          # appended, not overwritten
    tail = server.tail(1000)
    assert len(tail) == 1000 and tail[-1].endswith(" 4999") and tail[0].endswith(" 4000")
    assert "old run line" not in server.tail(10_000)
    assert len(server.tail(10_000)) == 5000
    server.stop()


def test_sigterm_ignoring_server_is_killed_after_grace(tmp_path):
    cmd = script(tmp_path, "stubborn.py",
                 "import signal, time\n"
                 "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                 "print('ready', flush=True)\n"
                 "time.sleep(60)\n")
    server = ServerProcess(cmd, log_path=tmp_path / "s.log", grace=0.5).start()
    poll(lambda: "ready" in log_text(server), timeout=10)
    began = time.monotonic()
    code = server.stop()
    elapsed = time.monotonic() - began
    assert code == -signal.SIGKILL
    assert 0.5 <= elapsed < 0.5 + 3.0
    assert describe_exit(code) == "was killed by SIGKILL"


def test_well_behaved_server_stops_without_waiting_for_grace(tmp_path):
    cmd = script(tmp_path, "sleeper.py", "import time\nprint('ready')\ntime.sleep(60)\n")
    server = ServerProcess(cmd, log_path=tmp_path / "s.log", grace=20).start()
    poll(lambda: "ready" in log_text(server), timeout=10)
    began = time.monotonic()
    assert server.stop() == -signal.SIGTERM
    assert time.monotonic() - began < 5


CHILD_SPAWNER = (
    "import subprocess, sys, time\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
    "print('child', child.pid, flush=True)\n"
    "{after}\n"
)


def _child_pid(server: ServerProcess) -> int:
    line = poll(lambda: next((l for l in server.tail(5) if l.startswith("child ")), None), timeout=10)
    return int(line.split()[1])


def test_stop_kills_the_whole_process_group(tmp_path):
    cmd = script(tmp_path, "parent.py", CHILD_SPAWNER.format(after="time.sleep(60)"))
    server = ServerProcess(cmd, log_path=tmp_path / "s.log", grace=3).start()
    child = _child_pid(server)
    assert alive(child) and os.getpgid(child) == server.pid
    server.stop()
    poll(lambda: not alive(child), timeout=5)
    assert not alive(server.pid)


def test_stop_kills_children_left_behind_by_an_exited_leader(tmp_path):
    cmd = script(tmp_path, "launcher.py", CHILD_SPAWNER.format(after="sys.exit(0)"))
    server = ServerProcess(cmd, log_path=tmp_path / "s.log", grace=3).start()
    child = _child_pid(server)
    poll(lambda: server.poll() is not None, timeout=10)
    assert server.poll() == 0 and alive(child)
    assert server.stop() == 0
    poll(lambda: not alive(child), timeout=5)


def test_stop_all_stops_every_running_server(tmp_path):
    cmd = [PY, "-c", "import time; time.sleep(60)"]
    servers = [ServerProcess(cmd, log_path=tmp_path / f"s{i}.log").start() for i in range(3)]
    servers[0].stop()
    live = running_servers()
    assert servers[0] not in live and servers[1] in live and servers[2] in live
    assert stop_all() == 2
    assert not any(s.is_running for s in servers)
    assert running_servers() == []
    assert stop_all() == 0


def test_stop_is_idempotent_and_safe_before_start(tmp_path):
    server = ServerProcess([PY, "-c", "import time; time.sleep(60)"], log_path=tmp_path / "s.log")
    assert server.stop() is None and server.poll() is None and server.pid is None
    server.start()
    first = server.stop()
    assert first == -signal.SIGTERM and server.stop() == first
    with pytest.raises(RuntimeError):
        server.start()


@pytest.mark.parametrize("command", [["no-such-server-binary-xyz", "--port", "1"],
                                     "no-such-server-binary-xyz --port 1"])
def test_missing_executable_is_a_usage_error(tmp_path, command):
    with pytest.raises(UsageError) as err:
        ServerProcess(command, log_path=tmp_path / "s.log").start()
    assert "no-such-server-binary-xyz" in err.value.message
    assert "PATH" in err.value.fix
    assert running_servers() == []


def test_missing_working_directory_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError) as err:
        ServerProcess([PY, "-c", "pass"], log_path=tmp_path / "s.log", cwd=tmp_path / "nope").start()
    assert "nope" in err.value.message


def test_empty_command_and_bad_signal_are_usage_errors(tmp_path):
    with pytest.raises(UsageError):
        ServerProcess("  ", log_path=tmp_path / "s.log").start()
    with pytest.raises(UsageError, match="SIGBOGUS"):
        ServerProcess("true", log_path=tmp_path / "s.log", stop_signal="SIGBOGUS")
    assert ServerProcess("true", log_path=tmp_path / "s.log", stop_signal="int").stop_signal == signal.SIGINT


def test_without_shell_a_semicolon_is_just_an_argument(tmp_path):
    command = f"{shlex.quote(PY)} -c 'import sys; print(sys.argv[1:])' a ';' echo INJECTED"
    server = ServerProcess(command, log_path=tmp_path / "s.log").start()
    poll(lambda: server.poll() is not None, timeout=10)
    lines = server.tail(10)
    assert lines == ["['a', ';', 'echo', 'INJECTED']"]
    server.stop()


def test_with_shell_the_command_line_is_interpreted(tmp_path):
    server = ServerProcess("echo one; echo two >&2; exit 7", shell=True, log_path=tmp_path / "s.log").start()
    poll(lambda: server.poll() is not None, timeout=10)
    assert server.poll() == 7 and server.tail() == ["one", "two"]
    server.stop()
    missing = ServerProcess("no-such-server-binary-xyz", shell=True, log_path=tmp_path / "m.log").start()
    poll(lambda: missing.poll() is not None, timeout=10)
    assert "command not found" in describe_exit(missing.poll())
    missing.stop()


def test_env_is_added_and_stdin_is_empty(tmp_path):
    # stdin is /dev/null itself, not the parent's stdin (a pipe under pytest-xdist): compared by
    # identity, since a machine whose /dev/null is a plain file would have it read back what others wrote
    cmd = [PY, "-c", "import os, sys; print(os.environ['FAKEAI_X'], 'PATH' in os.environ, "
                     "os.path.samestat(os.fstat(0), os.stat(os.devnull)))"]
    server = ServerProcess(cmd, env={"FAKEAI_X": "hello"}, log_path=tmp_path / "s.log",
                           cwd=tmp_path).start()
    poll(lambda: server.poll() is not None, timeout=10)
    assert server.poll() == 0 and server.tail() == ["hello True True"]
    server.stop()


def test_free_port_is_bindable_and_reference_command_shape():
    port = free_port()
    assert 0 < port < 65536
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
    assert reference_command(["--seed", "1"], 8123) == [
        sys.executable, "-m", "fakeai_contract", "serve", "--host", "127.0.0.1", "--port", "8123",
        "--seed", "1"]


def test_servers_are_stopped_when_the_interpreter_exits(tmp_path):
    program = (
        "import sys\n"
        "from fakeai_contract.lifecycle import ServerProcess\n"
        f"s = ServerProcess([sys.executable, '-c', 'import time; time.sleep(60)'], "
        f"log_path={str(tmp_path / 's.log')!r}).start()\n"
        "print(s.pid)\n"
    )
    done = subprocess.run([PY, "-c", program], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    pid = int(done.stdout.strip())
    poll(lambda: not alive(pid), timeout=5)
