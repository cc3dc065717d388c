// Samples of a run, drawn from the files train and generate write:
// audio (a player, the waveform, the spectrogram), DNA (the sequence, GC
// content and, with a score CSV, bits per base), text (shaded by each
// token's surprisal when a score CSV is there). Each marks where the
// prompt ends: the FILE.json sidecar's prompt_units (bytes of text, bases,
// samples of the WAV).
"use strict";

const plural = (n, unit) => `${n} ${unit || "unit"}${n === 1 ? "" : "s"}`;
const sampleWidth = (div) => Math.max(300, Math.min(1000, (div.clientWidth || 900) - 20));

// ---- audio

// parseWAV reads the first channel of a PCM (8, 16, 24 or 32-bit) or
// 32-bit float RIFF WAVE file; it throws on anything else.
function parseWAV(buf) {
  const v = new DataView(buf);
  const tag = (o) => String.fromCharCode(v.getUint8(o), v.getUint8(o + 1), v.getUint8(o + 2), v.getUint8(o + 3));
  if (buf.byteLength < 12 || tag(0) !== "RIFF" || tag(8) !== "WAVE") throw new Error("not a WAV file");
  let rate = 0, bits = 0, ch = 1, format = 0;
  for (let o = 12; o + 8 <= buf.byteLength;) {
    const id = tag(o), n = v.getUint32(o + 4, true);
    if (id === "fmt " && o + 24 <= buf.byteLength) {
      format = v.getUint16(o + 8, true); ch = v.getUint16(o + 10, true); rate = v.getUint32(o + 12, true); bits = v.getUint16(o + 22, true);
    }
    if (id === "data") {
      const bytes = bits / 8, step = bytes * ch;
      if (!rate || !step || !(format === 1 && bytes >= 1 && bytes <= 4 || format === 3 && bits === 32)) throw new Error("WAV format " + format + ", " + bits + " bits");
      const start = o + 8, len = Math.min(n, buf.byteLength - start), x = new Float32Array(Math.floor(len / step));
      for (let i = 0; i < x.length; i++) {
        const p = start + i * step;
        if (format === 3) x[i] = v.getFloat32(p, true);
        else if (bytes === 1) x[i] = (v.getUint8(p) - 128) / 128;
        else if (bytes === 2) x[i] = v.getInt16(p, true) / 32768;
        else if (bytes === 3) x[i] = ((v.getInt8(p + 2) << 16) | (v.getUint8(p + 1) << 8) | v.getUint8(p)) / 8388608;
        else x[i] = v.getInt32(p, true) / 2147483648;
      }
      return { rate, x };
    }
    o += 8 + n + (n & 1);
  }
  throw new Error("WAV without data");
}

// decodeAudio reads a WAV, or lets Web Audio decode what parseWAV does not.
async function decodeAudio(buf) {
  try {
    return parseWAV(buf);
  } catch (e) {
    const a = await new OfflineAudioContext(1, 1, 44100).decodeAudioData(buf.slice(0));
    return { rate: a.sampleRate, x: a.getChannelData(0) };
  }
}

// promptLine draws where the prompt ends: a red line at fraction f of w.
function promptLine(g, f, w, h) {
  if (!(f > 0 && f < 1)) return;
  g.fillStyle = "#d32f2f";
  g.fillRect(Math.round(f * w) - 1, 0, 2, h);
}

async function audioSample(div, s) {
  const audio = el("audio", { controls: "", src: s.url, preload: "auto" });
  div.append(audio);
  const { rate, x } = await decodeAudio(await (await fetch(s.url)).arrayBuffer());
  div.dataset.samples = x.length;
  const W = sampleWidth(div), H = 110, f = x.length ? s.prompt_units / x.length : 0;
  const wrap = el("div", { class: "track" });
  const wave = el("canvas", { width: W, height: H, class: "wave" });
  const g = wave.getContext("2d");
  g.fillStyle = "#e3f2fd";
  g.fillRect(0, 0, Math.min(1, f) * W, H);
  g.fillStyle = "#ccc";
  g.fillRect(0, H / 2, W, 1);
  let peak = 0;
  for (const v of x) peak = Math.max(peak, Math.abs(v));
  g.strokeStyle = "#1565c0";
  g.beginPath();
  const y = (v) => H / 2 - v * (H / 2 - 2);
  if (x.length < W) { // fewer samples than pixels: a line through them
    for (let i = 0; i < x.length; i++) i ? g.lineTo(((i + 0.5) * W) / x.length, y(x[i])) : g.moveTo((0.5 * W) / x.length, y(x[i]));
  } else { // each pixel column spans its samples' minimum to maximum
    for (let px = 0; px < W; px++) {
      const a = Math.floor((px * x.length) / W), b = Math.max(a + 1, Math.floor(((px + 1) * x.length) / W));
      let lo = 1, hi = -1;
      for (let i = a; i < b && i < x.length; i++) { lo = Math.min(lo, x[i]); hi = Math.max(hi, x[i]); }
      g.moveTo(px + 0.5, y(hi)); g.lineTo(px + 0.5, y(lo) + 1);
    }
  }
  g.stroke();
  promptLine(g, f, W, H);
  const head = el("div", { class: "playhead", hidden: "" });
  wrap.append(wave, head);
  audio.addEventListener("timeupdate", () => {
    head.hidden = !audio.currentTime;
    head.style.left = (audio.duration ? (audio.currentTime / audio.duration) * W : 0) + "px";
  });
  const secs = (n) => (n / rate).toFixed(3) + " s";
  div.append(el("div", { class: "note" }, `waveform: ${plural(x.length, "sample")} at ${rate} Hz (${secs(x.length)}), peak ${peak.toFixed(3)} of full scale; shaded, up to the red line at ${secs(s.prompt_units)}: the prompt`), wrap);
  const spec = spectrogram(x, f, W);
  div.dataset.peakHz = spec.peaks.map((k) => Math.round((k * rate) / spec.N)).join(","); // loudest bin of the first and last frames: read by the browser tests
  div.append(el("div", { class: "note" }, `spectrogram: 0 to ${rate / 2} Hz upwards, dB of full scale (dark −90, bright 0)`), spec.canvas);
}

// spectrogram draws a short-time Fourier transform (Hann window, direct
// DFT: samples are seconds long) in dB of a full-scale sine. It returns
// the canvas, the frame length N and the loudest bin of the first and the
// last frames.
function spectrogram(x, f, W) {
  let N = 16;
  while (N < 256 && N * 2 <= x.length) N *= 2;
  const hop = Math.max(N / 4, Math.ceil((x.length - N) / 600)), frames = Math.max(1, Math.floor((x.length - N) / hop) + 1), K = N / 2;
  const img = new ImageData(frames, K), win = new Float32Array(N), cos = new Float32Array(K * N), sin = new Float32Array(K * N);
  for (let i = 0; i < N; i++) win[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / N);
  for (let k = 0; k < K; k++) for (let i = 0; i < N; i++) { cos[k * N + i] = Math.cos((2 * Math.PI * k * i) / N); sin[k * N + i] = Math.sin((2 * Math.PI * k * i) / N); }
  const full = (N / 4) * (N / 4), frame = new Float32Array(N), peaks = [0, 0];
  for (let t = 0; t < frames; t++) {
    for (let i = 0; i < N; i++) frame[i] = (x[t * hop + i] || 0) * win[i];
    let loudest = -1;
    for (let k = 0; k < K; k++) {
      let re = 0, im = 0;
      for (let i = 0; i < N; i++) { re += frame[i] * cos[k * N + i]; im -= frame[i] * sin[k * N + i]; }
      const p = re * re + im * im;
      if (p > loudest) {
        loudest = p;
        if (t === 0) peaks[0] = k;
        if (t === frames - 1) peaks[1] = k;
      }
      const db = 10 * Math.log10(p / full + 1e-12), c = heat(Math.max(0, Math.min(1, (db + 90) / 90)));
      const q = ((K - 1 - k) * frames + t) * 4;
      img.data[q] = c[0]; img.data[q + 1] = c[1]; img.data[q + 2] = c[2]; img.data[q + 3] = 255;
    }
  }
  const off = el("canvas", { width: frames, height: K });
  off.getContext("2d").putImageData(img, 0, 0);
  const H = 140, spec = el("canvas", { width: W, height: H, class: "spec" }), g = spec.getContext("2d");
  g.imageSmoothingEnabled = frames < W;
  g.drawImage(off, 0, 0, W, H);
  promptLine(g, f, W, H);
  return { canvas: spec, N, peaks };
}

// heat maps 0..1 to dark blue, purple, orange, pale yellow.
function heat(t) {
  const stops = [[13, 8, 60], [110, 20, 140], [220, 70, 60], [250, 170, 30], [252, 250, 190]];
  const s = t * (stops.length - 1), i = Math.min(stops.length - 2, Math.floor(s)), u = s - i;
  return stops[i].map((a, j) => a + (stops[i + 1][j] - a) * u);
}

// ---- scores: "mambakit score" CSV (position,token,decoded,logprob_nats,bits)

function parseCSV(text) {
  const rows = [];
  let row = [], f = "", q = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (q) {
      if (c === '"' && text[i + 1] === '"') { f += '"'; i++; } else if (c === '"') q = false; else f += c;
    } else if (c === '"') q = true;
    else if (c === ",") { row.push(f); f = ""; }
    else if (c === "\n") { row.push(f); rows.push(row); row = []; f = ""; }
    else if (c !== "\r") f += c;
  }
  if (f || row.length) { row.push(f); rows.push(row); }
  return rows;
}

// unquote reads a score CSV's decoded text back into bytes: text units
// are Go-quoted (strconv.Quote without its quotes: \n, \t, \xNN for a
// byte that is not UTF-8, \uNNNN ...); DNA letters come as they are.
function unquote(s) {
  const out = [], enc = new TextEncoder(), esc = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, "\\": 92, '"': 34, "'": 39 };
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== "\\" || i + 1 >= s.length) {
      const cp = s.codePointAt(i);
      if (cp > 0xffff) i++;
      out.push(...enc.encode(String.fromCodePoint(cp)));
      continue;
    }
    const e = s[++i], hex = { x: 2, u: 4, U: 8 }[e];
    if (esc[e] !== undefined) out.push(esc[e]);
    else if (hex) {
      const v = parseInt(s.substr(i + 1, hex), 16);
      i += hex;
      if (e === "x") out.push(v); else out.push(...enc.encode(String.fromCodePoint(v)));
    } else out.push(92, ...enc.encode(e));
  }
  return Uint8Array.from(out);
}

// utf8Chars splits bytes into characters and the byte each starts at; a
// byte that does not begin valid UTF-8 is one U+FFFD.
function utf8Chars(b) {
  const chars = [], starts = [];
  for (let i = 0; i < b.length;) {
    const c = b[i];
    let n = c < 0x80 ? 1 : c >= 0xc2 && c < 0xe0 ? 2 : c >= 0xe0 && c < 0xf0 ? 3 : c >= 0xf0 && c < 0xf5 ? 4 : 0;
    let cp = n === 1 ? c : c & (0xff >> (n + 1));
    for (let k = 1; k < n; k++) {
      const d = b[i + k];
      if (d === undefined || (d & 0xc0) !== 0x80) { n = 0; break; }
      cp = (cp << 6) | (d & 0x3f);
    }
    if (n === 3 && (cp < 0x800 || (cp >= 0xd800 && cp < 0xe000)) || n === 4 && (cp < 0x10000 || cp > 0x10ffff)) n = 0;
    starts.push(i);
    chars.push(n ? String.fromCodePoint(cp) : "\ufffd");
    i += n || 1;
  }
  return { chars, starts };
}

// loadScores aligns the scored tokens with the sample's bytes: each
// token's decoded bytes are looked for just after the previous token's
// (the first token is not scored; special tokens are not in the file). It
// returns, per character, the bits of the token its first byte belongs to
// (NaN: not scored) and that token's row.
async function loadScores(url, bytes, starts) {
  const rows = parseCSV(await (await fetch(url)).text());
  const head = rows.shift() || [], ui = head.indexOf("decoded"), bi = head.indexOf("bits");
  if (ui < 0 || bi < 0) throw new Error(url + ": not a score CSV (want columns decoded and bits)");
  const bitsB = new Float32Array(bytes.length).fill(NaN), tokB = new Int32Array(bytes.length).fill(-1);
  let p = 0;
  rows.forEach((r, n) => {
    const u = unquote(r[ui] || ""), b = parseFloat(r[bi]);
    if (!u.length || isNaN(b)) return;
    for (let j = p; j <= Math.min(p + 16, bytes.length - u.length); j++) {
      if (!u.every((v, k) => bytes[j + k] === v)) continue;
      bitsB.fill(b, j, j + u.length);
      tokB.fill(n, j, j + u.length);
      p = j + u.length;
      return;
    }
  });
  return { bits: Float32Array.from(starts, (i) => bitsB[i]), tok: Int32Array.from(starts, (i) => tokB[i]) };
}

// meanBits is the mean of the tokens' bits that begin in characters [a, b).
const meanBits = (sc, a, b) => {
  let s = 0, n = 0;
  for (let i = a; i < b; i++) if (!isNaN(sc.bits[i]) && (i === 0 || sc.tok[i] !== sc.tok[i - 1])) { s += sc.bits[i]; n++; }
  return n ? (s / n).toFixed(2) : "–";
};

// shaded renders characters in spans, one per scored token, their
// background as dark as the token's surprisal, with a boundary mark at the
// prompt's end (character cut).
function shaded(chars, cut, sc) {
  const box = el("div", { class: "seq" });
  if (chars.length > maxShaded) sc = null; // a span per token would slow the page: the prompt and the rest only
  let max = 1;
  if (sc) for (const b of sc.bits) if (b > max) max = b;
  for (let i = 0; i < chars.length;) {
    let j = i + 1;
    if (sc) while (j < chars.length && j !== cut && sc.tok[j] === sc.tok[i]) j++;
    else j = i < cut ? cut : chars.length;
    const span = el("span", { class: i < cut ? "prompt" : "gen" }, chars.slice(i, j).join(""));
    if (sc && !isNaN(sc.bits[i])) {
      span.dataset.bits = sc.bits[i];
      span.dataset.tok = sc.tok[i]; // a token across the prompt's end is two spans
      span.title = sc.bits[i].toFixed(2) + " bits";
      span.style.background = `rgba(211, 47, 47, ${(0.08 + 0.72 * sc.bits[i] / max).toFixed(3)})`;
    }
    if (i === cut) box.append(el("span", { class: "boundary", title: "the prompt ends here" }));
    box.append(span);
    i = j;
  }
  if (cut >= chars.length) box.append(el("span", { class: "boundary", title: "the prompt ends here" }));
  return box;
}

// maxShaded is the longest sample drawn a token per span.
const maxShaded = 50000;

// ---- DNA

async function dnaSample(div, s) {
  const text = await (await fetch(s.url)).text();
  const seq = text.split("\n").filter((l) => !l.startsWith(">")).map((l) => l.trim()).join("");
  const cut = Math.min(s.prompt_units, seq.length), bytes = new TextEncoder().encode(seq), { chars, starts } = utf8Chars(bytes);
  const sc = s.score ? await loadScores(s.score, bytes, starts) : null;
  div.append(shaded(chars, cut, sc));
  const W = sampleWidth(div), H = 60, win = 20, f = seq.length ? cut / seq.length : 0;
  const gc = el("canvas", { width: W, height: H, class: "gc" });
  const g = gc.getContext("2d");
  g.fillStyle = "#e3f2fd";
  g.fillRect(0, 0, f * W, H);
  g.fillStyle = "#ddd";
  g.fillRect(0, H / 2, W, 1);
  g.strokeStyle = "#2e7d32";
  g.lineWidth = 1.5;
  g.beginPath();
  let gcAll = 0, acgtAll = 0;
  const isGC = (c) => c === "G" || c === "C" || c === "g" || c === "c", isBase = (c) => "ACGTacgt".includes(c);
  for (const c of seq) { if (isBase(c)) acgtAll++; if (isGC(c)) gcAll++; }
  for (let i = 0; i < seq.length; i++) {
    let n = 0, m = 0;
    for (let k = Math.max(0, i - win / 2); k < Math.min(seq.length, i + win / 2); k++) { if (isBase(seq[k])) n++; if (isGC(seq[k])) m++; }
    const y = H - 2 - (n ? m / n : 0) * (H - 4), px = ((i + 0.5) / seq.length) * W;
    i ? g.lineTo(px, y) : g.moveTo(px, y);
  }
  g.stroke();
  promptLine(g, f, W, H);
  div.append(el("div", { class: "note" }, `GC content over a ${win}-base window (0 at the bottom, 0.5 at the grey line, 1 at the top): ${acgtAll ? ((100 * gcAll) / acgtAll).toFixed(1) : "–"}% overall; shaded, up to the red line: the prompt (${plural(cut, "base")})`), gc);
  div.dataset.gc = acgtAll ? gcAll / acgtAll : 0;
  if (sc) {
    const bt = el("canvas", { width: W, height: H, class: "bits" }), b = bt.getContext("2d");
    let max = 2, scored = 0;
    for (const v of sc.bits) if (v > max) max = v;
    b.fillStyle = "#e3f2fd";
    b.fillRect(0, 0, f * W, H);
    b.fillStyle = "#ddd";
    b.fillRect(0, H - 1 - (2 / max) * (H - 2), W, 1); // 2 bits: a uniform guess over four bases
    b.fillStyle = "#6a1b9a";
    for (let i = 0; i < seq.length; i++) {
      if (isNaN(sc.bits[i])) continue;
      scored++;
      const h = (sc.bits[i] / max) * (H - 2), x0 = (i / seq.length) * W;
      b.fillRect(x0, H - 1 - h, Math.max(1, W / seq.length - 1), h);
    }
    promptLine(b, f, W, H);
    div.dataset.scored = scored;
    div.append(el("div", { class: "note" }, `bits per base under the model (score CSV; grey line: 2 bits, a uniform guess; top: ${max.toFixed(1)} bits): mean ${meanBits(sc, 0, cut)} in the prompt, ${meanBits(sc, cut, chars.length)} after it`), bt);
  }
}

// ---- text

async function textSample(div, s) {
  const bytes = new Uint8Array(await (await fetch(s.url)).arrayBuffer());
  const { chars, starts } = utf8Chars(bytes);
  let cut = starts.findIndex((b) => b >= s.prompt_units); // the first character after the prompt's bytes
  if (cut < 0) cut = chars.length;
  const sc = s.score ? await loadScores(s.score, bytes, starts) : null;
  div.append(shaded(chars, cut, sc));
  if (sc) {
    div.dataset.scored = new Set([...div.querySelectorAll("[data-tok]")].map((e) => e.dataset.tok)).size;
    div.append(el("div", { class: "note" }, `shaded by surprisal (score CSV; darker: more bits, hover for the figure; blue or dotted: the prompt, up to the red bar): mean ${meanBits(sc, 0, cut)} bits per token in the prompt, ${meanBits(sc, cut, chars.length)} after it`));
  } else {
    div.append(el("div", { class: "note" }, `blue, up to the red bar: the prompt; the rest is generated. For per-token surprisal, save "mambakit score --checkpoint RUN ${s.name} > ${s.name}.score.csv" beside it.`));
  }
}

// showSample draws one sample into div.
async function showSample(div, s) {
  if (s.kind === "audio") await audioSample(div, s);
  else if (s.kind === "dna") await dnaSample(div, s);
  else await textSample(div, s);
}
