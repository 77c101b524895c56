"""Headless Chromium (Debian's ``chromium``, installed by ``make setup``) driven over the
DevTools protocol with the project's pinned ``websockets``: navigate, evaluate, screenshot."""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

from tests.helpers.gateway import wait_until

__all__ = ["Browser", "BrowserError"]


class BrowserError(RuntimeError):
    """Chromium is missing, or a DevTools call or a page script failed."""


class Browser:
    def __init__(self, profile: Path, width: int = 1400, height: int = 1000) -> None:
        exe = shutil.which("chromium")
        if exe is None:
            raise BrowserError("chromium not installed; run `make setup`")
        profile.mkdir(parents=True, exist_ok=True)
        args = [exe, "--headless", "--disable-gpu", "--no-first-run", "--no-default-browser-check"]
        args += ["--remote-debugging-port=0", f"--user-data-dir={profile}", f"--window-size={width},{height}"]
        if os.geteuid() == 0:
            args.append("--no-sandbox")  # Chromium refuses to run its sandbox as root
        self.log = (profile / "chromium.log").open("wb")
        # its own process group: the browser's zygote and renderers stop with it
        self.proc = subprocess.Popen(
            [*args, "about:blank"], stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        port_file = profile / "DevToolsActivePort"
        wait_until(lambda: port_file.exists() and port_file.read_text().count("\n") >= 1, 60, "chromium DevTools port")
        port = int(port_file.read_text().splitlines()[0])
        pages = [t for t in httpx.get(f"http://127.0.0.1:{port}/json/list").json() if t["type"] == "page"]
        self.ws: ClientConnection = connect(pages[0]["webSocketDebuggerUrl"], max_size=64 * 1024 * 1024)
        self.ids = itertools.count(1)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """One DevTools command; events that arrive before its answer are dropped."""
        cid = next(self.ids)
        self.ws.send(json.dumps({"id": cid, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv(timeout=60))
            if msg.get("id") == cid:
                if "error" in msg:
                    raise BrowserError(f"{method}: {msg['error']}")
                return dict(msg.get("result", {}))

    def navigate(self, url: str) -> None:
        """Open ``url`` and return once its document and scripts have loaded."""
        self.call("Page.navigate", url=url)
        wait_until(
            lambda: self.eval("location.href") == url and self.eval("document.readyState") == "complete", 60, url
        )

    def eval(self, expression: str) -> Any:
        res = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in res:
            raise BrowserError(f"{expression!r}: {res['exceptionDetails'].get('text')}")
        return res["result"].get("value")

    def screenshot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"]))
        return path

    def close(self) -> None:
        self.ws.close()
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.log.close()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
