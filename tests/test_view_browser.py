"""The live view in a real browser (issue 15): Debian's chromium driven by playwright, ``orbitlink
rx --view`` replaying real recordings at real time.

- BY70-1 (BPSK, CCSDS concatenated): at least 40 waterfall rows within 10 s of loading the
  page; a reload and a browser closed mid-stream do not disturb the server; at the end the
  frames listed are exactly the frames on the bus (sequence numbers, bytes, check) and every
  counter shown equals the stats message it says it shows (the last one); the screenshot is
  kept in ``build/artifacts`` (``$ORBITLINK_ARTIFACTS``) with the figures measured.
- COLUMBIA (US04: 9k6 G3RUH FSK on receiver audio): the eye diagram is drawn.
- A simulated ISS pass (real TLE) through rx --tle: the Doppler panel shows the prediction and
  the measured carrier; the page loaded after the pass shows the view's kept state.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import pytest

from orbitlink.tests import browser as B
from orbitlink.tests.helpers import BusSub, RxProcess, free_port, loopback_endpoint, \
    simulated_pass, start_view

REPO = Path(__file__).resolve().parents[1]
REC = REPO / "tests" / "data" / "recordings"
TLE = str(REPO / "tests" / "data" / "tle" / "iss_flock_2018.tle")


@pytest.fixture(scope="module")
def chromium():
    return B.require()


def _fmt_int(v):
    return str(int(v))


def _run_rx_with_view(args, port, bus):
    sub = BusSub(bus)
    p = RxProcess(args + ["--bus", bus, "--view", str(port), "--control-endpoint", "none",
                          "--tx-endpoint", "none"])
    return sub, p


def test_view_in_chromium_while_rx_replays_by70_at_real_time(chromium):
    port, bus = free_port(), loopback_endpoint()
    sub, p = _run_rx_with_view(["--link", "ccsds-concat-diff", "--hw", "loopback", "--device",
                                f"file={REC / 'by701.wav'}", "--station", "by70",
                                "--stats-interval", "0.5"], port, bus)
    B.ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = B.ARTIFACTS / "view-by70.png"
    try:
        with B.Browser(chromium) as br:
            B.wait_port(port)
            page = br.page()
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            t0 = time.monotonic()
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_function("window.orbitlinkView && window.orbitlinkView.rows >= 40",
                                   timeout=10_000)
            t_rows = time.monotonic() - t0
            # a second browser that goes away mid-stream, and a reload of the first
            other = br.page()
            other.goto(f"http://127.0.0.1:{port}/")
            other.wait_for_function("window.orbitlinkView.rows >= 5", timeout=10_000)
            other.context.close()
            t_reload = time.time()
            page.reload()
            page.wait_for_function("window.orbitlinkView && window.orbitlinkView.rows >= 20",
                                   timeout=10_000)
            r0 = page.evaluate("window.orbitlinkView.rows")
            time.sleep(1.0)
            assert page.evaluate("window.orbitlinkView.rows") > r0  # still live after reload
            page.wait_for_function("window.orbitlinkView.frames.length >= 15", timeout=15_000)
            page.screenshot(path=str(shot), full_page=True)  # live, mid-recording
            msgs = sub.read_until_stop(60, proc=p)
            t_bus = {m[2]: m for m in msgs if m[1] == 1}
            out, err = p.communicate(timeout=30)
            time.sleep(0.5)
            seen = page.evaluate(B.READ_PAGE)
            page.screenshot(path=str(B.ARTIFACTS / "view-by70-end.png"), full_page=True)
            hot = B.hot_pixels(page, "waterfall")
            symbols_hot = B.hot_pixels(page, "symbols")
    finally:
        sub.close()
        p.stop()
    assert p.returncode == 0, err
    assert "Traceback" not in err and not errors, (err, errors)
    assert t_rows <= 10.0
    # the frames listed are the frames on the bus, in full
    bus_frames = sorted((m[2], m[6].hex(), "1" if m[5]["crc_ok"] else "0")
                        for m in t_bus.values())
    page_frames = sorted((f["seq"], f["hex"], f["ok"]) for f in seen["frames"])
    assert len(bus_frames) == 27 and page_frames == bus_frames
    # the counters shown are the last stats message's, the one the page says it shows
    stats = {m[2]: m[5] for m in msgs if m[1] == 2}
    s = stats[int(seen["stats_seq"])]
    assert int(seen["stats_seq"]) == max(stats)
    c = seen["counters"]
    for k in ("samples_in", "overflows", "dropped_samples", "frames", "frames_good",
              "frames_failed"):
        assert c[k] == _fmt_int(s[k]), (k, c[k], s[k])
    assert c["bus_dropped"] == _fmt_int(s["bus"]["dropped"])
    assert c["queue_fill"].startswith(f"{100 * s['queue']['fill']:.1f}")
    assert c["latency"].startswith(f"{s['latency']['last_ms']:.1f}")
    assert s["frames_good"] == 27 and c["view_missed"] == "0"
    # pictures: the waterfall and the constellation are drawn
    assert hot > 20_000 and symbols_hot > 200 and seen["symbols"] >= 5
    assert shot.stat().st_size > 50_000
    # figures: rows a second as the browser received them, and bus -> browser latency
    rt = [t for t in seen["row_times"] if t >= t_reload * 1e3 + 2000]  # live, after the
    rate = (len(rt) - 1) / ((rt[-1] - rt[0]) / 1e3) if len(rt) > 2 else 0.0  # state burst
    # frames published after the reload reached the page live (those before came again in
    # the state sent on connecting); the header's time is the wall clock at publishing
    lat = [seen["arrivals"][str(q)] - m[4] * 1e3 for q, m in t_bus.items()
           if str(q) in seen["arrivals"] and m[4] > t_reload + 0.5]
    figures = {"rows_within_s": round(t_rows, 3), "rows_per_s_browser": round(rate, 2),
               "waterfall_hot_pixels": hot, "frames": len(page_frames),
               "stats_seq_shown": int(seen["stats_seq"]), "screenshot": str(shot)}
    if lat:
        figures["frame_header_to_browser_ms"] = {"median": statistics.median(lat),
                                                 "max": max(lat)}
    (B.ARTIFACTS / "view-by70.json").write_text(json.dumps(figures, indent=1))
    print(json.dumps(figures))


def test_view_in_chromium_draws_the_fsk_eye_of_us04(chromium):
    port, bus = free_port(), loopback_endpoint()
    sub, p = _run_rx_with_view(["--link", "ax25-fsk9600", "--hw", "loopback", "--device",
                                f"file={REC / 'us04.wav'}"], port, bus)
    shot = B.ARTIFACTS / "view-us04.png"
    B.ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        with B.Browser(chromium) as br:
            B.wait_port(port)
            page = br.page()
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_function("window.orbitlinkView.symbols >= 9", timeout=15_000)
            page.wait_for_function(
                "document.getElementById('symbols-title').textContent.includes('last frame')",
                timeout=10_000)
            title = page.text_content("#symbols-title") or ""
            hot = B.hot_pixels(page, "symbols")
            page.screenshot(path=str(shot), full_page=True)
            sub.read_until_stop(30, proc=p)
            out, err = p.communicate(timeout=30)
    finally:
        sub.close()
        p.stop()
    assert p.returncode == 0, err
    assert "eye" in title.lower() and hot > 500


def test_view_in_chromium_shows_the_doppler_of_a_pass_after_it(chromium, tmp_path):
    meta, _ = simulated_pass(tmp_path / "pass")
    bus, port = loopback_endpoint(), free_port()
    view = start_view(bus, port)
    shot = B.ARTIFACTS / "view-pass.png"
    B.ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        sub = BusSub(bus)
        p = RxProcess(["--link", "ccsds-concat", "--set", "modulation=qpsk", "--hw",
                       "loopback", "--device", f"file={meta}", "--tle", TLE,
                       "--station", "52.0,4.37,10", "--freq", "2.2G", "--pass", "next",
                       "--min-el", "50", "--duration", "8", "--bus", bus,
                       "--control-endpoint", "none", "--tx-endpoint", "none",
                       "--stats-interval", "0.25"])
        try:
            msgs = sub.read_until_stop(60, proc=p)
            out, err = p.communicate(timeout=30)
        finally:
            sub.close()
            p.stop()
        assert p.returncode == 0, err
        with B.Browser(chromium) as br:
            page = br.page()
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_function("window.orbitlinkView.doppler >= 10", timeout=10_000)
            note = page.is_visible("#doppler-note")
            hot = B.hot_pixels(page, "doppler")
            seen = page.evaluate(B.READ_PAGE)
            page.screenshot(path=str(shot), full_page=True)
    finally:
        view.terminate()
        view.wait(10)
    stats = [m[5] for m in msgs if m[1] == 2 and "pass" in m[5]]
    frames = [m for m in msgs if m[1] == 1]
    assert len(stats) >= 10 and frames
    assert seen["doppler"] >= len(stats)  # every prediction, and the measured points
    assert not note and hot > 300
    assert len(seen["frames"]) == len(frames)
