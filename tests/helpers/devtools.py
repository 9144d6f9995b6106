"""Headless Chromium for the tests that need to know a page renders, driven over the DevTools protocol."""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

CHROMIUM = shutil.which("chromium")
# As root on a machine with no network: no sandbox, no GPU, and none of the background connections that
# would otherwise be refused many at a time (/work/.library/env/machines/python.md).
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
)


class DevTools:
    """Headless Chromium driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`).

    No port and no websocket client: commands go in on the browser's fd 3 and replies come out of its fd 4 as
    NUL-separated JSON. bash moves the pipe ends to 3 and 4, which subprocess alone cannot do.
    """

    def __init__(self, profile: Path):
        commands_in, self._commands = os.pipe()
        self._replies, replies_out = os.pipe()
        self.process = subprocess.Popen(
            ["bash", "-c", f'exec "$0" "$@" 3<&{commands_in} 4>&{replies_out}', CHROMIUM, *CHROMIUM_FLAGS,
             f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"],
            pass_fds=(commands_in, replies_out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(commands_in)
        os.close(replies_out)
        self._buffer = b""
        self._last_id = 0
        self.events: list[dict] = []

    def call(self, method: str, session: str | None = None, timeout: float = 30, **params) -> dict:
        self._last_id += 1
        message = {"id": self._last_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") != self._last_id:
                self.events.append(reply)
                continue
            if "error" in reply:
                raise RuntimeError(f"{method}: {reply['error']}")
            return reply["result"]

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._replies], [], [], remaining)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._replies, 1 << 20)
            if not chunk:
                raise RuntimeError(f"Chromium exited with {self.process.wait()}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def open(self, url: str, width: int = 1280) -> str:
        """A new tab showing `url`, with console, log and network events recorded; returns its session."""
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Runtime", "Log", "Network", "Page"):
            self.call(f"{domain}.enable", session)
        self.call("Emulation.setDeviceMetricsOverride", session, width=width, height=900, deviceScaleFactor=1,
                  mobile=False)
        self.call("Page.navigate", session, url=url)
        return session

    def evaluate(self, session: str, expression: str):
        return self.call("Runtime.evaluate", session, expression=expression, returnByValue=True)["result"].get("value")

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._commands)
        os.close(self._replies)


# Vega's SVG renderer draws each chart as <svg class="marks">; a canvas renderer would draw a <canvas>.
CHART_STATE = """({
  charts: document.querySelectorAll('figure.chart > div').length,
  drawn: document.querySelectorAll('figure.chart svg.marks, figure.chart canvas').length,
  failed: document.querySelectorAll('figure.chart > .chart-error').length,
  ready: document.readyState,
})"""


def wait_for_charts(browser: DevTools, session: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        state = browser.evaluate(session, CHART_STATE)
        done = state["ready"] == "complete" and state["drawn"] + state["failed"] >= state["charts"]
        if done or time.monotonic() > deadline:
            return state
        time.sleep(0.1)


def browser_problems(events: list[dict]) -> list[str]:
    """Console errors and warnings, uncaught exceptions, and any request that leaves the page's own file."""
    problems = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            problems.append(f"exception: {params['exceptionDetails'].get('text')}")
        elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "warning", "assert"):
            shown = [a.get("value", a.get("description")) for a in params["args"]]
            problems.append(f"console.{params['type']}: {shown}")
        elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
            problems.append(f"log {params['entry']['level']}: {params['entry']['text']}")
        elif method == "Network.requestWillBeSent" and not params["request"]["url"].startswith(("file:", "data:")):
            problems.append(f"fetch: {params['request']['url']}")
    return problems
