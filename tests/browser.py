"""Headless Chromium driven over the DevTools protocol (aiohttp's websocket client), for tests
that open a report the way a person would: console errors, network requests, the DOM, a screenshot."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tests.helpers import poll, poll_async

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--remote-debugging-port=0", "--remote-allow-origins=*",
         "--disable-breakpad", "--disable-crash-reporter")
#: As root Chromium raises its own priority (nice -8): it runs without the capability to, so it stays at
#: the priority of the test that starts it and never crowds out a timing test (tests/machine.py).
KEEP_PRIORITY = (["setpriv", "--bounding-set", "-sys_nice", "--inh-caps", "-sys_nice"]
                 if os.geteuid() == 0 and shutil.which("setpriv") else [])


def chromium_path() -> str | None:
    """The installed Chromium, or None."""
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class PageLoad:
    """What happened while a page loaded, and what a script read from it."""

    url: str
    load_s: float
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    screenshot: bytes = b""


class _Session:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse):
        self.ws, self.next_id, self.events = ws, 0, []
        self.waiting: dict[int, asyncio.Future] = {}
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            data = json.loads(msg.data)
            if "id" in data and data["id"] in self.waiting:
                self.waiting.pop(data["id"]).set_result(data)
            else:
                self.events.append(data)

    async def send(self, method: str, session: str | None = None, timeout: float = 20, **params) -> dict:
        self.next_id += 1
        fut = asyncio.get_running_loop().create_future()
        self.waiting[self.next_id] = fut
        msg = {"id": self.next_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        await self.ws.send_str(json.dumps(msg))
        reply = await asyncio.wait_for(fut, timeout)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    async def wait_event(self, method: str, timeout: float = 20) -> dict:
        return await poll_async(lambda: next((ev for ev in self.events if ev.get("method") == method), None),
                                timeout, interval=0.01, what=f"the browser event {method}")


async def _open(ws_url: str, url: str, scripts: dict[str, str], javascript: bool) -> PageLoad:
    async with aiohttp.ClientSession() as http, http.ws_connect(ws_url, max_msg_size=0) as ws:
        s = _Session(ws)
        target = (await s.send("Target.createTarget", url="about:blank"))["targetId"]
        sid = (await s.send("Target.attachToTarget", targetId=target, flatten=True))["sessionId"]
        for domain in ("Page", "Runtime", "Network", "Log"):
            await s.send(f"{domain}.enable", sid)
        if not javascript:
            await s.send("Emulation.setScriptExecutionDisabled", sid, value=True)
        await s.send("Emulation.setDeviceMetricsOverride", sid, width=1280, height=2400,
                     deviceScaleFactor=1, mobile=False)
        s.events.clear()
        t0 = time.monotonic()
        await s.send("Page.navigate", sid, url=url)
        await s.wait_event("Page.loadEventFired")
        load_s = time.monotonic() - t0
        page = PageLoad(url=url, load_s=load_s)
        for name, expression in scripts.items():
            r = await s.send("Runtime.evaluate", sid, expression=expression, returnByValue=True)
            page.values[name] = r.get("result", {}).get("value")
        shot = await s.send("Page.captureScreenshot", sid, format="png", captureBeyondViewport=True)
        page.screenshot = base64.b64decode(shot["data"])
        await asyncio.sleep(0.2)      # late console messages and requests
        for ev in s.events:
            method, p = ev.get("method"), ev.get("params", {})
            if method == "Network.requestWillBeSent":
                page.requests.append(p["request"]["url"])
            elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                page.console_errors.append(" ".join(str(a.get("value", a.get("description"))) for a in p["args"]))
            elif method == "Runtime.exceptionThrown":
                page.console_errors.append(p["exceptionDetails"].get("text", "exception"))
            elif method == "Log.entryAdded" and p["entry"].get("level") == "error":
                page.console_errors.append(p["entry"].get("text", ""))
        s.reader.cancel()
        return page


def open_page(path: Path, scripts: dict[str, str], javascript: bool = True, timeout: float = 60) -> PageLoad:
    """Start a fresh headless Chromium, load PATH from disk, evaluate SCRIPTS, stop the browser."""
    exe = chromium_path()
    assert exe, "Chromium is not installed"
    with tempfile.TemporaryDirectory(prefix="fakeai-chromium-") as profile:
        proc = subprocess.Popen([*KEEP_PRIORITY, exe, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, process_group=0)
        try:
            port_file = Path(profile) / "DevToolsActivePort"
            poll(lambda: port_file.exists() and len(port_file.read_text().splitlines()) >= 2, timeout,
                 interval=0.05, what="Chromium to open its DevTools port",
                 stop=lambda: proc.poll() is not None and f"Chromium exited with {proc.returncode}")
            port, browser_path = port_file.read_text().splitlines()[:2]
            ws_url = f"ws://127.0.0.1:{port}{browser_path}"
            return asyncio.run(asyncio.wait_for(_open(ws_url, path.resolve().as_uri(), scripts, javascript),
                                                timeout))
        finally:
            _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    """Stop the browser and its helper processes (its own process group, started above)."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(wait)
            break
        except subprocess.TimeoutExpired:
            continue
    try:        # the group's other members may exit a moment later
        poll(lambda: not _group_alive(proc.pid), 5, interval=0.05, what="Chromium's helper processes to end")
    except AssertionError:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def save_artifact(name: str, data: bytes, tmp_path: Path) -> list[Path]:
    """Write DATA under the test's tmp dir and, if set, $FAKEAI_CONTRACT_ARTIFACTS."""
    out = [tmp_path / name]
    folder = os.environ.get("FAKEAI_CONTRACT_ARTIFACTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        out.append(Path(folder) / name)
    for p in out:
        p.write_bytes(data)
    return out
