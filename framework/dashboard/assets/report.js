// A compare report (report.md of "mambakit compare"): its tables, the
// spectrum (gain of selection per modality) and the validation bits per
// unit of every cell against the Markov baseline as interactive charts,
// the runs it names (their curves overlaid in one click), its figures.
"use strict";

window.reportCharts = null; // {spectrum: {labels, values}, validation: {labels, values, baselines}}: read by the browser tests

const mdLinkRE = /^\[([^\]]*)\]\(([^)]*)\)$/;
const cellText = (c) => { const m = mdLinkRE.exec(c); return m ? m[1] : c; };
const num = (c) => { const v = parseFloat(cellText(c)); return isNaN(v) ? null : v; };

// barChart draws labelled bars (uPlot) with an optional second series of
// points (a baseline per bar); hovering a bar shows its label and figures.
function barChart(box, title, labels, bars, points, width) {
  const xs = labels.map((_, i) => i);
  const series = [
    { label: "cell", value: (_, v) => (v === null || v === undefined ? "--" : labels[v] ?? "") },
    { label: bars.label, fill: "#90caf9", stroke: "#1565c0", paths: uPlot.paths.bars({ size: [0.6, 60] }), points: { show: false } },
  ];
  const data = [xs, bars.values];
  if (points) {
    series.push({ label: points.label, stroke: "#d32f2f", width: 0, paths: () => null, points: { show: true, size: 9, fill: "#d32f2f" } });
    data.push(points.values);
  }
  const all = data.slice(1).flat().filter((v) => v !== null);
  const lo = Math.min(0, ...all), hi = Math.max(0, ...all);
  return new uPlot({
    width, height: 260, title,
    scales: { x: { time: false, range: [-0.5, labels.length - 0.5] }, y: { range: [lo - 0.1 * (hi - lo || 1), hi + 0.1 * (hi - lo || 1)] } },
    axes: [{ values: (_, ticks) => ticks.map((v) => (Number.isInteger(v) ? labels[v] ?? "" : "")), splits: () => xs, gap: 6, size: 50 }, { size: 60 }],
    cursor: { points: { show: false } },
    series,
  }, data, box);
}

async function showReport(id) {
  const rep = await getJSON("/api/report?run=" + encodeURIComponent(id));
  $("report-title").textContent = (rep.markdown.split("\n")[0] || "").replace(/^#\s*/, "") + " (" + id + ")";
  const charts = $("report-charts"), tables = $("report-tables");
  charts.replaceChildren();
  tables.replaceChildren();
  window.reportCharts = {};
  const width = Math.min(900, Math.max(400, charts.clientWidth || 900));
  for (const t of rep.tables) {
    tables.append(el("h3", {}, t.title), el("table", { class: "tbl" },
      el("thead", {}, el("tr", {}, ...t.header.map((h) => el("th", {}, h)))),
      el("tbody", {}, ...t.rows.map((r) => el("tr", {}, ...r.map((c) => el("td", {}, cellText(c)))))),
    ));
  }
  // The validation table: modality, the axes, unit, best Markov baseline, one column per variant, then the gains.
  const t = rep.tables.find((t) => t.header.includes("best Markov baseline"));
  if (t) {
    const ui = t.header.indexOf("unit"), bi = t.header.indexOf("best Markov baseline"), gi = t.header.findIndex((h) => h.startsWith("selection gain"));
    const variants = t.header.slice(bi + 1, gi >= 0 ? gi : t.header.length).filter((h) => !h.startsWith("paired"));
    const rowLabel = (r) => r.slice(0, ui).map(cellText).join(" ");
    if (gi >= 0) {
      const labels = t.rows.map(rowLabel), values = t.rows.map((r) => num(r[gi]));
      const box = el("div", { class: "chart", id: "spectrum-chart" });
      charts.append(box);
      barChart(box, "the spectrum: gain of selection (S6) over the best LTI, % (> 0: selection helps)", labels, { label: "gain %", values }, null, width);
      window.reportCharts.spectrum = { labels, values };
    }
    const labels = [], values = [], baselines = [];
    for (const r of t.rows) {
      variants.forEach((v, j) => {
        const x = num(r[bi + 1 + j]);
        if (x === null) return;
        labels.push(rowLabel(r) + " " + v);
        values.push(x);
        baselines.push(num(r[bi]));
      });
    }
    if (labels.length) {
      const box = el("div", { class: "chart", id: "validation-chart" });
      charts.append(box);
      barChart(box, "validation bits per unit of each cell (mean over seeds); red: the best Markov baseline", labels, { label: "bits per unit", values }, { label: "Markov baseline", values: baselines }, width);
      window.reportCharts.validation = { labels, values, baselines };
    }
  }
  const runs = rep.runs || [];
  $("report-runs").replaceChildren(runs.length
    ? el("a", { href: "#curves?metric=val_bits_per_unit&" + runs.map((r) => "run=" + encodeURIComponent(r)).join("&"), id: "report-overlay" }, `Overlay the validation curves of its ${plural(runs.length, "run")}`)
    : el("span", { class: "note" }, "none of its runs is under the served folders"));
  $("report-images").replaceChildren(...(rep.images || []).map((f) => el("a", { href: f.url }, el("img", { src: f.url, alt: f.name, title: f.name }))));
}
