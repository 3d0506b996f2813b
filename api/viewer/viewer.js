"use strict";
// MotionLens session viewer: the annotated video, a joint-angle chart whose cursor follows playback
// (click or drag the chart to seek), and the metrics. No dependencies, no network beyond the video.
(function () {
  const data = JSON.parse(document.getElementById("session-data").textContent || "{}");
  const video = document.getElementById("video");
  const canvas = document.getElementById("chart");
  const legend = document.getElementById("legend");
  const body = document.body;
  const COLOURS = { left: "#ff9514", right: "#28aaff", centre: "#cbd5e1" };
  const LANES = [
    ["knee_flexion", "Knee flexion"], ["hip_flexion", "Hip flexion"], ["elbow_flexion", "Elbow flexion"],
    ["ankle_dorsiflexion", "Ankle dorsiflexion"], ["trunk", "Trunk lean"],
  ];

  // ------------------------------------------------------------------ formatting
  const UNITS = [
    ["_m_s", "m/s", 2], ["_spm", "spm", 0], ["_pct_height", "% height", 1], ["_pct", "%", 1], ["_deg", "°", 0],
    ["_ms", "ms", 0], ["_s", "s", 2], ["_cm", "cm", 1], ["_m", "m", 2], ["_kg", "kg", 1], ["_w", "W", 0], ["_hz", "Hz", 1], ["_px", "px", 0],
  ];
  function unitOf(key) {
    for (const [suffix, unit, digits] of UNITS) if (key.endsWith(suffix)) return [key.slice(0, -suffix.length), unit, digits];
    return [key, "", 2];
  }
  const SHORT = {
    mean_concentric_velocity_m_s: "Mean vel.", peak_concentric_velocity_m_s: "Peak vel.", range_of_motion_m: "ROM",
    knee_flexion_max_deg: "Max knee", hip_flexion_max_deg: "Max hip", jump_height_m: "Height", flight_time_s: "Flight",
    contact_time_s: "Contact", foot_strike_s: "Strike", toe_off_s: "Toe-off", takeoff_s: "Takeoff", landing_s: "Landing",
    start_s: "Start", bottom_s: "Bottom", end_s: "End", eccentric_s: "Down", concentric_s: "Up",
  };
  const shortLabel = (key) => SHORT[key] || labelOf(key);
  function labelOf(key) {
    const [base] = unitOf(key);
    const s = base.replace(/_/g, " ").trim();
    return s.charAt(0).toUpperCase() + s.slice(1);
  }
  function fmt(key, value) {
    if (value === null || value === undefined) return "–";
    if (typeof value === "boolean") return value ? "yes" : "no";
    if (typeof value === "string") return value.replace(/_/g, " ");
    if (typeof value !== "number" || !isFinite(value)) return "–";
    const [, unit, digits] = unitOf(key);
    if (unit === "m" && Math.abs(value) < 2) return (value * 100).toFixed(1) + " cm";
    if (unit === "°") return value.toFixed(0) + "°";
    if (unit === "") return Number.isInteger(value) ? String(value) : value.toFixed(2);
    return value.toFixed(digits) + " " + unit;
  }
  function el(tag, text, attrs) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    return e;
  }
  const titleCase = (s) => (s || "").replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());

  // ------------------------------------------------------------------ header, tables
  const session = data.session || {};
  const frameSize = data.frame_size || [];
  if (frameSize.length === 2 && frameSize[1] > frameSize[0] * 1.1) body.classList.add("portrait");
  video.addEventListener("loadedmetadata", () => body.classList.toggle("portrait", video.videoHeight > video.videoWidth * 1.1));
  const metrics = data.metrics || {};
  const activity = session.activity || "";
  document.getElementById("meta").textContent = [session.created_at && session.created_at.replace("T", " ").replace("Z", " UTC"),
    session.session_id].filter(Boolean).join(" · ");
  const chips = document.getElementById("chips");
  const quality = data.quality || {};
  if (quality.view) chips.appendChild(el("span", `${quality.view} view` + (quality.facing ? `, facing ${quality.facing}` : ""), { class: "chip" }));
  for (const w of (data.warnings || []).slice(0, 4)) {
    const c = el("span", titleCase(w.code || "warning"), { class: "chip warn" });
    c.title = w.message || "";
    chips.appendChild(c);
  }
  document.getElementById("footer").textContent = data.pipeline_version ? `MotionLens ${data.pipeline_version}` : "";

  const summary = document.querySelector("#summary tbody");
  const ITEMS_KEY = { jumping: "jumps", running: "steps", weightlifting: "reps" }[activity];
  let summaryRows = 0;
  for (const [key, value] of Object.entries(metrics)) {
    if (value === null || typeof value === "object") continue;
    const tr = el("tr");
    tr.appendChild(el("td", labelOf(key)));
    tr.appendChild(el("td", fmt(key, value)));
    summary.appendChild(tr);
    summaryRows++;
  }
  if (!summaryRows) summary.appendChild(el("tr")).appendChild(el("td", "No metrics for this session.", { class: "empty" }));

  const items = Array.isArray(metrics[ITEMS_KEY]) ? metrics[ITEMS_KEY].filter((x) => x && typeof x === "object") : [];
  const PREFERRED = {
    jumps: ["takeoff_s", "flight_time_s", "jump_height_m", "contact_time_s", "rsi"],
    steps: ["side", "foot_strike_s", "toe_off_s", "contact_time_s", "flight_time_s"],
    reps: ["start_s", "bottom_s", "mean_concentric_velocity_m_s", "range_of_motion_m", "knee_flexion_max_deg"],
  }[ITEMS_KEY] || [];
  const TIME_KEYS = ["takeoff_s", "start_s", "foot_strike_s", "toe_off_s"];
  document.getElementById("items-title").textContent = ITEMS_KEY ? titleCase(ITEMS_KEY) : "Details";
  const itemRows = [];
  if (items.length) {
    const numeric = new Set();
    for (const it of items) for (const [k, v] of Object.entries(it)) if (k !== "index" && (typeof v === "number" || typeof v === "string")) numeric.add(k);
    const cols = PREFERRED.filter((k) => numeric.has(k));
    for (const k of numeric) if (cols.length < 5 && !cols.includes(k)) cols.push(k);
    cols.splice(5);
    const head = el("tr");
    head.appendChild(el("th", "#"));
    for (const k of cols) { const th = el("th", shortLabel(k)); th.title = labelOf(k); head.appendChild(th); }
    document.querySelector("#items thead").appendChild(head);
    const tbody = document.querySelector("#items tbody");
    items.forEach((it, n) => {
      const tr = el("tr");
      tr.appendChild(el("td", (typeof it.index === "number" ? it.index : n) + 1));
      for (const k of cols) tr.appendChild(el("td", fmt(k, it[k])));
      const tKey = TIME_KEYS.find((k) => typeof it[k] === "number");
      const t = tKey ? it[tKey] : null;
      const end = ["landing_s", "end_s", "toe_off_s"].map((k) => it[k]).find((v) => typeof v === "number");
      if (t !== null) tr.addEventListener("click", () => seek(Math.max(0, t - 0.5)));
      itemRows.push({ tr, start: t, end: end !== undefined ? end : t });
      tbody.appendChild(tr);
    });
  } else {
    document.querySelector("#items tbody").appendChild(el("tr")).appendChild(el("td", "Nothing detected.", { class: "empty" }));
  }

  const recs = Array.isArray(data.recommendations) ? data.recommendations : [];
  if (recs.length) {
    const list = document.getElementById("recs-list");
    for (const r of recs) list.appendChild(el("li", r.text || r.code || "", { class: `rec ${r.severity || "info"}` }));
    document.getElementById("recs").hidden = false;
  }

  const images = data.images || {};
  if (images.bar_path) {
    const box = document.getElementById("bar-path");
    box.appendChild(el("img", null, { alt: "Bar path of each rep", src: images.bar_path, loading: "lazy" }));
    box.hidden = false;
  }
  if (images.contact_sheet) {
    const box = document.getElementById("images");
    const img = el("img", null, { alt: "Key frames of the session", src: images.contact_sheet, loading: "lazy" });
    box.appendChild(img);
    box.hidden = false;
  }

  // ------------------------------------------------------------------ chart data
  const angles = data.angles || {};
  const T = Array.isArray(angles.time_s) ? angles.time_s : [];
  const series = angles.series || {};
  const lanes = [];
  for (const [suffix, title] of LANES) {
    const names = Object.keys(series).filter((n) => n === suffix || n.endsWith("_" + suffix));
    const lines = names.map((name) => {
      const side = name.startsWith("left") ? "left" : name.startsWith("right") ? "right" : "centre";
      const raw = series[name] || [];
      const lean = (v) => ((((90 - v + 180) % 360) + 360) % 360) - 180;   // from vertical, in (-180, 180]
      const values = suffix === "trunk" ? raw.map((v) => (v === null ? null : lean(v))) : raw;
      return { name, side, values, colour: COLOURS[side], label: side === "centre" ? "from vertical" : side === "left" ? "L" : "R" };
    }).filter((l) => l.values.some((v) => v !== null));
    if (lines.length) lanes.push({ title, lines });
  }
  const tMin = T.length ? T[0] : 0;
  const tMax = T.length ? T[T.length - 1] : 1;
  const spans = [];
  if (activity === "jumping") for (const j of items) if (typeof j.takeoff_s === "number" && typeof j.landing_s === "number") spans.push([j.takeoff_s, j.landing_s, "#10b981"]);
  if (activity === "weightlifting") for (const r of items) if (typeof r.start_s === "number" && typeof r.end_s === "number") spans.push([r.start_s, r.end_s, "#8b5cf6"]);
  const events = Array.isArray(data.events) ? data.events : [];
  const strikes = events.filter((e) => e && e.type === "foot_strike" && typeof e.time_s === "number");
  const bottoms = events.filter((e) => e && e.type === "rep_bottom" && typeof e.time_s === "number");

  // legend: one entry per lane with the value under the cursor
  const legendValues = [];
  for (const lane of lanes) {
    const span = el("span");
    span.appendChild(document.createTextNode(lane.title.replace(/ flexion| dorsiflexion| lean/, "") + " "));
    for (const line of lane.lines) {
      const sw = el("i");
      sw.style.background = line.colour;
      span.appendChild(sw);
      const b = el("b", "–");
      span.appendChild(b);
      span.appendChild(document.createTextNode(" "));
      legendValues.push({ line, b });
    }
    legend.appendChild(span);
  }

  // ------------------------------------------------------------------ chart drawing
  const M = { left: 46, right: 12, top: 10, bottom: 24, gap: 14 };
  let W = 0, H = 0, dpr = 1, staticLayer = null, laneBoxes = [];

  function niceStep(range, count) {
    const raw = range / Math.max(count, 1);
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= raw) return m * p;
    return 10 * p;
  }
  const xOf = (t) => M.left + ((t - tMin) / Math.max(tMax - tMin, 1e-6)) * (W - M.left - M.right);
  const tOf = (x) => tMin + ((x - M.left) / Math.max(W - M.left - M.right, 1)) * (tMax - tMin);

  function layout() {
    const rect = canvas.getBoundingClientRect();
    dpr = window.devicePixelRatio || 1;
    W = Math.max(200, Math.round(rect.width));
    H = Math.max(120, Math.round(rect.height));
    canvas.width = Math.round(W * dpr);
    canvas.height = Math.round(H * dpr);
    const n = Math.max(lanes.length, 1);
    const laneH = (H - M.top - M.bottom - M.gap * (n - 1)) / n;
    laneBoxes = lanes.map((lane, k) => {
      let lo = Infinity, hi = -Infinity;
      for (const l of lane.lines) for (const v of l.values) if (v !== null) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
      if (!isFinite(lo)) { lo = 0; hi = 1; }
      const pad = Math.max((hi - lo) * 0.08, 2);
      return { lane, top: M.top + k * (laneH + M.gap), height: laneH, lo: lo - pad, hi: hi + pad };
    });
    drawStatic();
  }

  function drawStatic() {
    staticLayer = document.createElement("canvas");
    staticLayer.width = canvas.width;
    staticLayer.height = canvas.height;
    const g = staticLayer.getContext("2d");
    g.scale(dpr, dpr);
    g.font = "11px system-ui, sans-serif";
    let points = 0;
    for (const box of laneBoxes) {
      const y = (v) => box.top + (1 - (v - box.lo) / (box.hi - box.lo)) * box.height;
      g.fillStyle = "rgba(255,255,255,0.025)";
      g.fillRect(M.left, box.top, W - M.left - M.right, box.height);
      for (const [a, b, colour] of spans) {
        g.fillStyle = colour + "2a";
        g.fillRect(xOf(a), box.top, xOf(b) - xOf(a), box.height);
      }
      const step = niceStep(box.hi - box.lo, 3);
      g.strokeStyle = "#232a36"; g.fillStyle = "#7d8799"; g.lineWidth = 1;
      g.textAlign = "right"; g.textBaseline = "middle";
      for (let v = Math.ceil(box.lo / step) * step; v <= box.hi; v += step) {
        g.beginPath(); g.moveTo(M.left, Math.round(y(v)) + 0.5); g.lineTo(W - M.right, Math.round(y(v)) + 0.5); g.stroke();
        g.fillText(v.toFixed(0) + "°", M.left - 6, y(v));
      }
      g.save(); g.textAlign = "left"; g.textBaseline = "top"; g.fillStyle = "#97a1b2";
      g.fillText(box.lane.title, M.left + 6, box.top + 4); g.restore();
      for (const e of bottoms) {
        g.strokeStyle = "#b496ff"; g.setLineDash([3, 3]);
        g.beginPath(); g.moveTo(xOf(e.time_s), box.top); g.lineTo(xOf(e.time_s), box.top + box.height); g.stroke();
        g.setLineDash([]);
      }
      for (const e of strikes) {
        g.strokeStyle = e.side === "left" ? COLOURS.left : e.side === "right" ? COLOURS.right : COLOURS.centre;
        g.lineWidth = 2;
        g.beginPath(); g.moveTo(xOf(e.time_s), box.top); g.lineTo(xOf(e.time_s), box.top + 7); g.stroke();
        g.lineWidth = 1;
      }
      for (const line of box.lane.lines) {
        g.strokeStyle = line.colour; g.lineWidth = 1.8; g.lineJoin = "round";
        g.beginPath();
        let pen = false;
        for (let i = 0; i < T.length && i < line.values.length; i++) {
          const v = line.values[i];
          if (v === null) { pen = false; continue; }
          const px = xOf(T[i]), py = y(v);
          if (pen) g.lineTo(px, py); else g.moveTo(px, py);
          pen = true; points++;
        }
        g.stroke();
      }
    }
    // time axis
    g.fillStyle = "#7d8799"; g.textAlign = "center"; g.textBaseline = "top";
    const step = niceStep(tMax - tMin, Math.max(2, Math.floor(W / 90)));
    const digits = Number.isInteger(step) ? 0 : Number.isInteger(step * 10) ? 1 : 2;
    for (let t = Math.ceil(tMin / step) * step; t <= tMax + 1e-9; t += step) g.fillText(t.toFixed(digits) + " s", xOf(t), H - M.bottom + 6);
    if (!lanes.length) { g.textAlign = "center"; g.fillText("No angles for this session.", W / 2, H / 2); }
    body.dataset.chart = "drawn";
    body.dataset.series = String(lanes.reduce((n, l) => n + l.lines.length, 0));
    body.dataset.points = String(points);
    drawCursor(video.currentTime || 0);
  }

  function indexAt(t) {            // last sample at or before t (binary search)
    let lo = 0, hi = T.length - 1;
    if (hi < 0) return -1;
    while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (T[mid] <= t + 1e-6) lo = mid; else hi = mid - 1; }
    return lo;
  }

  function drawCursor(t) {
    if (!staticLayer) return;
    const g = canvas.getContext("2d");
    g.setTransform(1, 0, 0, 1, 0, 0);
    g.clearRect(0, 0, canvas.width, canvas.height);
    g.drawImage(staticLayer, 0, 0);
    g.scale(dpr, dpr);
    const x = xOf(Math.min(Math.max(t, tMin), tMax));
    g.strokeStyle = "rgba(255,255,255,0.9)"; g.lineWidth = 1.5;
    g.beginPath(); g.moveTo(x, M.top); g.lineTo(x, H - M.bottom); g.stroke();
    const i = indexAt(t);
    for (const box of laneBoxes) {
      for (const line of box.lane.lines) {
        const v = i >= 0 ? line.values[i] : null;
        if (v === null || v === undefined) continue;
        const y = box.top + (1 - (v - box.lo) / (box.hi - box.lo)) * box.height;
        g.fillStyle = "#0b0e14"; g.beginPath(); g.arc(x, y, 4.5, 0, 2 * Math.PI); g.fill();
        g.fillStyle = line.colour; g.beginPath(); g.arc(x, y, 3.2, 0, 2 * Math.PI); g.fill();
      }
    }
    for (const { line, b } of legendValues) {
      const v = i >= 0 ? line.values[i] : null;
      b.textContent = (v === null || v === undefined) ? "–" : Math.round(v) + "°";
    }
    for (const row of itemRows) row.tr.classList.toggle("current", row.start !== null && t >= row.start - 0.05 && t <= row.end + 0.05);
    body.dataset.cursor = t.toFixed(3);
  }

  // ------------------------------------------------------------------ sync with the video
  function seek(t) {
    if (!isFinite(t)) return;
    video.currentTime = Math.min(Math.max(t, 0), isFinite(video.duration) ? video.duration : t);
    drawCursor(video.currentTime);
  }
  const onFrame = (_now, meta) => {
    drawCursor(meta && typeof meta.mediaTime === "number" ? meta.mediaTime : video.currentTime);
    video.requestVideoFrameCallback(onFrame);
  };
  if ("requestVideoFrameCallback" in HTMLVideoElement.prototype) {
    video.requestVideoFrameCallback(onFrame);
  } else {
    const tick = () => { drawCursor(video.currentTime); if (!video.paused) requestAnimationFrame(tick); };
    video.addEventListener("play", () => requestAnimationFrame(tick));
  }
  for (const ev of ["seeked", "timeupdate", "loadedmetadata"]) video.addEventListener(ev, () => drawCursor(video.currentTime));
  video.addEventListener("loadeddata", () => {
    body.dataset.videoReady = String(video.readyState);
    body.dataset.videoDuration = String(video.duration);
  });
  video.addEventListener("error", () => { body.dataset.videoError = String(video.error && video.error.code); });

  let dragging = false;
  const seekFromPointer = (e) => { const r = canvas.getBoundingClientRect(); seek(tOf(e.clientX - r.left)); };
  canvas.addEventListener("pointerdown", (e) => { dragging = true; canvas.setPointerCapture(e.pointerId); seekFromPointer(e); });
  canvas.addEventListener("pointermove", (e) => { if (dragging) seekFromPointer(e); });
  canvas.addEventListener("pointerup", () => { dragging = false; });
  document.addEventListener("keydown", (e) => {
    if (e.target !== document.body) return;
    if (e.key === " ") { e.preventDefault(); if (video.paused) video.play(); else video.pause(); }
    const frame = 1 / 30;
    if (e.key === "ArrowRight" || e.key === ".") { video.pause(); seek(video.currentTime + (e.key === "." ? frame : 1)); }
    if (e.key === "ArrowLeft" || e.key === ",") { video.pause(); seek(video.currentTime - (e.key === "," ? frame : 1)); }
  });

  // a link to a moment: viewer#t=12.5 opens the video there
  const wanted = /(?:^#|&)t=([0-9.]+)/.exec(location.hash || "");
  if (wanted) video.addEventListener("loadedmetadata", () => seek(parseFloat(wanted[1])), { once: true });
  video.addEventListener("seeked", () => { body.dataset.seeked = video.currentTime.toFixed(3); });

  window.addEventListener("resize", layout);
  layout();
  window.motionlensViewer = { data, lanes, seek, drawCursor };
})();
