/* orbitlink view: browser side of the websocket protocol v1 (see docs / view.py).
 * Plain JavaScript + canvas; no external libraries. */
(function () {
  'use strict';

  var MAX_FRAMES = 100;
  var MAX_EVENTS = 20;
  var MAX_DOPPLER = 5000;
  var WF_ROWS = 240;          // waterfall history (buffer rows, one per spectrum message)
  var MINUS = '\u2212';
  var DASH = '\u2013';

  // ---------------------------------------------------------------- state (exposed for tests)
  var V = {
    rows: 0,          // spectrum rows received and drawn into the waterfall
    frames: [],       // frame messages currently listed, newest first
    stats: null,      // last stats message
    symbols: 0,       // symbols messages drawn
    doppler: 0,       // doppler points held
    errors: 0,        // malformed / unhandled messages
    connected: false,
    view: null,       // last view message
    hello: null,
    events: [],       // last events, newest first
    rowsPerSec: 0,
    lastMessageAt: 0
  };
  window.orbitlinkView = V;

  function $(id) { return document.getElementById(id); }
  function isNum(x) { return typeof x === 'number' && isFinite(x); }
  function isObj(x) { return x !== null && typeof x === 'object' && !Array.isArray(x); }
  function clamp(x, a, b) { return x < a ? a : (x > b ? b : x); }
  function fmtSigned(s) { return s.charAt(0) === '-' ? MINUS + s.slice(1) : s; }

  // ---------------------------------------------------------------- colour map (turbo)
  var LUT = new Uint8Array(256 * 3);
  (function buildTurbo() {
    for (var k = 0; k < 256; k++) {
      var x = k / 255;
      var r = 0.13572138 + x * (4.61539260 + x * (-42.66032258 + x * (132.13108234 + x * (-152.94239396 + x * 59.28637943))));
      var g = 0.09140261 + x * (2.19418839 + x * (4.84296658 + x * (-14.18503333 + x * (4.27729857 + x * 2.82956604))));
      var b = 0.10667330 + x * (12.64194608 + x * (-60.58204836 + x * (110.36276771 + x * (-89.90310912 + x * 27.34824973))));
      LUT[3 * k] = Math.round(clamp(r, 0, 1) * 255);
      LUT[3 * k + 1] = Math.round(clamp(g, 0, 1) * 255);
      LUT[3 * k + 2] = Math.round(clamp(b, 0, 1) * 255);
    }
  })();

  // ---------------------------------------------------------------- canvas helpers
  var DPR = window.devicePixelRatio || 1;
  var canvases = {};
  function fitCanvas(name) {
    var c = canvases[name];
    if (!c) {
      var el = $(name);
      if (!el) return null;
      c = canvases[name] = { el: el, ctx: el.getContext('2d'), w: 0, h: 0 };
    }
    var dpr = window.devicePixelRatio || 1;
    var w = Math.max(1, c.el.clientWidth), h = Math.max(1, c.el.clientHeight);
    var pw = Math.round(w * dpr), ph = Math.round(h * dpr);
    if (c.el.width !== pw || c.el.height !== ph) { c.el.width = pw; c.el.height = ph; }
    c.w = w; c.h = h; DPR = dpr;
    c.ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    return c;
  }

  function niceStep(range, target) {
    if (!(range > 0)) return 1;
    var raw = range / Math.max(1, target);
    var p = Math.pow(10, Math.floor(Math.log10(raw)));
    var m = raw / p;
    var s = m < 1.5 ? 1 : (m < 3.5 ? 2 : (m < 7.5 ? 5 : 10));
    return s * p;
  }
  function decimalsFor(step) { return step >= 1 ? 0 : clamp(Math.ceil(-Math.log10(step) - 1e-9), 0, 6); }

  var FONT = '10.5px ui-monospace, "DejaVu Sans Mono", "Liberation Mono", Menlo, monospace';
  var C_GRID = 'rgba(140,160,185,0.12)';
  var C_AXIS = 'rgba(140,160,185,0.35)';
  var C_LABEL = '#7c8898';
  var C_BG = '#0d1118';

  // ---------------------------------------------------------------- render scheduling
  var dirty = { spectrum: false, waterfall: false, symbols: false, doppler: false };
  var rafPending = false;
  function requestRender(what) {
    if (what) dirty[what] = true;
    if (!rafPending) { rafPending = true; requestAnimationFrame(renderAll); }
  }
  function renderAll() {
    rafPending = false;
    var list = ['spectrum', 'waterfall', 'symbols', 'doppler'];
    for (var i = 0; i < list.length; i++) {
      var k = list[i];
      if (!dirty[k]) continue;
      dirty[k] = false;
      try { RENDER[k](); } catch (e) { V.errors++; console.error('render ' + k, e); }
    }
  }
  function allDirty() { requestRender('spectrum'); requestRender('waterfall'); requestRender('symbols'); requestRender('doppler'); }

  // ---------------------------------------------------------------- spectrum / waterfall
  var SP = {
    nbins: 0, db: null, hold: null, hdr: null,
    floor: null, peak: null, lo: -100, hi: -20,
    wfBuf: null, wfCtx: null, wfImg: null, wfHead: 0, wfTimes: null, wfFilled: 0,
    rateTimes: []
  };
  var ML = 48, MR = 12; // shared horizontal margins (spectrum + waterfall)

  function resetSpectrum(nbins) {
    SP.nbins = nbins;
    SP.db = new Float32Array(nbins);
    SP.hold = null;
    SP.floor = null; SP.peak = null;
    SP.wfBuf = document.createElement('canvas');
    SP.wfBuf.width = nbins; SP.wfBuf.height = WF_ROWS;
    SP.wfCtx = SP.wfBuf.getContext('2d');
    SP.wfCtx.fillStyle = '#000';
    SP.wfCtx.fillRect(0, 0, nbins, WF_ROWS);
    SP.wfImg = SP.wfCtx.createImageData(nbins, 1);
    SP.wfHead = 0; SP.wfFilled = 0;
    SP.wfTimes = new Float64Array(WF_ROWS).fill(NaN);
  }

  var replayGuard = false, recentKeys = new Set(), recentOrder = [];
  var textDecoder = new TextDecoder('utf-8');

  function handleBinary(buf) {
    var bytes = new Uint8Array(buf);
    if (bytes.length < 5 || bytes[0] !== 0x01) throw new Error('not a spectrum row');
    var dv = new DataView(buf);
    var H = dv.getUint32(1, true);
    if (5 + H > bytes.length) throw new Error('bad header length');
    var hdr = JSON.parse(textDecoder.decode(bytes.subarray(5, 5 + H)));
    if (!isObj(hdr)) throw new Error('bad header');
    var nbins = hdr.nbins;
    if (!(Number.isInteger(nbins) && nbins > 0)) throw new Error('bad nbins');
    if (5 + H + nbins > bytes.length) throw new Error('short row');
    var v = bytes.subarray(5 + H, 5 + H + nbins);
    var db0 = isNum(hdr.db0) ? hdr.db0 : 0, step = isNum(hdr.db_step) ? hdr.db_step : 1;

    // After a reconnect the server re-sends its last (<=60) rows, oldest first: while that
    // replay runs, rows already drawn are skipped; the first row not seen before ends it.
    // (Bus sequence numbers are per publisher, so no ordering is assumed.)
    var key = String(hdr.seq) + '/' + String(hdr.sample_index) + '/' + String(hdr.time_s);
    if (replayGuard) {
      if (recentKeys.has(key)) return;
      replayGuard = false;
    }
    recentKeys.add(key);
    recentOrder.push(key);
    if (recentOrder.length > 256) recentKeys.delete(recentOrder.shift());

    if (nbins !== SP.nbins) resetSpectrum(nbins);
    SP.hdr = hdr;

    // histogram of the uint8 values -> 10th percentile (noise floor) and max, in O(n)
    var hist = new Uint32Array(256), vmax = 0, vmaxK = 0;
    var db = SP.db, k;
    for (k = 0; k < nbins; k++) {
      var x = v[k];
      hist[x]++;
      if (x > vmax) { vmax = x; vmaxK = k; }
      db[k] = db0 + x * step;
    }
    var target = Math.max(1, Math.floor(nbins * 0.10)), acc = 0, p10 = 0;
    for (k = 0; k < 256; k++) { acc += hist[k]; if (acc >= target) { p10 = k; break; } }
    var floorDb = db0 + p10 * step, maxDb = db0 + vmax * step;
    SP.floor = SP.floor === null ? floorDb : SP.floor + 0.08 * (floorDb - SP.floor);
    SP.peak = SP.peak === null ? maxDb : Math.max(maxDb, SP.peak - 0.15);
    SP.peakBin = vmaxK; SP.peakDb = maxDb;

    // max hold with slow decay (about 1 dB/s at 10 rows/s)
    if (!SP.hold) SP.hold = new Float32Array(db);
    else for (k = 0; k < nbins; k++) SP.hold[k] = Math.max(db[k], SP.hold[k] - 0.1);

    // waterfall: one buffer row per message, written once via ImageData into a ring buffer
    var lo = SP.floor - 5, hi = Math.max(SP.peak, SP.floor + 20);
    SP.wfLo = lo; SP.wfHi = hi;
    var scale = 255 / (hi - lo), d = SP.wfImg.data;
    for (k = 0; k < nbins; k++) {
      var ci = (db[k] - lo) * scale;
      ci = ci < 0 ? 0 : (ci > 255 ? 255 : ci | 0);
      var o = 4 * k, l = 3 * ci;
      d[o] = LUT[l]; d[o + 1] = LUT[l + 1]; d[o + 2] = LUT[l + 2]; d[o + 3] = 255;
    }
    SP.wfHead = (SP.wfHead - 1 + WF_ROWS) % WF_ROWS;  // newest row sits at wfHead
    SP.wfCtx.putImageData(SP.wfImg, 0, SP.wfHead);
    SP.wfTimes[SP.wfHead] = isNum(hdr.time_s) ? hdr.time_s : NaN;
    SP.wfFilled = Math.min(WF_ROWS, SP.wfFilled + 1);

    V.rows++;
    var now = performance.now();
    if (inSnapshot) snapshotSawRow = true;   // a replayed burst: not part of the live rate
    else SP.rateTimes.push(now);
    while (SP.rateTimes.length && now - SP.rateTimes[0] > 3000) SP.rateTimes.shift();
    requestRender('spectrum'); requestRender('waterfall');
    scheduleTitle();
  }

  function freqGeom(hdr) {
    var sr = isNum(hdr.samp_rate) ? hdr.samp_rate : 0;
    var one = !!hdr.one_sided;
    return { one: one, f0: one ? 0 : -sr / 2, f1: sr / 2, cf: isNum(hdr.center_freq) ? hdr.center_freq : 0 };
  }

  function drawFreqTicks(ctx, g, x0, x1, yTop, yBot, yLabel, withLabels) {
    if (!(g.f1 > g.f0)) return;
    var unit = g.one ? 1 : 1000;                       // one-sided audio in Hz, IQ offsets in kHz
    var span = (g.f1 - g.f0) / unit;
    var width = x1 - x0;
    var step = niceStep(span, Math.max(2, Math.floor(width / 90)));
    var dec = decimalsFor(step);
    var first = Math.ceil(g.f0 / unit / step) * step;
    ctx.strokeStyle = C_GRID; ctx.lineWidth = 1;
    ctx.fillStyle = C_LABEL; ctx.font = FONT; ctx.textAlign = 'center'; ctx.textBaseline = 'top';
    for (var f = first; f <= g.f1 / unit + 1e-9; f += step) {
      var x = Math.round(x0 + (f * unit - g.f0) / (g.f1 - g.f0) * width) + 0.5;
      ctx.beginPath(); ctx.moveTo(x, yTop); ctx.lineTo(x, yBot); ctx.stroke();
      if (withLabels) {
        var s = Math.abs(f) < step / 1e6 ? '0' : f.toFixed(dec);
        if (!g.one && f > 0) s = '+' + s;
        if (x > x0 + 12 && x < x1 - 18) ctx.fillText(fmtSigned(s), x, yLabel);
      }
    }
    if (withLabels) {
      ctx.textAlign = 'right';
      ctx.fillStyle = '#98a6b8';
      ctx.fillText(g.one ? 'Hz' : 'kHz', x1, yLabel);
    }
  }

  function renderSpectrum() {
    var c = fitCanvas('spectrum'); if (!c) return;
    var ctx = c.ctx, W = c.w, Hh = c.h;
    ctx.fillStyle = C_BG; ctx.fillRect(0, 0, W, Hh);
    var MT = 8, MB = 18;
    var x0 = ML, x1 = W - MR, y0 = MT, y1 = Hh - MB;
    ctx.strokeStyle = C_AXIS; ctx.strokeRect(x0 + 0.5, y0 + 0.5, x1 - x0 - 1, y1 - y0 - 1);
    if (!SP.hdr || !SP.db) {
      ctx.fillStyle = C_LABEL; ctx.font = FONT; ctx.textAlign = 'center'; ctx.textBaseline = 'middle';
      ctx.fillText('waiting for spectrum rows', (x0 + x1) / 2, (y0 + y1) / 2);
      return;
    }
    // vertical range in 10 dB steps, from the running floor and held peak
    var holdMax = -Infinity, k, n = SP.nbins;
    for (k = 0; k < n; k++) if (SP.hold[k] > holdMax) holdMax = SP.hold[k];
    var lo = Math.floor((SP.floor - 8) / 10) * 10, hi = Math.ceil((holdMax + 4) / 10) * 10;
    if (hi - lo < 30) hi = lo + 30;
    // hysteresis to avoid jumping axes
    if (lo < SP.lo || lo > SP.lo + 10) SP.lo = lo;
    if (hi > SP.hi || hi < SP.hi - 10) SP.hi = hi;
    lo = SP.lo; hi = SP.hi;
    var yOf = function (d) { return y1 - (d - lo) / (hi - lo) * (y1 - y0); };

    // dB grid + labels
    var dstep = niceStep(hi - lo, Math.max(2, Math.floor((y1 - y0) / 32)));
    ctx.font = FONT; ctx.textAlign = 'right'; ctx.textBaseline = 'middle';
    for (var d = Math.ceil(lo / dstep) * dstep; d <= hi + 1e-9; d += dstep) {
      var y = Math.round(yOf(d)) + 0.5;
      ctx.strokeStyle = C_GRID; ctx.beginPath(); ctx.moveTo(x0, y); ctx.lineTo(x1, y); ctx.stroke();
      ctx.fillStyle = C_LABEL; ctx.fillText(fmtSigned(String(Math.round(d))), x0 - 5, clamp(y, y0 + 5, y1 - 5));
    }
    ctx.save(); ctx.translate(10, (y0 + y1) / 2); ctx.rotate(-Math.PI / 2);
    ctx.textAlign = 'center'; ctx.fillStyle = '#98a6b8'; ctx.fillText('dB', 0, 0); ctx.restore();

    var g = freqGeom(SP.hdr);
    drawFreqTicks(ctx, g, x0, x1, y0, y1, y1 + 4, true);

    ctx.save();
    ctx.beginPath(); ctx.rect(x0, y0, x1 - x0, y1 - y0); ctx.clip();
    var dx = (x1 - x0) / n;
    // max hold (faint)
    ctx.beginPath();
    for (k = 0; k < n; k++) {
      var xx = x0 + (k + 0.5) * dx, yy = yOf(SP.hold[k]);
      if (k === 0) ctx.moveTo(xx, yy); else ctx.lineTo(xx, yy);
    }
    ctx.strokeStyle = 'rgba(255,183,77,0.35)'; ctx.lineWidth = 1; ctx.stroke();
    // latest row with a soft fill
    ctx.beginPath();
    ctx.moveTo(x0, y1);
    for (k = 0; k < n; k++) ctx.lineTo(x0 + (k + 0.5) * dx, yOf(SP.db[k]));
    ctx.lineTo(x1, y1); ctx.closePath();
    var grad = ctx.createLinearGradient(0, y0, 0, y1);
    grad.addColorStop(0, 'rgba(79,195,247,0.28)'); grad.addColorStop(1, 'rgba(79,195,247,0.02)');
    ctx.fillStyle = grad; ctx.fill();
    ctx.beginPath();
    for (k = 0; k < n; k++) {
      var x2 = x0 + (k + 0.5) * dx, y2 = yOf(SP.db[k]);
      if (k === 0) ctx.moveTo(x2, y2); else ctx.lineTo(x2, y2);
    }
    ctx.strokeStyle = '#6fd0ff'; ctx.lineWidth = 1.1; ctx.stroke();
    // noise floor marker
    var yf = Math.round(yOf(SP.floor)) + 0.5;
    ctx.setLineDash([3, 4]); ctx.strokeStyle = 'rgba(95,211,141,0.45)';
    ctx.beginPath(); ctx.moveTo(x0, yf); ctx.lineTo(x1, yf); ctx.stroke(); ctx.setLineDash([]);
    ctx.restore();

    // info line
    var pf = g.f0 + (SP.peakBin + 0.5) / n * (g.f1 - g.f0);
    var pfs = g.one ? Math.round(pf) + ' Hz' : fmtSigned((pf >= 0 ? '+' : '') + (pf / 1000).toFixed(2)) + ' kHz';
    $('spectrum-info').textContent = (g.one ? 'audio' : 'cf ' + fmtFreq(g.cf)) + '  sr ' + fmtFreq(SP.hdr.samp_rate) +
      '  ' + n + ' bins  floor ' + fmtSigned(SP.floor.toFixed(1)) + ' dB  peak ' + fmtSigned(SP.peakDb.toFixed(1)) + ' dB @ ' + pfs;
  }

  function renderWaterfall() {
    var c = fitCanvas('waterfall'); if (!c) return;
    var ctx = c.ctx, W = c.w, Hh = c.h;
    ctx.fillStyle = C_BG; ctx.fillRect(0, 0, W, Hh);
    var MT = 2, MB = 14;
    var x0 = ML, x1 = W - MR, y0 = MT, y1 = Hh - MB;
    if (!SP.wfBuf) {
      ctx.strokeStyle = C_AXIS; ctx.strokeRect(x0 + 0.5, y0 + 0.5, x1 - x0 - 1, y1 - y0 - 1);
      return;
    }
    var rh = (y1 - y0) / WF_ROWS, head = SP.wfHead, n = SP.nbins;
    ctx.imageSmoothingEnabled = true;
    // ring buffer -> two blits, newest row (head) at the top
    var top = WF_ROWS - head;
    ctx.drawImage(SP.wfBuf, 0, head, n, top, x0, y0, x1 - x0, top * rh);
    if (head > 0) ctx.drawImage(SP.wfBuf, 0, 0, n, head, x0, y0 + top * rh, x1 - x0, head * rh);
    ctx.strokeStyle = C_AXIS; ctx.strokeRect(x0 + 0.5, y0 + 0.5, x1 - x0 - 1, y1 - y0 - 1);
    if (SP.hdr) drawFreqTicks(ctx, freqGeom(SP.hdr), x0, x1, y1, y1 + 4, 0, false);

    // time labels on the left: age of rows relative to the newest
    var tNew = SP.wfTimes[head];
    ctx.font = FONT; ctx.fillStyle = C_LABEL; ctx.textAlign = 'right'; ctx.textBaseline = 'middle';
    var every = Math.max(10, Math.round(40 / rh / 10) * 10);
    for (var r = 0; r < SP.wfFilled; r += every) {
      var t = SP.wfTimes[(head + r) % WF_ROWS];
      var y = y0 + (r + 0.5) * rh;
      if (y > y1 - 6) break;
      var lab = (isNum(tNew) && isNum(t)) ? (r === 0 ? '0 s' : fmtSigned('-' + (tNew - t).toFixed((tNew - t) < 10 ? 1 : 0)) + ' s') : (r === 0 ? 'now' : fmtSigned('-' + r));
      ctx.fillText(lab, x0 - 5, clamp(y, y0 + 6, y1 - 6));
      ctx.strokeStyle = 'rgba(0,0,0,0.35)';
    }
    // colour bar legend along the bottom-left margin
    var lbW = Math.min(140, (x1 - x0) * 0.3), lbX = x1 - lbW - 26, lbY = y1 + 4;
    for (var i = 0; i < lbW; i++) {
      var li = Math.round(i / (lbW - 1) * 255) * 3;
      ctx.fillStyle = 'rgb(' + LUT[li] + ',' + LUT[li + 1] + ',' + LUT[li + 2] + ')';
      ctx.fillRect(lbX + i, lbY, 1, 6);
    }
    if (isNum(SP.wfLo)) {
      ctx.font = FONT; ctx.textBaseline = 'middle'; ctx.fillStyle = C_LABEL;
      ctx.textAlign = 'right'; ctx.fillText(fmtSigned(SP.wfLo.toFixed(0)) + ' dB', lbX - 4, lbY + 3);
      ctx.textAlign = 'left'; ctx.fillText(fmtSigned(SP.wfHi.toFixed(0)), lbX + lbW + 4, lbY + 3);
      var tOld = SP.wfTimes[(head + SP.wfFilled - 1) % WF_ROWS];
      $('waterfall-info').textContent = (isNum(tNew) && isNum(tOld) ? 'span ' + (tNew - tOld).toFixed(1) + ' s  ' : '') +
        SP.wfFilled + '/' + WF_ROWS + ' rows  levels ' + fmtSigned(SP.wfLo.toFixed(0)) + ' ' + DASH + ' ' +
        fmtSigned(SP.wfHi.toFixed(0)) + ' dB  total ' + V.rows;
    }
  }

  // ---------------------------------------------------------------- symbols (constellation / eye)
  var SYM = { msg: null };
  function handleSymbols(m) {
    if (m.form === 'constellation') {
      if (!Array.isArray(m.i) || !Array.isArray(m.q)) throw new Error('bad constellation');
    } else if (m.form === 'eye') {
      if (!Array.isArray(m.traces)) throw new Error('bad eye');
    } else throw new Error('unknown symbols form');
    SYM.msg = m;
    V.symbols++;
    requestRender('symbols');
  }

  function renderSymbols() {
    var c = fitCanvas('symbols'); if (!c) return;
    var ctx = c.ctx, W = c.w, Hh = c.h;
    ctx.fillStyle = C_BG; ctx.fillRect(0, 0, W, Hh);
    var m = SYM.msg;
    if (!m) {
      ctx.fillStyle = C_LABEL; ctx.font = FONT; ctx.textAlign = 'center'; ctx.textBaseline = 'middle';
      ctx.fillText('waiting for symbols', W / 2, Hh / 2);
      return;
    }
    if (m.form === 'constellation') drawConstellation(ctx, W, Hh, m);
    else drawEye(ctx, W, Hh, m);
  }

  function drawConstellation(ctx, W, Hh, m) {
    var n = Math.min(m.i.length, m.q.length), k, s2 = 0, cnt = 0;
    for (k = 0; k < n; k++) {
      var a = +m.i[k], b = +m.q[k];
      if (isFinite(a) && isFinite(b)) { s2 += a * a + b * b; cnt++; }
    }
    var rms = cnt ? Math.sqrt(s2 / cnt) : 1;
    var S = 1.6 * (rms > 0 ? rms : 1);
    var side = Math.max(20, Math.min(W - 44, Hh - 30));
    var x0 = Math.round((W - side) / 2 + 12), y0 = 8, cx = x0 + side / 2, cy = y0 + side / 2;
    var px = function (v) { return cx + v / S * side / 2; };
    var py = function (v) { return cy - v / S * side / 2; };
    ctx.strokeStyle = C_GRID; ctx.lineWidth = 1;
    var st = niceStep(2 * S, 4), dec = decimalsFor(st);
    ctx.font = FONT; ctx.fillStyle = C_LABEL;
    for (var g = Math.ceil(-S / st) * st; g <= S + 1e-12; g += st) {
      var gx = Math.round(px(g)) + 0.5, gy = Math.round(py(g)) + 0.5;
      ctx.strokeStyle = Math.abs(g) < st / 1e6 ? C_AXIS : C_GRID;
      ctx.beginPath(); ctx.moveTo(gx, y0); ctx.lineTo(gx, y0 + side); ctx.stroke();
      ctx.beginPath(); ctx.moveTo(x0, gy); ctx.lineTo(x0 + side, gy); ctx.stroke();
      var lab = fmtSigned((Math.abs(g) < st / 1e6 ? 0 : g).toFixed(dec));
      ctx.textAlign = 'center'; ctx.textBaseline = 'top';
      if (gx > x0 + 8 && gx < x0 + side - 8) ctx.fillText(lab, gx, y0 + side + 3);
      ctx.textAlign = 'right'; ctx.textBaseline = 'middle';
      if (gy > y0 + 6 && gy < y0 + side - 6) ctx.fillText(lab, x0 - 4, gy);
    }
    ctx.strokeStyle = C_AXIS; ctx.strokeRect(x0 + 0.5, y0 + 0.5, side - 1, side - 1);
    ctx.fillStyle = '#98a6b8'; ctx.textAlign = 'left'; ctx.textBaseline = 'top';
    ctx.fillText('I', x0 + side - 10, y0 + side / 2 + 3);
    ctx.fillText('Q', x0 + side / 2 + 4, y0 + 2);
    // rms circle
    ctx.strokeStyle = 'rgba(255,183,77,0.25)'; ctx.setLineDash([3, 4]);
    ctx.beginPath(); ctx.arc(cx, cy, rms / S * side / 2, 0, 2 * Math.PI); ctx.stroke(); ctx.setLineDash([]);
    ctx.save(); ctx.beginPath(); ctx.rect(x0, y0, side, side); ctx.clip();
    ctx.fillStyle = 'rgba(111,208,255,0.75)';
    var r = n > 2000 ? 1 : 1.6;
    for (k = 0; k < n; k++) {
      var xi = +m.i[k], yq = +m.q[k];
      if (!isFinite(xi) || !isFinite(yq)) continue;
      ctx.fillRect(px(xi) - r, py(yq) - r, 2 * r, 2 * r);
    }
    ctx.restore();
    $('symbols-title').textContent = 'Constellation';
    $('symbols-info').textContent = n + ' points  rms ' + rms.toFixed(3) + '  #' + (isNum(m.seq) ? m.seq : DASH);
    $('panel-symbols').setAttribute('data-form', 'constellation');
  }

  function drawEye(ctx, W, Hh, m) {
    var traces = m.traces, nt = traces.length, k, j, amax = 0, len = 0;
    for (k = 0; k < nt; k++) {
      var tr = traces[k];
      if (!Array.isArray(tr)) continue;
      if (tr.length > len) len = tr.length;
      for (j = 0; j < tr.length; j++) { var a = Math.abs(+tr[j]); if (isFinite(a) && a > amax) amax = a; }
    }
    var sps = Number.isInteger(m.sps) && m.sps > 0 ? m.sps : Math.max(1, Math.floor((len - 1) / 2));
    var span = 2 * sps;
    var A = amax > 0 ? amax * 1.15 : 1;
    var x0 = 44, x1 = W - 10, y0 = 8, y1 = Hh - 20;
    var px = function (s) { return x0 + s / span * (x1 - x0); };
    var py = function (v) { return (y0 + y1) / 2 - v / A * (y1 - y0) / 2; };
    ctx.lineWidth = 1; ctx.font = FONT;
    // y grid
    var st = niceStep(2 * A, 4), dec = decimalsFor(st);
    ctx.textAlign = 'right'; ctx.textBaseline = 'middle';
    for (var g = Math.ceil(-A / st) * st; g <= A + 1e-12; g += st) {
      var gy = Math.round(py(g)) + 0.5;
      ctx.strokeStyle = Math.abs(g) < st / 1e6 ? C_AXIS : C_GRID;
      ctx.beginPath(); ctx.moveTo(x0, gy); ctx.lineTo(x1, gy); ctx.stroke();
      ctx.fillStyle = C_LABEL; ctx.fillText(fmtSigned((Math.abs(g) < st / 1e6 ? 0 : g).toFixed(dec)), x0 - 4, gy);
    }
    // x labels: 0, T, 2T (symbol periods)
    ctx.textAlign = 'center'; ctx.textBaseline = 'top';
    var xl = ['0', 'T', '2T'];
    for (j = 0; j <= 2; j++) {
      var gx = Math.round(px(j * sps)) + 0.5;
      ctx.strokeStyle = C_GRID; ctx.beginPath(); ctx.moveTo(gx, y0); ctx.lineTo(gx, y1); ctx.stroke();
      ctx.fillStyle = C_LABEL; ctx.fillText(xl[j], clamp(gx, x0 + 6, x1 - 8), y1 + 4);
    }
    ctx.strokeStyle = C_AXIS; ctx.strokeRect(x0 + 0.5, y0 + 0.5, x1 - x0 - 1, y1 - y0 - 1);
    // traces
    ctx.save(); ctx.beginPath(); ctx.rect(x0, y0, x1 - x0, y1 - y0); ctx.clip();
    ctx.strokeStyle = 'rgba(111,208,255,' + clamp(6 / Math.max(1, nt), 0.06, 0.5).toFixed(3) + ')';
    ctx.lineWidth = 1.2;
    for (k = 0; k < nt; k++) {
      var t2 = traces[k];
      if (!Array.isArray(t2) || t2.length < 2) continue;
      var step = span / (t2.length - 1);
      ctx.beginPath();
      for (j = 0; j < t2.length; j++) {
        var yy = py(+t2[j] || 0);
        if (j === 0) ctx.moveTo(px(0), yy); else ctx.lineTo(px(j * step), yy);
      }
      ctx.stroke();
    }
    ctx.restore();
    // decision instant
    var xc = Math.round(px(sps)) + 0.5;
    ctx.strokeStyle = 'rgba(255,183,77,0.8)'; ctx.setLineDash([4, 3]);
    ctx.beginPath(); ctx.moveTo(xc, y0); ctx.lineTo(xc, y1); ctx.stroke(); ctx.setLineDash([]);
    ctx.fillStyle = '#ffb74d'; ctx.textAlign = 'left'; ctx.textBaseline = 'top';
    ctx.fillText('decision', xc + 4, y0 + 2);
    $('symbols-title').textContent = m.of === 'frame' ? 'Eye diagram (last frame)' : 'Eye diagram (live)';
    $('symbols-info').textContent = nt + ' traces  sps ' + sps + '  #' + (isNum(m.seq) ? m.seq : DASH);
    $('panel-symbols').setAttribute('data-form', 'eye');
  }

  // ---------------------------------------------------------------- doppler
  var DOP = { pts: [], anyPredicted: false };
  function handleDoppler(m) {
    if (!isNum(m.t)) throw new Error('doppler without t');
    var p = isNum(m.predicted_hz) ? m.predicted_hz : null;
    var me = isNum(m.measured_hz) ? m.measured_hz : null;
    var el = isNum(m.elevation_deg) ? m.elevation_deg : null;
    if (p !== null) DOP.anyPredicted = true;
    DOP.pts.push({ t: m.t, p: p, m: me, el: el });
    if (DOP.pts.length > MAX_DOPPLER) DOP.pts.splice(0, DOP.pts.length - MAX_DOPPLER);
    V.doppler = DOP.pts.length;
    requestRender('doppler');
  }

  function renderDoppler() {
    var c = fitCanvas('doppler'); if (!c) return;
    var ctx = c.ctx, W = c.w, Hh = c.h;
    ctx.fillStyle = C_BG; ctx.fillRect(0, 0, W, Hh);
    $('doppler-note').textContent = DOP.anyPredicted ? '' : 'no TLE: measured offsets only';
    var pts = DOP.pts, n = pts.length, k;
    var nm = 0, np = 0, tmin = Infinity, tmax = -Infinity, fmin = Infinity, fmax = -Infinity, last = null;
    for (k = 0; k < n; k++) {
      var q = pts[k];
      if (q.p === null && q.m === null) continue;
      if (q.t < tmin) tmin = q.t; if (q.t > tmax) tmax = q.t;
      if (q.p !== null) { np++; if (q.p < fmin) fmin = q.p; if (q.p > fmax) fmax = q.p; }
      if (q.m !== null) { nm++; if (q.m < fmin) fmin = q.m; if (q.m > fmax) fmax = q.m; last = q; }
    }
    var x0 = 56, x1 = W - 12, y0 = 10, y1 = Hh - 30;
    ctx.strokeStyle = C_AXIS; ctx.lineWidth = 1;
    ctx.strokeRect(x0 + 0.5, y0 + 0.5, x1 - x0 - 1, y1 - y0 - 1);
    $('doppler-info').textContent = n + ' points  ' + nm + ' measured  ' + np + ' predicted' +
      (last ? '  last ' + fmtSigned(last.m.toFixed(0)) + ' Hz' : '');
    if (!(tmax >= tmin)) {
      ctx.fillStyle = C_LABEL; ctx.font = FONT; ctx.textAlign = 'center'; ctx.textBaseline = 'middle';
      ctx.fillText('waiting for doppler points', (x0 + x1) / 2, (y0 + y1) / 2);
      return;
    }
    if (tmax - tmin < 1) { tmax = tmin + 1; }
    var tpad = (tmax - tmin) * 0.02; tmin -= tpad; tmax += tpad;
    var fr = fmax - fmin, pad = Math.max(fr * 0.08, 10);
    fmin -= pad; fmax += pad;
    var useK = Math.max(Math.abs(fmin), Math.abs(fmax)) >= 10000;
    var px = function (t) { return x0 + (t - tmin) / (tmax - tmin) * (x1 - x0); };
    var py = function (f) { return y1 - (f - fmin) / (fmax - fmin) * (y1 - y0); };
    ctx.font = FONT;
    // y grid
    var fs = niceStep(fmax - fmin, Math.max(2, Math.floor((y1 - y0) / 30)));
    var fdec = useK ? decimalsFor(fs / 1000) : decimalsFor(fs);
    ctx.textAlign = 'right'; ctx.textBaseline = 'middle';
    for (var f = Math.ceil(fmin / fs) * fs; f <= fmax + 1e-9; f += fs) {
      var y = Math.round(py(f)) + 0.5;
      ctx.strokeStyle = Math.abs(f) < fs / 1e6 ? C_AXIS : C_GRID;
      ctx.beginPath(); ctx.moveTo(x0, y); ctx.lineTo(x1, y); ctx.stroke();
      var v = useK ? f / 1000 : f;
      ctx.fillStyle = C_LABEL; ctx.fillText(fmtSigned((Math.abs(f) < fs / 1e6 ? 0 : v).toFixed(fdec)), x0 - 5, y);
    }
    ctx.save(); ctx.translate(11, (y0 + y1) / 2); ctx.rotate(-Math.PI / 2);
    ctx.textAlign = 'center'; ctx.fillStyle = '#98a6b8'; ctx.fillText(useK ? 'kHz' : 'Hz', 0, 0); ctx.restore();
    // x grid
    var ts = niceStep(tmax - tmin, Math.max(2, Math.floor((x1 - x0) / 70)));
    var tdec = decimalsFor(ts);
    ctx.textAlign = 'center'; ctx.textBaseline = 'top';
    for (var t = Math.ceil(tmin / ts) * ts; t <= tmax + 1e-9; t += ts) {
      var x = Math.round(px(t)) + 0.5;
      ctx.strokeStyle = C_GRID; ctx.beginPath(); ctx.moveTo(x, y0); ctx.lineTo(x, y1); ctx.stroke();
      ctx.fillStyle = C_LABEL; ctx.fillText(t.toFixed(tdec), clamp(x, x0 + 10, x1 - 10), y1 + 4);
    }
    ctx.textAlign = 'right'; ctx.fillStyle = '#98a6b8'; ctx.fillText('t (s)', x1, y1 + 16);
    ctx.save(); ctx.beginPath(); ctx.rect(x0, y0, x1 - x0, y1 - y0); ctx.clip();
    // predicted line
    if (np) {
      ctx.beginPath(); var started = false;
      for (k = 0; k < n; k++) {
        if (pts[k].p === null) continue;
        var xp = px(pts[k].t), yp = py(pts[k].p);
        if (!started) { ctx.moveTo(xp, yp); started = true; } else ctx.lineTo(xp, yp);
      }
      ctx.strokeStyle = '#ffb74d'; ctx.lineWidth = 1.5; ctx.stroke();
    }
    // measured dots
    ctx.fillStyle = '#6fd0ff';
    for (k = 0; k < n; k++) {
      if (pts[k].m === null) continue;
      ctx.beginPath(); ctx.arc(px(pts[k].t), py(pts[k].m), 2.2, 0, 2 * Math.PI); ctx.fill();
    }
    ctx.restore();
    // legend
    ctx.font = FONT; ctx.textAlign = 'left'; ctx.textBaseline = 'middle';
    var ly = y1 + 22, lx = x0;
    ctx.fillStyle = '#6fd0ff'; ctx.beginPath(); ctx.arc(lx + 4, ly, 2.5, 0, 2 * Math.PI); ctx.fill();
    ctx.fillStyle = C_LABEL; ctx.fillText('measured', lx + 11, ly);
    if (DOP.anyPredicted) {
      lx += 80;
      ctx.strokeStyle = '#ffb74d'; ctx.lineWidth = 1.5; ctx.beginPath(); ctx.moveTo(lx, ly); ctx.lineTo(lx + 12, ly); ctx.stroke();
      ctx.fillStyle = C_LABEL; ctx.fillText('predicted', lx + 16, ly);
    }
  }

  var RENDER = { spectrum: renderSpectrum, waterfall: renderWaterfall, symbols: renderSymbols, doppler: renderDoppler };

  // ---------------------------------------------------------------- frames table
  function hexOf(m) { return typeof m.hex === 'string' ? m.hex : ''; }
  function frameRow(m) {
    var tr = document.createElement('tr');
    var ok = m.ok === true;
    var hex = hexOf(m);
    tr.setAttribute('data-seq', String(m.seq));
    tr.setAttribute('data-hex', hex);
    tr.setAttribute('data-ok', ok ? '1' : '0');
    if (!ok) tr.className = 'bad';
    var time = (typeof m.time_utc === 'string' && m.time_utc) ? m.time_utc : (isNum(m.time_s) ? m.time_s.toFixed(3) : DASH);
    var len = isNum(m.length) ? String(m.length) : (hex ? String(hex.length >> 1) : DASH);
    var check = typeof m.check === 'string' && m.check ? m.check + ' ' + (ok ? '\u2713' : '\u2717') : (ok ? '\u2713' : '\u2717');
    var snr = isNum(m.snr_db) ? m.snr_db.toFixed(1) : DASH;
    var text = (typeof m.text === 'string' && m.text) ? m.text : (hex.length > 32 ? hex.slice(0, 32) + '\u2026' : (hex || DASH));
    var cells = [[String(m.seq), 'num'], [time, ''], [len, 'num'], [check, 'ck'], [snr, 'num'], [text, 'txt']];
    for (var i = 0; i < cells.length; i++) {
      var td = document.createElement('td');
      td.textContent = cells[i][0];
      if (cells[i][1]) td.className = cells[i][1];
      tr.appendChild(td);
    }
    var tip = [];
    if (m.station) tip.push('station ' + m.station);
    if (m.link) tip.push('link ' + m.link);
    if (isNum(m.sample_index)) tip.push('sample ' + m.sample_index);
    if (isNum(m.freq_offset_hz)) tip.push('offset ' + m.freq_offset_hz.toFixed(1) + ' Hz');
    if (typeof m.text === 'string') tip.push(m.text);
    tip.push(hex);
    tr.title = tip.join('\n');
    return tr;
  }

  function handleFrame(m, live) {
    var tbody = $('frames');
    V.frames.unshift(m);
    var tr = frameRow(m);
    if (live) tr.classList.add('fresh');
    tbody.insertBefore(tr, tbody.firstChild);
    while (V.frames.length > MAX_FRAMES) V.frames.pop();
    while (tbody.rows.length > MAX_FRAMES) tbody.removeChild(tbody.lastChild);
    var good = 0;
    for (var j = 0; j < V.frames.length; j++) if (V.frames[j].ok === true) good++;
    $('frames-empty').style.display = V.frames.length ? 'none' : '';
    $('frames-info').textContent = V.frames.length + ' listed  ' + good + ' ok  ' + (V.frames.length - good) + ' failed';
  }

  // ---------------------------------------------------------------- counters
  function fmtInt(x) {
    if (!isNum(x)) return DASH;
    return Number.isInteger(x) ? String(x) : String(Math.round(x));
  }
  function fmtFreq(hz) {
    if (!isNum(hz)) return DASH;
    var a = Math.abs(hz);
    if (a >= 1e6) {
      var s = (hz / 1e6).toFixed(6).replace(/0+$/, '');
      var dot = s.indexOf('.');
      if (s.length - dot - 1 < 3) s = (hz / 1e6).toFixed(3);
      return fmtSigned(s) + ' MHz';
    }
    if (a >= 1e3) return fmtSigned((hz / 1e3).toFixed(3).replace(/\.?0+$/, '')) + ' kHz';
    return fmtSigned(String(Math.round(hz))) + ' Hz';
  }
  function get(o, a, b) {
    if (!isObj(o)) return undefined;
    var x = o[a];
    if (b === undefined) return x;
    return isObj(x) ? x[b] : undefined;
  }
  function setCell(id, text, cls) {
    var el = $(id);
    if (!el) return;
    if (el.textContent !== text) el.textContent = text;
    el.className = cls || '';
  }
  function handleStats(m) {
    if (!isObj(m.stats)) throw new Error('stats without stats');
    V.stats = m;
    var s = m.stats;
    setCell('count-samples_in', fmtInt(s.samples_in));
    setCell('count-overflows', fmtInt(s.overflows), s.overflows > 0 ? 'warn' : '');
    setCell('count-dropped_samples', fmtInt(s.dropped_samples), s.dropped_samples > 0 ? 'warn' : '');
    var fill = get(s, 'queue', 'fill');
    setCell('count-queue_fill', isNum(fill) ? (fill * 100).toFixed(1) + '%' : DASH, isNum(fill) && fill > 0.8 ? 'bad' : (isNum(fill) && fill > 0.5 ? 'warn' : ''));
    var lat = get(s, 'latency', 'last_ms'), latMax = get(s, 'latency', 'run_max_ms');
    setCell('count-latency', isNum(lat) ? lat.toFixed(1) + ' ms' : DASH);
    setCell('count-latency_max', isNum(latMax) ? latMax.toFixed(1) + ' ms' : DASH);
    setCell('count-frames', fmtInt(s.frames));
    setCell('count-frames_good', fmtInt(s.frames_good));
    setCell('count-frames_failed', fmtInt(s.frames_failed), s.frames_failed > 0 ? 'warn' : '');
    setCell('count-snr_db', isNum(s.snr_db) ? s.snr_db.toFixed(1) : DASH);
    setCell('count-center_freq', fmtFreq(s.center_freq));
    setCell('count-uptime_s', isNum(s.uptime_s) ? (Number.isInteger(s.uptime_s) ? String(s.uptime_s) : s.uptime_s.toFixed(1)) : DASH);
    var bd = get(s, 'bus', 'dropped');
    setCell('count-bus_dropped', fmtInt(bd), bd > 0 ? 'warn' : '');
    $('counters').setAttribute('data-stats-seq', m.seq === undefined || m.seq === null ? '' : String(m.seq));
    var info = [];
    if (m.station) info.push(m.station);
    if (m.link) info.push(m.link);
    var pe = get(s, 'pass', 'elevation_deg');
    if (isNum(pe)) info.push('el ' + pe.toFixed(1) + '\u00b0');
    info.push('#' + (m.seq === undefined || m.seq === null ? DASH : m.seq));
    $('counters-info').textContent = info.join('  ');
    if (m.station) $('status-station').textContent = String(m.station) + (m.link ? ' / ' + m.link : '');
  }
  function handleView(m) {
    V.view = m;
    var missed = m.missed;
    setCell('count-view_missed', fmtInt(missed), missed > 0 ? 'warn' : '');
    if (typeof m.bus === 'string') $('status-bus').textContent = m.bus + (m.connected === false ? ' (down)' : '');
  }

  // ---------------------------------------------------------------- events
  function shortJson(x) {
    var s;
    try { s = JSON.stringify(x); } catch (e) { s = String(x); }
    if (s === undefined) s = '';
    return s.length > 120 ? s.slice(0, 119) + '\u2026' : s;
  }
  function handleEvent(m) {
    V.events.unshift(m);
    if (V.events.length > MAX_EVENTS) V.events.length = MAX_EVENTS;
    var tbody = $('events');
    var tr = document.createElement('tr');
    tr.setAttribute('data-seq', String(m.seq));
    var cells = [[String(m.name === undefined ? DASH : m.name), 'ev-name'],
      [isNum(m.sample_index) ? String(m.sample_index) : DASH, 'ev-si'],
      [m.info === undefined || m.info === null ? '' : shortJson(m.info), 'ev-info']];
    for (var i = 0; i < cells.length; i++) {
      var td = document.createElement('td');
      td.textContent = cells[i][0]; td.className = cells[i][1];
      tr.appendChild(td);
    }
    tr.title = shortJson(m.info);
    tbody.insertBefore(tr, tbody.firstChild);
    while (tbody.rows.length > MAX_EVENTS) tbody.removeChild(tbody.lastChild);
    $('events-info').textContent = V.events.length + ' shown';
    $('events-empty').style.display = 'none';
  }

  // ---------------------------------------------------------------- hello (start of a snapshot)
  function handleHello(m) {
    V.hello = m;
    if (typeof m.bus === 'string') $('status-bus').textContent = m.bus;
    // the snapshot that follows replaces the lists; spectrum rows already drawn are skipped
    V.frames.length = 0; $('frames').textContent = ''; $('frames-empty').style.display = '';
    V.events.length = 0; $('events').textContent = ''; $('events-empty').style.display = '';
    DOP.pts.length = 0; DOP.anyPredicted = false; V.doppler = 0;
    replayGuard = true;
    requestRender('doppler');
  }

  // ---------------------------------------------------------------- dispatch
  // The snapshot after a hello ends with its rows; the first text message after a row (or
  // 1.5 s after the hello) is live.
  var inSnapshot = false, snapshotSawRow = false, helloAt = 0;
  function handleText(txt) {
    var m = JSON.parse(txt);
    if (!isObj(m) || typeof m.type !== 'string') throw new Error('not a typed object');
    if (inSnapshot && m.type !== 'hello' && (snapshotSawRow || performance.now() - helloAt > 1500)) inSnapshot = false;
    switch (m.type) {
      case 'hello': handleHello(m); inSnapshot = true; snapshotSawRow = false; helloAt = performance.now(); break;
      case 'frame': handleFrame(m, !inSnapshot); break;
      case 'stats': handleStats(m); break;
      case 'event': handleEvent(m); break;
      case 'symbols': handleSymbols(m); break;
      case 'doppler': handleDoppler(m); break;
      case 'view': handleView(m); break;
      default: throw new Error('unknown type ' + m.type);
    }
  }

  function onMessage(ev) {
    V.lastMessageAt = Date.now();
    try {
      if (typeof ev.data === 'string') handleText(ev.data);
      else if (ev.data instanceof ArrayBuffer) handleBinary(ev.data);
      else throw new Error('unexpected data');
    } catch (e) {
      V.errors++;
      $('status-errors').textContent = String(V.errors);
      $('status-errors').className = 'err';
      if (V.errors < 20) console.warn('orbitlink view: bad message', e);
    }
  }

  // ---------------------------------------------------------------- websocket
  var ws = null, retryTimer = null;
  function setConn(state) {
    var el = $('status-conn'), dot = $('conn-dot');
    if (state === 'on') { el.textContent = 'connected'; el.className = 'on'; dot.className = 'dot on'; }
    else if (state === 'off') { el.textContent = 'disconnected, retrying'; el.className = 'off'; dot.className = 'dot off'; }
    else { el.textContent = 'connecting'; el.className = ''; dot.className = 'dot'; }
  }
  function connect() {
    retryTimer = null;
    var url = (location.protocol === 'https:' ? 'wss' : 'ws') + '://' + location.host + '/ws';
    try {
      ws = new WebSocket(url);
    } catch (e) {
      V.errors++;
      scheduleReconnect();
      return;
    }
    ws.binaryType = 'arraybuffer';
    ws.onopen = function () { V.connected = true; setConn('on'); };
    ws.onmessage = onMessage;
    ws.onerror = function () { /* close follows */ };
    ws.onclose = function () {
      V.connected = false;
      setConn('off');
      scheduleReconnect();
    };
  }
  // drop the socket (for tests and the console): the page reconnects 1 s later as after any close
  Object.defineProperty(V, 'reconnect', {
    enumerable: false,
    value: function () { if (ws && ws.readyState <= 1) ws.close(); }
  });
  function scheduleReconnect() {
    if (retryTimer === null) retryTimer = setTimeout(connect, 1000);
  }

  // ---------------------------------------------------------------- title + status line
  var titleTimer = null, lastTitleAt = 0;
  function setTitle() {
    titleTimer = null; lastTitleAt = performance.now();
    document.title = 'orbitlink view \u2013 ' + V.rows + ' rows';
  }
  function scheduleTitle() {
    if (titleTimer !== null) return;
    var wait = Math.max(0, 200 - (performance.now() - lastTitleAt));
    titleTimer = setTimeout(setTitle, wait);
  }
  function tickStatus() {
    var now = performance.now();
    while (SP.rateTimes.length && now - SP.rateTimes[0] > 3000) SP.rateTimes.shift();
    var rt = SP.rateTimes, rate = 0;
    if (rt.length >= 2) {
      var span = Math.max(now - rt[0], 1000);
      rate = (rt.length - 1) / (span / 1000);
      if (now - rt[rt.length - 1] > 2000) rate = 0;
    }
    V.rowsPerSec = rate;
    $('status-rate').textContent = rate.toFixed(1);
    var age = V.lastMessageAt ? (Date.now() - V.lastMessageAt) / 1000 : null;
    var ageEl = $('status-age');
    ageEl.textContent = age === null ? DASH : (age < 10 ? age.toFixed(1) : age.toFixed(0)) + ' s ago';
    ageEl.style.color = age !== null && age > 5 ? '#ffb74d' : '';
    $('status-errors').textContent = String(V.errors);
  }

  // ---------------------------------------------------------------- start
  function start() {
    setConn('connecting');
    if (window.ResizeObserver) {
      var ro = new ResizeObserver(function () { allDirty(); });
      ['spectrum-wrap', 'waterfall-wrap', 'symbols-wrap', 'doppler-wrap'].forEach(function (id) { var el = $(id); if (el) ro.observe(el); });
    }
    window.addEventListener('resize', allDirty);
    // devicePixelRatio changes (zoom, moving between screens)
    (function watchDpr() {
      try {
        var mq = matchMedia('(resolution: ' + (window.devicePixelRatio || 1) + 'dppx)');
        mq.addEventListener('change', function () { allDirty(); watchDpr(); }, { once: true });
      } catch (e) { /* old browsers */ }
    })();
    allDirty();
    setInterval(tickStatus, 250);
    setTitle();
    connect();
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
