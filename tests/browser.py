"""A page in headless Chromium through the DevTools protocol: console errors, images, screenshots.

Small on purpose: Chromium with ``--remote-debugging-port=0`` writes its port to
``DevToolsActivePort`` in the profile folder; one WebSocket (``websockets``, a prosync
dependency) to the page target carries the commands and the events.
"""

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
import urllib.request
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Page:
    """One loaded page: ``errors`` (console errors, exceptions, failed loads) and ``evaluate``."""

    def __init__(self, ws):
        self.ws = ws
        self.errors: list[str] = []
        self._id = 0
        self.load_fired = False

    async def call(self, method: str, **params):
        self._id += 1
        my = self._id
        await self.ws.send(json.dumps({"id": my, "method": method, "params": params}))
        while True:
            msg = json.loads(await self.ws.recv())
            if msg.get("id") == my:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self._event(msg)

    def _event(self, msg) -> None:
        m, p = msg.get("method"), msg.get("params", {})
        if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            self.errors.append("console: " + " ".join(str(a.get("value", a.get("description")))
                                                      for a in p.get("args", [])))
        elif m == "Runtime.exceptionThrown":
            self.errors.append("exception: " + p["exceptionDetails"].get("text", ""))
        elif m == "Log.entryAdded" and p["entry"].get("level") == "error":
            self.errors.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")
        elif m == "Page.loadEventFired":
            self.load_fired = True

    async def wait_load(self, timeout: float = 60.0) -> None:
        end = time.monotonic() + timeout
        while not self.load_fired:
            msg = json.loads(await asyncio.wait_for(self.ws.recv(), max(end - time.monotonic(), 0.1)))
            self._event(msg)

    async def evaluate(self, expr: str):
        r = await self.call("Runtime.evaluate", expression=expr, awaitPromise=True,
                            returnByValue=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expr[:60]}...: {r['exceptionDetails'].get('text')}")
        return r["result"].get("value")

    async def screenshot(self, path: Path) -> Path:
        r = await self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(r["data"]))
        return path


async def _open(url: str, check, width: int, height: int):
    import websockets

    with tempfile.TemporaryDirectory(prefix="prosync-chromium-", ignore_cleanup_errors=True) as prof:
        proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--remote-debugging-port=0", f"--user-data-dir={prof}",
             f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            port_file = Path(prof) / "DevToolsActivePort"
            end = time.monotonic() + 60
            while not (port_file.exists() and port_file.read_text().strip()):
                if proc.poll() is not None or time.monotonic() > end:
                    raise RuntimeError("chromium did not start its DevTools endpoint")
                await asyncio.sleep(0.1)
            port = port_file.read_text().split()[0]
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
                target = next(t for t in json.load(r) if t["type"] == "page")
            async with websockets.connect(target["webSocketDebuggerUrl"], max_size=2**28) as ws:
                page = Page(ws)
                for domain in ("Page", "Runtime", "Log"):
                    await page.call(f"{domain}.enable")
                await page.call("Page.navigate", url=url)
                await page.wait_load()
                return await check(page)
        finally:  # the whole process group: helpers still writing the profile are stopped too
            _signal_group(proc, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait()


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def open_page(url: str, check, width: int = 1200, height: int = 1600):
    """Load ``url`` in headless Chromium and return ``await check(page)``."""
    return asyncio.run(_open(url, check, width, height))
