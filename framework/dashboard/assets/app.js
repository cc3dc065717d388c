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
const fmtWall = (s) => (!s ? "" : s < 1 ? (1000 * s).toFixed(0) + " ms" : s < 120 ? s.toFixed(1) + " s" : s < 7200 ? (s / 60).toFixed(1) + " min" : (s / 3600).toFixed(1) + " h");

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
const maxChartRuns = 64; // the server's bound (maxStreamRuns)
let chart = null, chartKey = "", source = null, refetch = null;
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
      series.push({ label: "Markov baseline " + (r.rel || c.id), stroke: palette[i % palette.length], dash: [6, 4], width: 1, spanGaps: true, points: { show: false } });
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
  const key = JSON.stringify([ids, metric, axis, $("logy").checked, series.length]);
  if (chart && key === chartKey) {
    // The same chart with more points (a live update): keep a zoom the user made.
    const x = chart.scales.x, d = chart.data[0];
    const zoomed = d.length > 1 && (x.min > d[0] || x.max < d[d.length - 1]);
    chart.setData(data, !zoomed);
  } else {
    if (chart) chart.destroy();
    chart = new uPlot(opts, data, $("chart"));
    chartKey = key;
  }
  window.chart = chart; // read by the browser tests
  $("curves-note").textContent = ids.length
    ? curves.map((c) => `${c.id}: ${c.rows} points` + (c.rows > c.x.length ? `, shown ${c.x.length} (min and max per bucket)` : "")).join("; ")
    : "No run selected: tick runs in the Runs table, then \"Overlay curves of the selected runs\".";
  window.drawn = (window.drawn || 0) + 1;
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

const maxSamples = 12; // drawn on a run's page (a spectrogram is a few million multiplications)
async function showRun(id) {
  const run = state.runs.find((r) => r.id === id) || { rel: id };
  $("run-title").textContent = run.rel + (run.modality ? " — " + run.modality + " " + (run.variant || "") : "");
  const [samples, cps] = await Promise.all([getJSON("/api/samples?run=" + encodeURIComponent(id)), getJSON("/api/checkpoints?run=" + encodeURIComponent(id))]);
  const box = $("samples");
  box.replaceChildren();
  if (!samples.length) box.append(el("p", { class: "note" }, "no samples"));
  const newest = samples.slice().reverse(), drawn = newest.slice(0, maxSamples);
  if (newest.length > drawn.length) {
    box.append(el("p", { class: "note" }, `the newest ${drawn.length} of ${newest.length} samples are drawn; the others: `,
      ...newest.slice(drawn.length).flatMap((s) => [el("a", { href: s.url }, s.name), " "])));
  }
  for (const s of drawn) {
    const div = el("div", { class: "sample", "data-kind": s.kind, "data-name": s.name },
      el("div", {}, el("a", { href: s.url }, el("b", {}, s.name)), ` step ${s.step}: ${plural(s.tokens, "token")}, the prompt is the first ${plural(s.prompt_units, s.unit)}`));
    box.append(div);
    await showSample(div, s);
  }
  const tb = $("checkpoints").tBodies[0];
  tb.replaceChildren();
  for (const c of cps) {
    const files = el("td", {});
    for (const f of c.files) files.append(el("a", { href: f.url + "?download", download: f.name }, `${f.name} (${(f.size / 1024).toFixed(0)} KiB)`), "  ");
    tb.append(el("tr", {}, el("td", {}, c.name + (c.latest ? " (latest)" : "")), el("td", { class: "num" }, String(c.step)), files));
  }
}

// ---- routing
function showError(e) {
  console.error(e);
  $("error").textContent = String(e);
  $("error").hidden = false;
}

async function route() {
  const [view, qs] = (location.hash.slice(1) || "runs").split("?");
  const q = new URLSearchParams(qs || "");
  for (const s of document.querySelectorAll("main > section")) s.hidden = s.id !== "view-" + view;
  for (const a of document.querySelectorAll("header nav a")) a.classList.toggle("on", a.id === "nav-" + view);
  if (view === "runs") { watch([]); await loadRuns(); } else if (!state.runs.length) await loadRuns();
  $("error").hidden = true;
  if (view === "curves") {
    const ids = q.getAll("run");
    if (ids.length) $("nav-curves").href = location.hash; // the Curves link keeps the last selection
    if (q.get("metric")) $("metric").value = q.get("metric");
    if (q.get("x")) $("axis").value = q.get("x");
    await drawCurves(ids);
    watch(ids);
  }
  if (view === "run") { watch([]); await showRun(q.get("id")); }
  if (view === "report") { watch([]); await showReport(q.get("id")); }
  window.routed = location.hash;
}

$("filter").addEventListener("input", renderRuns);
$("overlay").addEventListener("click", () => {
  if (state.selected.size > maxChartRuns) {
    $("error").textContent = `${state.selected.size} runs are ticked: one chart overlays at most ${maxChartRuns}.`;
    $("error").hidden = false;
    return;
  }
  location.hash = "#curves?" + [...state.selected].map((id) => "run=" + encodeURIComponent(id)).join("&");
});
for (const id of ["metric", "axis", "logy"]) {
  $(id).addEventListener("change", () => { const q = new URLSearchParams((location.hash.split("?")[1]) || ""); drawCurves(q.getAll("run")).catch(showError); });
}
window.addEventListener("hashchange", () => route().catch(showError));
route().catch(showError);
