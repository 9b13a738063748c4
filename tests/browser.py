"""A real browser for the view's tests and benchmark: Debian's chromium driven by playwright
from PyPI (``executable_path``: no browser download), closed-network flags
(LIVE-STATION.md G.3).

``make setup`` installs chromium; without it the browser tests skip, except under
``ORBITLINK_REQUIRE_BROWSER=1`` (``.ci/run`` sets it), where they fail."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from orbitlink.tests.helpers import wait_port  # noqa: F401 - the browser tests' import

REPO = Path(__file__).resolve().parents[1]
#: where screenshots and figures go (kept by CI as artefacts)
ARTIFACTS = Path(os.environ.get("ORBITLINK_ARTIFACTS", REPO / "build" / "artifacts"))

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run",
         "--disable-dev-shm-usage"]

#: a page script, before the page's own: the arrival time (ms, UNIX) of every frame and the
#: count of spectrum rows as the websocket delivers them, whatever the page does with them
ARRIVALS = r"""
(() => {
  const Orig = window.WebSocket;
  window.__arrivals = {}; window.__rowTimes = [];
  function Wrapped(url, protocols) {
    const ws = protocols === undefined ? new Orig(url) : new Orig(url, protocols);
    ws.addEventListener('message', (e) => {
      const now = Date.now();
      if (typeof e.data === 'string') {
        try { const m = JSON.parse(e.data); if (m.type === 'frame') window.__arrivals[m.seq] = now; }
        catch (err) {}
      } else { window.__rowTimes.push(now); }
    });
    return ws;
  }
  Wrapped.prototype = Orig.prototype;
  for (const k of ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED']) Wrapped[k] = Orig[k];
  window.WebSocket = Wrapped;
})();
"""


def chromium_path() -> str | None:
    for p in (shutil.which("chromium"), "/usr/bin/chromium", shutil.which("chromium-browser")):
        if p and os.path.exists(p):
            return p
    return None


def require():
    """The chromium executable, or skip (fail under ORBITLINK_REQUIRE_BROWSER=1)."""
    import pytest

    path = chromium_path()
    why = None
    if path is None:
        why = "Debian's chromium is not installed (make setup installs it)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            why = "playwright is not installed (pip install -e '.[test]')"
    if why:
        if os.environ.get("ORBITLINK_REQUIRE_BROWSER") == "1":
            pytest.fail(why)
        pytest.skip(why)
    return path


class Browser:
    """``with Browser() as b: page = b.page()``: one chromium, pages of 1600 x 1000."""

    def __init__(self, executable: str | None = None):
        self.executable = executable or chromium_path()

    def __enter__(self):
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        self.browser = self._pw.chromium.launch(executable_path=self.executable, args=FLAGS,
                                                headless=True)
        return self

    def page(self, arrivals: bool = True):
        ctx = self.browser.new_context(viewport={"width": 1600, "height": 1000})
        page = ctx.new_page()
        if arrivals:
            page.add_init_script(ARRIVALS)
        return page

    def __exit__(self, *exc):
        try:
            self.browser.close()
        finally:
            self._pw.stop()


#: the page's frames table and counters, as the page shows them
READ_PAGE = r"""
() => {
  const rows = Array.from(document.querySelectorAll('#frames tr[data-seq]'));
  const cells = {};
  for (const el of document.querySelectorAll('[id^="count-"]')) cells[el.id.slice(6)] = el.textContent.trim();
  const c = document.getElementById('counters');
  return {frames: rows.map(tr => ({seq: +tr.dataset.seq, hex: tr.dataset.hex, ok: tr.dataset.ok,
                                   text: tr.textContent})),
          counters: cells, stats_seq: c ? c.dataset.statsSeq : null,
          rows: window.orbitlinkView.rows, symbols: window.orbitlinkView.symbols,
          doppler: window.orbitlinkView.doppler, errors: window.orbitlinkView.errors,
          arrivals: window.__arrivals || {}, row_times: window.__rowTimes || []};
}
"""


def hot_pixels(page, canvas_id: str) -> int:
    """Pixels of a canvas that are not the background (its corner pixel's colour)."""
    return page.evaluate("""(id) => {
      const c = document.getElementById(id); const g = c.getContext('2d');
      const d = g.getImageData(0, 0, c.width, c.height).data;
      const r0 = d[0], g0 = d[1], b0 = d[2]; let n = 0;
      for (let i = 0; i < d.length; i += 4)
        if (Math.abs(d[i] - r0) + Math.abs(d[i + 1] - g0) + Math.abs(d[i + 2] - b0) > 60) n++;
      return n; }""", canvas_id)
