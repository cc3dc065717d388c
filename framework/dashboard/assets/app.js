// mambakit dashboard: one page, views chosen by the URL's hash
// (#runs, #curves?run=ID&run=ID, #run?id=ID, #report?id=ID).
"use strict";

const $ = (id) => document.getElementById(id);
const el = (tag, attrs, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k);
  return e;
};
const getJSON = async (url) => {
  const r = await fetch(url);
  if (!r.ok) throw new Error(url + ": " + r.status);
  return r.json();
};
const fmt = (v, d) => (v === undefined || v === null ? "" : typeof v === "number" ? (d === undefined ? String(v) : v.toFixed(d)) : String(v));
const fmtWall = (s) => (!s ? "" : s < 120 ? s.toFixed(1) + " s" : s < 7200 ? (s / 60).toFixed(1) + " min" : (s / 3600).toFixed(1) + " h");

// ---- runs table
const state = { runs: [], differs: [], sort: null, desc: false, selected: new Set() };
window.dash = state; // read by the browser tests

const columns = () => [
  { key: "rel", label: "run", get: (r) => r.rel || "." },
  { key: "kind", label: "kind", get: (r) => r.kind },
  { key: "modality", label: "modality", get: (r) => r.modality },
  { key: "variant", label: "variant", get: (r) => r.variant },
  ...state.differs.map((k) => ({ key: "s:" + k, label: k, get: (r) => (r.settings || {})[k] })),
  { key: "status", label: "status", get: (r) => r.status },
  { key: "steps", label: "steps", num: true, get: (r) => (r.kind === "train" ? r.steps : undefined), show: (r) => (r.kind === "train" ? r.steps + (r.target ? " / " + r.target : "") : "") },
  { key: "best_val", label: "best val bits/unit", num: true, get: (r) => r.best_val, show: (r) => fmt(r.best_val, 4) },
  { key: "baseline", label: "Markov baseline", num: true, get: (r) => r.baseline, show: (r) => fmt(r.baseline, 4) },
  { key: "tokens_per_s", label: "tokens/s", num: true, get: (r) => r.tokens_per_s || undefined, show: (r) => (r.tokens_per_s ? Math.round(r.tokens_per_s) : "") },
  { key: "wall_s", label: "wall time", num: true, get: (r) => r.wall_s || undefined, show: (r) => fmtWall(r.wall_s) },
];

async function loadRuns() {
  const rep = await getJSON("/api/runs");
  state.runs = rep.runs;
  state.differs = rep.differs || [];
  $("roots").textContent = rep.roots.join("  ");
  renderRuns();
}

function renderRuns() {
  const cols = columns();
  const head = el("tr", {}, el("th", {}, ""));
  for (const c of cols) {
    head.append(el("th", { onclick: () => { state.desc = state.sort === c.key ? !state.desc : false; state.sort = c.key; renderRuns(); } }, c.label + (state.sort === c.key ? (state.desc ? " ▼" : " ▲") : "")));
  }
  $("runs").tHead.replaceChildren(head);
  const f = $("filter").value.trim().toLowerCase();
  let rows = state.runs.filter((r) => !f || cols.some((c) => String(c.get(r) ?? "").toLowerCase().includes(f)));
  if (state.sort) {
    const c = cols.find((c) => c.key === state.sort);
    if (c) {
      rows = rows.slice().sort((a, b) => {
        const x = c.get(a), y = c.get(b);
        if (x === undefined) return 1;
        if (y === undefined) return -1;
        const o = c.num ? x - y : String(x).localeCompare(String(y));
        return state.desc ? -o : o;
      });
    }
  }
  const body = document.createDocumentFragment();
  for (const r of rows) {
    const tr = el("tr", { "data-id": r.id });
    const box = el("input", { type: "checkbox" });
    box.checked = state.selected.has(r.id);
    box.disabled = r.kind !== "train";
    box.addEventListener("change", () => (box.checked ? state.selected.add(r.id) : state.selected.delete(r.id)));
    tr.append(el("td", {}, box));
    for (const c of cols) {
      const td = el("td", { class: (c.num ? "num" : "") + (c.key === "status" ? " status-" + r.status : "") });
      if (c.key === "rel") {
        td.append(el("a", { href: (r.kind === "train" ? "#run?id=" : "#report?id=") + encodeURIComponent(r.id) }, c.get(r)));
      } else {
        td.textContent = c.show ? c.show(r) : fmt(c.get(r));
      }
      tr.append(td);
    }
    body.append(tr);
  }
  $("runs").tBodies[0].replaceChildren(body);
  $("count").textContent = rows.length + " of " + state.runs.length + " runs";
}

// ---- curves
const palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"];
let chart = null, source = null, refetch = null;
window.chartData = null; // {ids, metric, axis, data}: read by the browser tests

async function drawCurves(ids) {
  const metric = $("metric").value, axis = $("axis").value;
  const q = ids.map((id) => "run=" + encodeURIComponent(id)).join("&");
  const width = Math.max(600, $("chart").clientWidth || 900);
  const curves = ids.length ? await getJSON(`/api/curve?${q}&metric=${metric}&x=${axis}&points=${2 * width}`) : [];
  const runs = new Map(state.runs.map((r) => [r.id, r]));
  const series = [{ label: axis }];
  const parts = [];
  curves.forEach((c, i) => {
    const r = runs.get(c.id) || {};
    parts.push([c.x, c.y]);
    series.push({ label: (r.rel || c.id) + (r.variant ? " " + r.variant : ""), stroke: palette[i % palette.length], width: 1.5, spanGaps: true });
    if (metric === "val_bits_per_unit" && r.baseline && c.x.length) {
      parts.push([c.x, c.x.map(() => r.baseline)]);
      series.push({ label: "Markov baseline " + (r.rel || c.id), stroke: palette[i % palette.length], dash: [6, 4], width: 1, spanGaps: true });
    }
  });
  const data = parts.length ? uPlot.join(parts) : [[]];
  window.chartData = { ids: curves.map((c) => c.id), metric, axis, rows: curves.map((c) => c.rows), curves: curves.map((c) => ({ id: c.id, x: c.x, y: c.y })), data };
  const opts = {
    width, height: 420,
    scales: { x: { time: false }, y: { distr: $("logy").checked ? 3 : 1 } },
    axes: [{ label: $("axis").selectedOptions[0].text }, { label: $("metric").selectedOptions[0].text, size: 70 }],
    series,
  };
  if (chart) chart.destroy();
  chart = new uPlot(opts, data, $("chart"));
  window.chart = chart; // read by the browser tests
  $("curves-note").textContent = curves.map((c) => `${c.id}: ${c.rows} points` + (c.rows > c.x.length ? `, shown ${c.x.length} (min and max per bucket)` : "")).join("; ");
}

function watch(ids) {
  if (source) source.close();
  source = null;
  if (!ids.length) return;
  window.liveUpdates = 0;
  source = new EventSource("/api/events?" + ids.map((id) => "run=" + encodeURIComponent(id)).join("&"));
  source.addEventListener("update", (ev) => {
    const u = JSON.parse(ev.data);
    const r = state.runs.find((r) => r.id === u.id);
    if (r) Object.assign(r, { steps: u.steps, best_val: u.best_val, tokens_per_s: u.tokens_per_s, status: u.status });
    window.liveUpdates++;
    $("live").textContent = "live: " + ids.map((id) => { const r = state.runs.find((r) => r.id === id); return r ? `${r.rel} step ${r.steps} (${r.status})` : id; }).join(", ");
    clearTimeout(refetch);
    refetch = setTimeout(() => drawCurves(ids).catch(showError), 50);
  });
  source.onerror = () => {}; // the browser reconnects by itself
}

// ---- one run: samples and checkpoints
async function showRun(id) {
  const run = state.runs.find((r) => r.id === id) || { rel: id };
  $("run-title").textContent = run.rel + (run.modality ? " — " + run.modality + " " + (run.variant || "") : "");
  const [samples, cps] = await Promise.all([getJSON("/api/samples?run=" + encodeURIComponent(id)), getJSON("/api/checkpoints?run=" + encodeURIComponent(id))]);
  const box = $("samples");
  box.replaceChildren();
  if (!samples.length) box.append(el("p", { class: "note" }, "no samples"));
  for (const s of samples.slice().reverse()) {
    const div = el("div", { class: "sample", "data-kind": s.kind }, el("b", {}, s.name), ` step ${s.step}, ${s.tokens} tokens, the prompt is the first ${s.prompt_units} ${s.unit || "units"}`);
    box.append(div);
    if (s.kind === "audio") await audioSample(div, s);
    else if (s.kind === "dna") await dnaSample(div, s);
    else await textSample(div, s);
  }
  const tb = $("checkpoints").tBodies[0];
  tb.replaceChildren();
  for (const c of cps) {
    const files = el("td", {});
    for (const f of c.files) files.append(el("a", { href: f.url + "?download", download: f.name }, `${f.name} (${(f.size / 1024).toFixed(0)} KiB)`), "  ");
    tb.append(el("tr", {}, el("td", {}, c.name + (c.latest ? " (latest)" : "")), el("td", { class: "num" }, String(c.step)), files));
  }
}

// parseWAV reads 16-bit (or 8-bit) PCM mono from a RIFF WAVE file.
function parseWAV(buf) {
  const v = new DataView(buf);
  const tag = (o) => String.fromCharCode(v.getUint8(o), v.getUint8(o + 1), v.getUint8(o + 2), v.getUint8(o + 3));
  if (buf.byteLength < 12 || tag(0) !== "RIFF" || tag(8) !== "WAVE") throw new Error("not a WAV file");
  let rate = 0, bits = 0, ch = 1;
  for (let o = 12; o + 8 <= buf.byteLength;) {
    const id = tag(o), n = v.getUint32(o + 4, true);
    if (id === "fmt ") { ch = v.getUint16(o + 10, true); rate = v.getUint32(o + 12, true); bits = v.getUint16(o + 22, true); }
    if (id === "data") {
      const len = Math.min(n, buf.byteLength - o - 8), step = (bits / 8) * ch, x = new Float32Array(Math.floor(len / step));
      for (let i = 0; i < x.length; i++) x[i] = bits === 16 ? v.getInt16(o + 8 + i * step, true) / 32768 : (v.getUint8(o + 8 + i * step) - 128) / 128;
      return { rate, x };
    }
    o += 8 + n + (n & 1);
  }
  throw new Error("WAV without data");
}

async function audioSample(div, s) {
  const audio = el("audio", { controls: "", src: s.url, preload: "auto" });
  div.append(el("br"), audio);
  const buf = await (await fetch(s.url)).arrayBuffer();
  const { rate, x } = parseWAV(buf);
  div.dataset.samples = x.length;
  const W = 900, H = 120;
  const wave = el("canvas", { width: W, height: H, class: "wave" });
  const g = wave.getContext("2d");
  g.fillStyle = "#e3f2fd";
  g.fillRect(0, 0, (s.prompt_units / x.length) * W, H); // the prompt
  g.strokeStyle = "#1565c0";
  g.beginPath();
  for (let px = 0; px < W; px++) {
    const a = Math.floor((px * x.length) / W), b = Math.max(a + 1, Math.floor(((px + 1) * x.length) / W));
    let lo = 1, hi = -1;
    for (let i = a; i < b && i < x.length; i++) { lo = Math.min(lo, x[i]); hi = Math.max(hi, x[i]); }
    g.moveTo(px + 0.5, H / 2 - hi * H / 2); g.lineTo(px + 0.5, H / 2 - lo * H / 2);
  }
  g.stroke();
  div.append(el("div", { class: "note" }, `waveform (${x.length} samples at ${rate} Hz; shaded: the prompt)`), wave);
  // spectrogram: 256-point DFT frames with a Hann window (small samples: direct DFT is fast enough)
  const N = 256, hop = Math.max(32, Math.floor(x.length / 300)), frames = Math.max(1, Math.floor((x.length - N) / hop) + 1);
  const spec = el("canvas", { width: frames, height: N / 2, class: "spec", style: `width:${W}px;height:160px` });
  const sg = spec.getContext("2d"), img = sg.createImageData(frames, N / 2);
  const cos = new Float32Array(N * N / 2), sin = new Float32Array(N * N / 2), win = new Float32Array(N);
  for (let i = 0; i < N; i++) win[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / N);
  for (let k = 0; k < N / 2; k++) for (let i = 0; i < N; i++) { cos[k * N + i] = Math.cos((2 * Math.PI * k * i) / N); sin[k * N + i] = Math.sin((2 * Math.PI * k * i) / N); }
  for (let f = 0; f < frames; f++) {
    for (let k = 0; k < N / 2; k++) {
      let re = 0, im = 0;
      for (let i = 0; i < N; i++) { const s0 = (x[f * hop + i] || 0) * win[i]; re += s0 * cos[k * N + i]; im -= s0 * sin[k * N + i]; }
      const db = 10 * Math.log10(re * re + im * im + 1e-10);
      const t = Math.max(0, Math.min(1, (db + 60) / 70)), p = ((N / 2 - 1 - k) * frames + f) * 4;
      img.data[p] = 255 * t; img.data[p + 1] = 255 * t * t; img.data[p + 2] = 80 * (1 - t); img.data[p + 3] = 255;
    }
  }
  sg.putImageData(img, 0, 0);
  div.append(el("div", { class: "note" }, `spectrogram (0 to ${rate / 2} Hz, 256-sample frames)`), spec);
}

async function dnaSample(div, s) {
  const text = await (await fetch(s.url)).text();
  const seq = text.split("\n").filter((l) => !l.startsWith(">")).join("").trim();
  const pre = el("div", { class: "seq" });
  pre.append(el("span", { class: "prompt", title: "prompt" }, seq.slice(0, s.prompt_units)), el("span", { class: "mark", title: "generated" }, seq.slice(s.prompt_units)));
  const W = 900, H = 60, win = 20;
  const gc = el("canvas", { width: W, height: H, class: "gc" });
  const g = gc.getContext("2d");
  g.fillStyle = "#e3f2fd";
  g.fillRect(0, 0, (s.prompt_units / Math.max(1, seq.length)) * W, H);
  g.strokeStyle = "#2e7d32";
  g.beginPath();
  for (let i = 0; i < seq.length; i++) {
    const w = seq.slice(Math.max(0, i - win / 2), i + win / 2);
    const acgt = (w.match(/[ACGT]/gi) || []).length, gcn = (w.match(/[GC]/gi) || []).length;
    const y = H - (acgt ? gcn / acgt : 0) * H, px = (i / Math.max(1, seq.length - 1)) * W;
    i ? g.lineTo(px, y) : g.moveTo(px, y);
  }
  g.stroke();
  div.append(pre, el("div", { class: "note" }, `GC content over a ${win}-base window (0 to 1; shaded: the prompt)`), gc);
}

async function textSample(div, s) {
  const bytes = new Uint8Array(await (await fetch(s.url)).arrayBuffer());
  const dec = new TextDecoder();
  const pre = el("div", { class: "seq" });
  pre.append(el("span", { class: "prompt", title: "prompt" }, dec.decode(bytes.slice(0, s.prompt_units))), el("span", { class: "mark", title: "generated" }, dec.decode(bytes.slice(s.prompt_units))));
  div.append(pre);
}

// ---- compare report
async function showReport(id) {
  const rep = await getJSON("/api/report?run=" + encodeURIComponent(id));
  $("report-title").textContent = (rep.markdown.split("\n")[0] || "").replace(/^#\s*/, "") + " (" + id + ")";
  const tables = $("report-tables");
  tables.replaceChildren();
  for (const t of rep.tables) {
    const tb = el("table", { class: "tbl" }, el("thead", {}, el("tr", {}, ...t.header.map((h) => el("th", {}, h)))), el("tbody", {}, ...t.rows.map((r) => el("tr", {}, ...r.map((c) => el("td", {}, c))))));
    tables.append(el("h3", {}, t.title), tb);
  }
  // the spectrum: gain of selection per modality, from the first table
  const t = rep.tables[0];
  const gi = t ? t.header.findIndex((h) => h.startsWith("selection gain")) : -1;
  const box = $("gain-chart");
  box.replaceChildren();
  if (gi >= 0) {
    const mods = t.rows.map((r) => r[0]), gains = t.rows.map((r) => parseFloat(r[gi]));
    const xs = mods.map((_, i) => i);
    const bars = uPlot.paths.bars({ size: [0.6, 80] });
    const u = new uPlot({
      width: 600, height: 260, title: "gain of selection (S6) over the best LTI variant, %",
      scales: { x: { time: false, range: [-0.5, mods.length - 0.5] } },
      axes: [{ values: (_, ticks) => ticks.map((v) => mods[v] ?? ""), splits: () => xs }, { size: 60 }],
      series: [{}, { label: "gain %", fill: "#90caf9", stroke: "#1565c0", paths: bars, points: { show: false } }],
    }, [xs, gains.map((g) => (isNaN(g) ? null : g))], box);
    window.reportChart = { mods, gains };
  }
  const imgs = $("report-images");
  imgs.replaceChildren(...(rep.images || []).map((f) => el("img", { src: f.url, alt: f.name, width: 480 })));
}

// ---- routing
function showError(e) {
  console.error(e);
  $("count").textContent = String(e);
}

async function route() {
  const [view, qs] = (location.hash.slice(1) || "runs").split("?");
  const q = new URLSearchParams(qs || "");
  for (const s of document.querySelectorAll("main > section")) s.hidden = s.id !== "view-" + view;
  for (const a of document.querySelectorAll("header nav a")) a.classList.toggle("on", a.id === "nav-" + view);
  if (!state.runs.length) await loadRuns();
  if (view === "runs") { watch([]); await loadRuns(); }
  if (view === "curves") { const ids = q.getAll("run"); await drawCurves(ids); watch(ids); }
  if (view === "run") { watch([]); await showRun(q.get("id")); }
  if (view === "report") { watch([]); await showReport(q.get("id")); }
  window.routed = location.hash;
}

$("filter").addEventListener("input", renderRuns);
$("overlay").addEventListener("click", () => {
  location.hash = "#curves?" + [...state.selected].map((id) => "run=" + encodeURIComponent(id)).join("&");
});
for (const id of ["metric", "axis", "logy"]) {
  $(id).addEventListener("change", () => { const q = new URLSearchParams((location.hash.split("?")[1]) || ""); drawCurves(q.getAll("run")).catch(showError); });
}
window.addEventListener("hashchange", () => route().catch(showError));
route().catch(showError);
