"""Running the application on uvicorn: in the foreground (the CLI) or in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any, Callable

from .options import ReferenceOptions
from .timing import run_precise

MISSING_EXTRA = ("fakeai-contract serve needs the reference extra: "
                 "pip install 'fakeai-contract[reference]'")
#: Seconds uvicorn waits for open streams on shutdown before cancelling them.
GRACEFUL_SHUTDOWN_S = 2.0


def has_reference_extra() -> bool:
    """Whether starlette and uvicorn can be imported."""
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        return False
    return True


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on HOST:PORT (port 0: a free one); raises OSError."""
    family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    # proto must be IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on accepted sockets whose
    # proto says TCP, and without it Nagle holds each small SSE chunk for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def display_url(host: str, port: int) -> str:
    """The URL a server on HOST:PORT is reached at, as printed in the listening line."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def client_url(host: str, port: int) -> str:
    """The URL a local client uses: wildcard hosts are reached on loopback."""
    wildcard = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}
    return display_url(wildcard.get(host, host), port)


def make_uvicorn_server(options: ReferenceOptions, *, announce: Callable[[], None] | None = None,
                        log_config: dict[str, Any] | None = None):
    """A uvicorn.Server for the application; ANNOUNCE runs once it accepts connections."""
    import uvicorn

    from .app import build_app

    class _Server(uvicorn.Server):
        async def startup(self, sockets=None) -> None:
            await super().startup(sockets=sockets)
            if self.started and announce is not None:
                announce()

    config = uvicorn.Config(
        build_app(options), lifespan="on", ws="none", log_config=log_config,
        log_level="info" if options.access_log else "warning", access_log=options.access_log,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S, server_header=False)
    return _Server(config)


class ReferenceServer:
    """The reference server in a background thread of this process.

    >>> with ReferenceServer(ReferenceOptions(ttft=0.02)) as server:
    ...     requests.get(server.base_url + "/health")
    """

    def __init__(self, options: ReferenceOptions | None = None, *, startup_timeout: float = 10.0):
        self.options = options or ReferenceOptions()
        self.startup_timeout = startup_timeout
        self.base_url: str | None = None
        self.port: int | None = None
        self._server = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    def start(self) -> "ReferenceServer":
        """Bind, start uvicorn in a thread, and wait until it accepts connections."""
        if not has_reference_extra():
            raise RuntimeError(MISSING_EXTRA)
        sock = bind_socket(self.options.host, self.options.port)
        self.port = sock.getsockname()[1]
        self._server = make_uvicorn_server(self.options)
        self._thread = threading.Thread(target=self._run, args=(sock,), name="fakeai-reference",
                                        daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self.startup_timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"reference server did not start: {self._failure!r}")
            time.sleep(0.005)
        self.base_url = client_url(self.options.host, self.port)
        return self

    def _run(self, sock: socket.socket) -> None:
        try:
            run_precise(self._server.serve(sockets=[sock]))
        except BaseException as exc:  # reported by start(); a thread has nowhere else to put it
            self._failure = exc
        finally:
            sock.close()

    @property
    def state(self):
        """The server's ReferenceState (trackers, bus), for in-process inspection."""
        return self._server.config.app.state.reference if self._server else None

    def stop(self, timeout: float = GRACEFUL_SHUTDOWN_S + 3.0) -> None:
        """Shut down cleanly; open streams get GRACEFUL_SHUTDOWN_S, then the thread is abandoned."""
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(1.0)
        self._thread = None

    def __enter__(self) -> "ReferenceServer":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
