"""Headless Chromium for printing maps: the DevTools protocol over a pipe (no websocket client, no TCP port).

Chromium's ``--remote-debugging-pipe`` reads NUL-terminated JSON commands from fd 3 and writes replies to fd 4.
Used by :mod:`gridmap.maps.printing` only; the page is the map's own offline HTML, and no host name resolves.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from typing import Any

from gridmap.errors import GridmapError, message

__all__ = ["Chromium", "chromium_path", "ChromiumMissingError"]

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--disable-default-apps", "--no-default-browser-check", "--mute-audio",
         "--hide-scrollbars", "--disable-dev-shm-usage", "--font-render-hinting=none",
         "--host-resolver-rules=MAP * ~NOTFOUND"]


class ChromiumMissingError(GridmapError):
    """No Chromium to print with."""


def chromium_path() -> str:
    """``$GRIDMAP_CHROMIUM``, else ``chromium`` / ``chromium-browser`` / ``google-chrome`` on the PATH."""
    env = os.environ.get("GRIDMAP_CHROMIUM")
    if env:
        if shutil.which(env) or os.path.isfile(env):
            return env
        raise ChromiumMissingError(message("$GRIDMAP_CHROMIUM does not name a program", got=env,
                                           fix="set it to the Chromium binary, e.g. /usr/bin/chromium"))
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    raise ChromiumMissingError(message("printing a map (--pdf/--png) needs headless Chromium", got="none found on PATH",
                                       fix="apt-get install -y chromium (or set $GRIDMAP_CHROMIUM to its binary)"))


class Chromium:
    """One headless Chromium process (a context manager)."""

    def __init__(self, *, timeout_s: float = 60.0):
        self.timeout_s = timeout_s
        self._profile = tempfile.mkdtemp(prefix="gridmap-print-")
        to_r, self._w = os.pipe()
        self._r, from_w = os.pipe()
        cr, cw = fcntl.fcntl(to_r, fcntl.F_DUPFD, 10), fcntl.fcntl(from_w, fcntl.F_DUPFD, 10)
        os.close(to_r)
        os.close(from_w)

        def child_fds() -> None:
            os.dup2(cr, 3)
            os.dup2(cw, 4)

        self.proc = subprocess.Popen([chromium_path(), *FLAGS, "--remote-debugging-pipe",
                                      f"--user-data-dir={self._profile}", "about:blank"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     close_fds=False, preexec_fn=child_fds)
        os.close(cr)
        os.close(cw)
        self._id = 0
        self._cond = threading.Condition()
        self._replies: dict[int, dict] = {}
        self._events: list[dict] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        buf = b""
        while True:
            try:
                chunk = os.read(self._r, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                with self._cond:
                    self._cond.notify_all()
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                with self._cond:
                    (self._replies.__setitem__(msg["id"], msg) if "id" in msg else self._events.append(msg))
                    self._cond.notify_all()

    def send(self, method: str, params: dict | None = None, *, session: str | None = None) -> dict:
        with self._cond:
            self._id += 1
            mid = self._id
        msg: dict[str, Any] = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout_s
        with self._cond:
            while mid not in self._replies:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise GridmapError(message("Chromium did not answer", where=method,
                                               fix="check that chromium runs headless on this machine"))
                self._cond.wait(left)
            reply = self._replies.pop(mid)
        if "error" in reply:
            raise GridmapError(message("Chromium refused a command", where=method, got=str(reply["error"])[:200]))
        return reply.get("result", {})

    def evaluate(self, session: str, expression: str, *, await_promise: bool = False) -> Any:
        res = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                             "awaitPromise": await_promise}, session=session)
        if "exceptionDetails" in res:
            raise GridmapError(message("the map page failed in Chromium", got=str(res["exceptionDetails"].get("text"))))
        return res.get("result", {}).get("value")

    def page(self, url: str, *, width: int, height: int, scale: float = 1.0) -> str:
        """Open ``url`` in a new tab of ``width`` × ``height`` CSS px; wait until the map is drawn; its session."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.send("Page.enable", session=session)
        self.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": scale,
                                                         "mobile": False}, session=session)
        self.send("Page.navigate", {"url": url}, session=session)
        deadline = time.monotonic() + self.timeout_s
        while not self.evaluate(session, "document.readyState === 'complete' && window.gridmapReady === true"):
            if time.monotonic() > deadline:
                raise GridmapError(message("the map page never finished drawing in Chromium", where=url,
                                           fix="open the HTML in a browser to see what fails"))
            time.sleep(0.05)
        # Let Leaflet finish (fade animations, label placement), then two animation frames.
        self.evaluate(session, "new Promise(r => setTimeout(() => requestAnimationFrame(() => "
                               "requestAnimationFrame(r)), 400))", await_promise=True)
        return session

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except GridmapError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._w, self._r):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> "Chromium":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
