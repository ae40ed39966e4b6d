"""A tiny headless-Chromium driver for tests and benchmarks: the DevTools protocol over a pipe.

No extra dependency: Chromium's ``--remote-debugging-pipe`` reads NUL-terminated JSON commands from fd 3 and
writes replies and events to fd 4, so no websocket client (and no TCP port) is needed.

>>> with Chromium() as browser:                                  # doctest: +SKIP
...     page = browser.open("file:///tmp/map.html")
...     page.console_errors, page.external_requests, page.load_seconds
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("GRIDMAP_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--disable-default-apps", "--no-default-browser-check", "--mute-audio",
         "--hide-scrollbars", "--disable-dev-shm-usage",
         # Belt and braces: even if a page tried, no host name resolves.
         "--host-resolver-rules=MAP * ~NOTFOUND"]
LOCAL_SCHEMES = ("file:", "data:", "about:", "blob:", "chrome-error:")
_CSP_PROBE = """window.__gmCsp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__gmCsp.push(e.violatedDirective + " " + (e.blockedURI || "") + " " + (e.sample || ""));
});"""


def available() -> bool:
    return shutil.which(CHROMIUM) is not None or Path(CHROMIUM).is_file()


@dataclass
class PageResult:
    url: str
    load_seconds: float
    ready_seconds: float
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    #: Content-Security-Policy violations the page reported (``securitypolicyviolation`` events).
    csp_violations: list[str] = field(default_factory=list)
    screenshot_png: bytes = b""
    evaluations: dict[str, Any] = field(default_factory=dict)

    @property
    def external_requests(self) -> list[str]:
        return [u for u in self.requests if not u.startswith(LOCAL_SCHEMES)]


class Chromium:
    """One headless Chromium process; :meth:`open` loads a page in a fresh tab and reports on it."""

    def __init__(self, *, width: int = 1280, height: int = 800, timeout_s: float = 30.0):
        self.width, self.height, self.timeout_s = width, height, timeout_s
        self._profile = tempfile.mkdtemp(prefix="gridmap-chromium-")
        to_chrome_r, self._w = os.pipe()
        self._r, from_chrome_w = os.pipe()
        # Move the child's ends above fd 10 so dup2 onto 3/4 cannot clobber them.
        cr = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)
        cw = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
        os.close(to_chrome_r)
        os.close(from_chrome_w)

        def child_fds() -> None:
            os.dup2(cr, 3)
            os.dup2(cw, 4)

        self.proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, "--remote-debugging-pipe", f"--user-data-dir={self._profile}",
             f"--window-size={width},{height}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            close_fds=False, preexec_fn=child_fds)
        os.close(cr)
        os.close(cw)
        self._id = 0
        self._lock = threading.Lock()
        self._cond = threading.Condition()
        self._replies: dict[int, dict] = {}
        self._events: list[dict] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    # -- protocol -------------------------------------------------------------------------------------------
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
                    if "id" in msg:
                        self._replies[msg["id"]] = msg
                    else:
                        self._events.append(msg)
                    self._cond.notify_all()

    def send(self, method: str, params: dict | None = None, *, session: str | None = None,
             timeout_s: float | None = None) -> dict:
        with self._lock:
            self._id += 1
            mid = self._id
        msg: dict[str, Any] = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + (timeout_s or self.timeout_s)
        with self._cond:
            while mid not in self._replies:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise TimeoutError(f"no reply to {method} from Chromium")
                self._cond.wait(left)
            reply = self._replies.pop(mid)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def _wait_event(self, method: str, session: str, start: int, timeout_s: float) -> dict:
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                for ev in self._events[start:]:
                    if ev.get("method") == method and ev.get("sessionId") == session:
                        return ev
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no {method} event within {timeout_s} s")
                self._cond.wait(left)

    def evaluate(self, session: str, expression: str, *, await_promise: bool = False) -> Any:
        res = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                             "awaitPromise": await_promise}, session=session)
        if "exceptionDetails" in res:
            raise RuntimeError(f"evaluate failed: {res['exceptionDetails'].get('text')} in {expression[:80]}")
        return res.get("result", {}).get("value")

    # -- pages ----------------------------------------------------------------------------------------------
    def open(self, url: str | os.PathLike, *, evaluate: dict[str, str] | None = None,
             screenshot: bool = True, ready_expr: str = "window.gridmapReady === true") -> PageResult:
        """Load ``url`` in a new tab, wait for the load event and ``ready_expr``, then two animation frames."""
        if not str(url).startswith(("file:", "http:", "https:", "about:", "data:")):
            url = Path(url).resolve().as_uri()
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        try:
            for dom in ("Page.enable", "Runtime.enable", "Log.enable", "Network.enable"):
                self.send(dom, session=session)
            # Record every CSP violation (scripts added through the protocol are not subject to the page's CSP).
            self.send("Page.addScriptToEvaluateOnNewDocument", {"source": _CSP_PROBE}, session=session)
            self.send("Emulation.setDeviceMetricsOverride", {"width": self.width, "height": self.height,
                                                             "deviceScaleFactor": 1, "mobile": False},
                      session=session)
            with self._cond:
                start = len(self._events)
            t0 = time.perf_counter()
            self.send("Page.navigate", {"url": str(url)}, session=session)
            self._wait_event("Page.loadEventFired", session, start, self.timeout_s)
            t_load = time.perf_counter() - t0
            deadline = time.monotonic() + self.timeout_s
            while not self.evaluate(session, f"!!({ready_expr})"):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"page never became ready ({ready_expr})")
                time.sleep(0.02)
            self.evaluate(session, "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))",
                          await_promise=True)
            t_ready = time.perf_counter() - t0
            result = PageResult(str(url), t_load, t_ready)
            for key, expr in (evaluate or {}).items():
                result.evaluations[key] = self.evaluate(session, expr, await_promise=True)
            result.csp_violations = list(self.evaluate(session, "window.__gmCsp || []") or [])
            if screenshot:
                shot = self.send("Page.captureScreenshot", {"format": "png"}, session=session)
                result.screenshot_png = base64.b64decode(shot["data"])
            with self._cond:
                events = [e for e in self._events[start:] if e.get("sessionId") == session]
            for ev in events:
                m, p = ev.get("method"), ev.get("params", {})
                if m == "Runtime.exceptionThrown":
                    d = p.get("exceptionDetails", {})
                    result.console_errors.append(d.get("exception", {}).get("description") or d.get("text", ""))
                elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                    result.console_errors.append(" ".join(str(a.get("value", a.get("description")))
                                                          for a in p.get("args", [])))
                elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                    result.console_errors.append(p["entry"].get("text", ""))
                elif m == "Network.requestWillBeSent":
                    result.requests.append(p.get("request", {}).get("url", ""))
                elif m == "Page.javascriptDialogOpening":
                    result.dialogs.append(p.get("message", ""))
            return result
        finally:
            try:
                self.send("Target.closeTarget", {"targetId": target}, timeout_s=5)
            except (TimeoutError, RuntimeError):
                pass

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout_s=5)
        except (TimeoutError, RuntimeError, OSError):
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


def not_blank(png: bytes, *, min_fraction: float = 0.02, min_colors: int = 8) -> tuple[bool, dict]:
    """Pixel check of a screenshot: enough pixels differ from the dominant colour, and enough colours."""
    import io

    from PIL import Image

    img = Image.open(io.BytesIO(png)).convert("RGB")
    small = img.resize((img.width // 4, img.height // 4))
    colors = small.getcolors(maxcolors=1 << 20) or []
    total = small.width * small.height
    dominant = max(colors)[0] if colors else total
    stats = {"colors": len(colors), "non_dominant_fraction": 1 - dominant / total, "size": img.size}
    return (stats["non_dominant_fraction"] >= min_fraction and stats["colors"] >= min_colors), stats
