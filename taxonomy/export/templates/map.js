(async function () {
  "use strict";
  // Data text reaches the DOM only through textContent / createTextNode, never as HTML.
  const D = JSON.parse(document.getElementById("map-data").textContent);
  // Raw-deflated base64 (large maps' texts, the density grid); the browser inflates it.
  function inflate(b64) {
    let bytes;
    if (Uint8Array.fromBase64) bytes = Uint8Array.fromBase64(b64);
    else {
      const bin = atob(b64); // a plain loop: Uint8Array.from(str, fn) is ~20x slower here
      bytes = new Uint8Array(bin.length);
      for (let k = 0; k < bin.length; k++) bytes[k] = bin.charCodeAt(k);
    }
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
    return new Response(stream);
  }
  if (D.z) {
    [D.t, D.a] = JSON.parse(await inflate(D.z).text());
    delete D.z;
  }
  const densBytes = D.dens ? new Uint8Array(await inflate(D.dens.z).arrayBuffer()) : null;
  const N = D.id.length;
  // A sampled map (more papers than output.map_points) draws N of its M papers over a
  // density layer of all M; counts in the legend and labels are of all M.
  const M = D.total || N;
  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = String(text);
    return e;
  };
  const clamp = (v, lo, hi) => Math.max(lo, Math.min(hi, v));

  // ---------------------------------------------------------------- data
  const asLabel = (r) => ({ name: String(r[0]), x: +r[1], y: +r[2], size: +r[3], parent: +r[4] });
  const themes = D.themes.map(asLabel);
  const topics = D.topics.map(asLabel);
  const nTh = themes.length;
  const nTp = topics.length;
  const X = Float64Array.from(D.x);
  const Y = Float64Array.from(D.y);
  const TH = Int32Array.from(D.th);
  const TP = Int32Array.from(D.tp);
  const YM = Int32Array.from(D.ym);
  const thSlot = (i) => (TH[i] < 0 ? nTh : TH[i]);
  const tpSlot = (i) => (TP[i] < 0 ? nTp : TP[i]);
  const shortened = new Uint8Array(N);
  if (D.uncut) { shortened.fill(1); D.uncut.forEach((i) => { shortened[i] = 0; }); }
  else D.cut.forEach((i) => { shortened[i] = 1; });
  const index = new Map();
  D.id.forEach((id, i) => index.set(String(id), i));
  const arxivOf = (i) => (D.ax[i] === 1 ? String(D.id[i]) : D.ax[i] ? String(D.ax[i]) : null);

  const PALETTE = ["#5b9cf6", "#f5a524", "#ef6461", "#3fc6a0", "#b27cf2", "#f2d04e", "#59cfe6",
    "#f283bd", "#93d152", "#e6895a", "#8e9cf8", "#c9a27e", "#6fe0c6", "#f7a8a8", "#a5b8d9", "#d7e36b"];
  const GREY = "#596273";
  const ARXIV_ABS = "https://arxiv.org/abs/"; // the page's only outside link (opened by the user)
  function hexToRgb(h) { return [1, 3, 5].map((k) => parseInt(h.slice(k, k + 2), 16)); }
  function themeColor(t) {
    if (t < 0 || t >= nTh) return GREY;
    if (t < PALETTE.length) return PALETTE[t];
    const hue = (t * 137.508) % 360;
    return `hsl(${hue.toFixed(0)}, 68%, ${t % 2 ? 66 : 58}%)`;
  }
  const colors = [];
  for (let t = 0; t < nTh; t++) colors.push(themeColor(t));
  colors.push(GREY);
  function labelColor(t) {
    const c = colors[t < 0 ? nTh : t];
    if (c[0] !== "#") return c;
    const [r, g, b] = hexToRgb(c).map((v) => Math.round(v + (255 - v) * 0.35));
    return `rgb(${r},${g},${b})`;
  }
  // Papers grouped by colour, drawn one path per colour.
  const groups = [];
  for (let g = 0; g <= nTh; g++) groups.push([]);
  for (let i = 0; i < N; i++) groups[thSlot(i)].push(i);
  const groupIdx = groups.map((a) => Int32Array.from(a));

  // Density of all papers: one pixel per grid cell in the colour of its most common theme,
  // more opaque where more papers lie; drawn scaled (smoothed) under the points.
  let densityOn = !!D.dens;
  const densCanvas = D.dens ? document.createElement("canvas") : null;
  function cssRgb(c) {
    const probe = document.createElement("canvas").getContext("2d", { willReadFrequently: true });
    probe.fillStyle = c;
    probe.fillRect(0, 0, 1, 1);
    return probe.getImageData(0, 0, 1, 1).data;
  }
  function buildDensity() {
    if (!densCanvas) return;
    const { w, h } = D.dens, n = w * h;
    const rgb = colors.map(cssRgb);
    densCanvas.width = w; densCanvas.height = h;
    const dctx = densCanvas.getContext("2d");
    const img = dctx.createImageData(w, h);
    const px = img.data;
    for (let c = 0; c < n; c++) {
      const v = densBytes[c];
      if (!v) continue;
      const slot = densBytes[n + c] >= nTh ? nTh : densBytes[n + c];
      if (hiddenTheme[slot]) continue;
      const col = rgb[slot], o = 4 * c;
      px[o] = col[0]; px[o + 1] = col[1]; px[o + 2] = col[2];
      px[o + 3] = Math.round(30 + 150 * (v / 255));
    }
    dctx.putImageData(img, 0, 0);
  }
  function drawDensity() {
    if (!densCanvas || !densityOn) return;
    const [bx0, by0, bx1, by1] = D.dens.box;
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = "high";
    ctx.globalAlpha = tokens.length ? 0.4 : 1; // while searching, the matches stand out
    ctx.drawImage(densCanvas, sx(bx0), sy(by1), (bx1 - bx0) * view.scale, (by1 - by0) * view.scale);
    ctx.globalAlpha = 1;
  }

  // World bounds and a uniform grid for hit testing.
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (let i = 0; i < N; i++) {
    minX = Math.min(minX, X[i]); maxX = Math.max(maxX, X[i]);
    minY = Math.min(minY, Y[i]); maxY = Math.max(maxY, Y[i]);
  }
  if (!N) { minX = minY = -1; maxX = maxY = 1; }
  if (D.dens) { // the view fits every paper, not only the drawn ones
    const [bx0, by0, bx1, by1] = D.dens.box;
    minX = Math.min(minX, bx0); minY = Math.min(minY, by0);
    maxX = Math.max(maxX, bx1); maxY = Math.max(maxY, by1);
  }
  const spanX = Math.max(maxX - minX, 1e-9), spanY = Math.max(maxY - minY, 1e-9);
  const G = clamp(Math.ceil(Math.sqrt(N / 3)), 1, 400);
  const cellOf = (x, y) => clamp(Math.floor(((x - minX) / spanX) * G), 0, G - 1) +
    G * clamp(Math.floor(((y - minY) / spanY) * G), 0, G - 1);
  const cellStart = new Int32Array(G * G + 1);
  const cellItems = new Int32Array(N);
  {
    const cells = new Int32Array(N);
    for (let i = 0; i < N; i++) { cells[i] = cellOf(X[i], Y[i]); cellStart[cells[i] + 1]++; }
    for (let c = 0; c < G * G; c++) cellStart[c + 1] += cellStart[c];
    const fill = cellStart.slice(0, G * G);
    for (let i = 0; i < N; i++) cellItems[fill[cells[i]]++] = i;
  }

  // Months: a continuous sequence from the first to the last month seen.
  const monthSeq = [];
  const monthPos = [];
  if (D.months.length) {
    let [y, m] = D.months[0].split("-").map(Number);
    const last = D.months[D.months.length - 1];
    for (let guard = 0; guard < 2400; guard++) {
      const key = `${y}-${String(m).padStart(2, "0")}`;
      monthSeq.push(key);
      if (key >= last) break;
      m += 1; if (m > 12) { m = 1; y += 1; }
    }
    const at = new Map(monthSeq.map((k, i) => [k, i]));
    D.months.forEach((k) => monthPos.push(at.has(k) ? at.get(k) : -1));
  }
  const monthOf = (i) => (YM[i] >= 0 ? monthPos[YM[i]] : -1);

  // ---------------------------------------------------------------- state
  const hiddenTheme = new Uint8Array(nTh + 1);
  const hiddenTopic = new Uint8Array(nTp + 1);
  const visible = new Uint8Array(N);
  const match = new Uint8Array(N).fill(1);
  const selected = new Uint8Array(N);
  const themeVisible = new Int32Array(nTh + 1);
  const topicVisible = new Int32Array(nTp + 1);
  let monthRange = null;
  let tokens = [];
  let haystack = null;
  let nVisible = 0, nMatch = 0, nSelected = 0;
  let current = -1, hover = -1;
  let lassoPath = null; // screen points of a lasso being drawn (alt+drag)
  let placedLabels = [];
  const view = { cx: 0, cy: 0, scale: 1, fit: 1 };
  let W = 0, H = 0, dpr = 1;

  const canvas = $("map");
  const ctx = canvas.getContext("2d");
  const searchBox = $("search");

  const api = (window.taxonomyMap = { ready: false });

  // ---------------------------------------------------------------- filtering
  function refilter() {
    nVisible = nMatch = 0;
    themeVisible.fill(0); topicVisible.fill(0);
    const searching = tokens.length > 0;
    for (let i = 0; i < N; i++) {
      let ok = !hiddenTheme[thSlot(i)] && !hiddenTopic[tpSlot(i)];
      if (ok && monthRange) {
        const m = monthOf(i);
        ok = m >= monthRange[0] && m <= monthRange[1];
      }
      visible[i] = ok ? 1 : 0;
      if (!ok) continue;
      nVisible++;
      if (searching) match[i] = matches(i) ? 1 : 0;
      if (!searching || match[i]) {
        nMatch++; themeVisible[thSlot(i)]++; topicVisible[tpSlot(i)]++;
      }
    }
    if (!searching) match.fill(1);
    if (hover >= 0 && !active(hover)) hideTooltip();
    if (densCanvas) buildDensity();
    updateStatus();
    drawHistogram();
    requestDraw();
  }
  const active = (i) => visible[i] === 1 && match[i] === 1;

  function matches(i) {
    if (!haystack) {
      haystack = new Array(N);
      for (let j = 0; j < N; j++) haystack[j] = `${D.t[j]}\n${D.a[j]}`.toLowerCase();
    }
    const h = haystack[i];
    for (const tok of tokens) if (!h.includes(tok)) return false;
    return true;
  }

  function runSearch(text) {
    tokens = String(text).toLowerCase().split(/\s+/).filter(Boolean);
    refilter();
    return nMatch;
  }

  function updateStatus() {
    const s = $("status");
    s.textContent = "";
    const b = (v) => el("b", null, v.toLocaleString("en-US"));
    const sample = M > N ? ` (a sample of ${M.toLocaleString("en-US")})` : "";
    if (tokens.length) {
      s.append(b(nMatch), ` of ${nVisible.toLocaleString("en-US")} papers match${sample}`);
    } else if (nVisible < N) {
      s.append(b(nVisible), ` of ${N.toLocaleString("en-US")} papers shown${sample}`);
    } else if (M > N) {
      s.append("showing ", b(N), ` of ${M.toLocaleString("en-US")} papers; density shows all`);
    } else {
      const pl = (n, w) => `${n === 1 ? w : w + "s"}`;
      s.append(b(N), ` ${pl(N, "paper")} · ${nTh} ${pl(nTh, "theme")} · ${nTp} ${pl(nTp, "topic")}`);
    }
  }

  // ---------------------------------------------------------------- view
  function mapArea() {
    // The part of the canvas not covered by the side cards.
    const area = { l: 12, t: 12, r: W - 12, b: H - 12 };
    const side = $("sidebar").getBoundingClientRect();
    const collapsed = $("sidebar").classList.contains("collapsed");
    if (!collapsed && side.width && side.right < W / 2) area.l = side.right + 16;
    const top = $("topbar").getBoundingClientRect();
    if (top.width > W / 2) area.t = top.bottom + 12;
    if (!$("panel").hidden) {
      const p = $("panel").getBoundingClientRect();
      if (p.left > W / 2) area.r = p.left - 16;
    }
    if (area.r - area.l < 120) { area.l = 12; area.r = W - 12; }
    return area;
  }
  function fitBox(x0, y0, x1, y1, maxZoom) {
    const a = mapArea();
    const pad = 28;
    const sw = Math.max(x1 - x0, 1e-9), sh = Math.max(y1 - y0, 1e-9);
    let s = Math.min((a.r - a.l - 2 * pad) / sw, (a.b - a.t - 2 * pad) / sh);
    s = Math.max(s, 1e-9);
    if (maxZoom) s = Math.min(s, view.fit * maxZoom);
    const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
    // Centre of the free area, expressed as an offset from the canvas centre.
    const ox = (a.l + a.r) / 2 - W / 2, oy = (a.t + a.b) / 2 - H / 2;
    return { cx: cx - ox / s, cy: cy + oy / s, scale: s };
  }
  function fitAll() {
    const v = fitBox(minX, minY, maxX, maxY);
    view.fit = v.scale;
    Object.assign(view, v);
  }
  const sx = (x) => (x - view.cx) * view.scale + W / 2;
  const sy = (y) => H / 2 - (y - view.cy) * view.scale;
  const wx = (px) => (px - W / 2) / view.scale + view.cx;
  const wy = (py) => view.cy - (py - H / 2) / view.scale;
  const zoomLevel = () => view.scale / view.fit;

  function zoomAt(px, py, factor) {
    const k = clamp(zoomLevel() * factor, 0.3, 600);
    const s = k * view.fit;
    const x = wx(px), y = wy(py);
    view.scale = s;
    view.cx = x - (px - W / 2) / s;
    view.cy = y + (py - H / 2) / s;
    hideTooltip();
    requestDraw();
  }

  let anim = 0;
  function animateTo(target) {
    cancelAnimationFrame(anim);
    const from = { ...view }, t0 = performance.now(), dur = 420;
    const ls0 = Math.log(from.scale), ls1 = Math.log(target.scale);
    const step = (now) => {
      const u = clamp((now - t0) / dur, 0, 1), e = u < 0.5 ? 2 * u * u : 1 - (-2 * u + 2) ** 2 / 2;
      view.scale = Math.exp(ls0 + (ls1 - ls0) * e);
      view.cx = from.cx + (target.cx - from.cx) * e;
      view.cy = from.cy + (target.cy - from.cy) * e;
      draw();
      if (u < 1) anim = requestAnimationFrame(step);
    };
    anim = requestAnimationFrame(step);
  }
  function zoomToPapers(list, animate) {
    if (!list.length) return;
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (const i of list) {
      x0 = Math.min(x0, X[i]); x1 = Math.max(x1, X[i]); y0 = Math.min(y0, Y[i]); y1 = Math.max(y1, Y[i]);
    }
    const t = fitBox(x0, y0, x1, y1, 40);
    if (animate) animateTo(t); else { Object.assign(view, t); requestDraw(); }
  }

  // ---------------------------------------------------------------- drawing
  let pending = 0;
  function requestDraw() {
    if (!pending) pending = requestAnimationFrame(() => { pending = 0; draw(); });
  }
  function resize() {
    dpr = window.devicePixelRatio || 1;
    const r = canvas.getBoundingClientRect();
    const cw = Math.max(1, r.width), ch = Math.max(1, r.height);
    if (W && H && view.fit) {
      const k = zoomLevel();
      W = cw; H = ch;
      const cx = view.cx, cy = view.cy;
      fitAll();
      view.scale = view.fit * k; view.cx = cx; view.cy = cy;
    } else {
      W = cw; H = ch;
    }
    canvas.width = Math.round(W * dpr);
    canvas.height = Math.round(H * dpr);
    sizeHistogram();
    requestDraw();
  }

  function pointRadius() {
    const base = clamp(3.4 * Math.sqrt(1500 / Math.max(N, 1)), 1.1, 4);
    return Math.min(base * Math.pow(zoomLevel(), 0.45), 6.5);
  }

  function draw() {
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, W, H);
    const bg = ctx.createRadialGradient(W * 0.55, H * 0.45, 0, W * 0.55, H * 0.45, Math.max(W, H) * 0.75);
    bg.addColorStop(0, "#161b25");
    bg.addColorStop(1, "#0c0f14");
    ctx.fillStyle = bg;
    ctx.fillRect(0, 0, W, H);
    drawDensity();
    const r = pointRadius();
    const useRect = r * dpr < 1.5;
    const searching = tokens.length > 0;
    const x0 = wx(-r), x1 = wx(W + r), y1 = wy(-r), y0 = wy(H + r);
    const dot = (i) => {
      const x = X[i], y = Y[i];
      if (x < x0 || x > x1 || y < y0 || y > y1) return;
      const px = sx(x), py = sy(y);
      if (useRect) ctx.rect(px - r, py - r, 2 * r, 2 * r);
      else { ctx.moveTo(px + r, py); ctx.arc(px, py, r, 0, 6.2832); }
    };
    if (searching) {
      ctx.globalAlpha = 0.5;
      ctx.fillStyle = "#2c3340";
      ctx.beginPath();
      for (let i = 0; i < N; i++) if (visible[i] && !match[i]) dot(i);
      ctx.fill();
    }
    ctx.globalAlpha = N > 20000 ? 0.7 : N > 3000 ? 0.8 : 0.9;
    for (let g = groupIdx.length - 1; g >= 0; g--) {
      const list = groupIdx[g];
      ctx.fillStyle = colors[g];
      ctx.beginPath();
      for (let j = 0; j < list.length; j++) { const i = list[j]; if (visible[i] && match[i]) dot(list[j]); }
      ctx.fill();
    }
    ctx.globalAlpha = 1;
    if (nSelected) {
      ctx.strokeStyle = "rgba(255,255,255,0.85)";
      ctx.lineWidth = 1.2;
      ctx.beginPath();
      for (let i = 0; i < N; i++) {
        if (!selected[i] || !visible[i]) continue;
        const px = sx(X[i]), py = sy(Y[i]);
        if (px < -9 || px > W + 9 || py < -9 || py > H + 9) continue;
        ctx.moveTo(px + r + 1.5, py); ctx.arc(px, py, r + 1.5, 0, 6.2832);
      }
      ctx.stroke();
    }
    ring(hover, "rgba(255,255,255,0.9)", r + 3, 1.5);
    ring(current, "#ffffff", r + 4, 2.5);
    drawLabels();
    if (lassoPath && lassoPath.length > 1) {
      ctx.beginPath();
      lassoPath.forEach(([px, py], k) => (k ? ctx.lineTo(px, py) : ctx.moveTo(px, py)));
      ctx.closePath();
      ctx.fillStyle = "rgba(122, 162, 255, 0.12)";
      ctx.fill();
      ctx.strokeStyle = "#7aa2ff";
      ctx.lineWidth = 1;
      ctx.stroke();
    }
  }
  function ring(i, color, rad, lw) {
    if (i < 0) return;
    ctx.beginPath();
    ctx.arc(sx(X[i]), sy(Y[i]), rad, 0, 6.2832);
    ctx.strokeStyle = "rgba(0,0,0,0.6)"; ctx.lineWidth = lw + 2; ctx.stroke();
    ctx.strokeStyle = color; ctx.lineWidth = lw; ctx.stroke();
  }

  // ---------------------------------------------------------------- labels
  const widthCache = new Map();
  function measure(font, text) {
    const key = font + "\u0000" + text;
    let w = widthCache.get(key);
    if (w === undefined) { ctx.font = font; w = ctx.measureText(text).width; widthCache.set(key, w); }
    return w;
  }
  // A long name on `lines` lines (2, or 3 for a last try) of the least width.
  function wrap(name, font, lines = 2) {
    return name.length <= 22 ? [name] : split(name.split(" "), font, lines);
  }
  function split(words, font, lines) {
    if (lines < 2 || words.length < 2) return [words.join(" ")];
    let best = null, bestW = Infinity;
    for (let k = 1; k < words.length; k++) {
      const out = [words.slice(0, k).join(" "), ...split(words.slice(k), font, lines - 1)];
      const w = Math.max(...out.map((l) => measure(font, l)));
      if (w < bestW) { bestW = w; best = out; }
    }
    return best;
  }
  const maxThemeSize = Math.max(1, ...themes.map((t) => t.size));
  // Each theme's topics, largest first: their anchors are the theme label's other places.
  const themeTopics = themes.map(() => []);
  topics.forEach((t, j) => { if (t.parent >= 0) themeTopics[t.parent].push(j); });
  for (const list of themeTopics) list.sort((a, b) => topics[b].size - topics[a].size);
  const maxTopicSize = Math.max(1, ...topics.map((t) => t.size));
  const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';

  function labelCandidates() {
    const k = zoomLevel();
    const th = [], tp = [];
    if (k < 6) {
      themes.forEach((t, i) => {
        if (hiddenTheme[i] || !themeVisible[i]) return;
        const px = 13 + Math.round(4 * Math.sqrt(t.size / maxThemeSize));
        const shown = themeTopics[i].filter((j) => !hiddenTopic[j] && topicVisible[j]);
        const anchors = [[t.x, t.y], ...shown.map((j) => [topics[j].x, topics[j].y])];
        th.push({ kind: "theme", theme: i, name: t.name, anchors, size: t.size, color: labelColor(i),
          font: `700 ${px}px ${FONT}`, px, upper: true, major: t.size >= MAJOR_SHARE * M });
      });
    }
    // Topic labels join in once each topic has room on screen: few topics show at once,
    // many appear as you zoom in (the greedy placement below keeps them apart).
    const a = mapArea();
    const room = ((a.r - a.l) * (a.b - a.t) * k * k) / Math.max(1, nTp);
    if (room > 25000 || nTh < 2) {
      topics.forEach((t, i) => {
        if (hiddenTopic[i] || !topicVisible[i] || (t.parent >= 0 && hiddenTheme[t.parent])) return;
        const px = 11 + Math.round(2 * Math.sqrt(t.size / maxTopicSize));
        tp.push({ kind: "topic", name: t.name, anchors: [[t.x, t.y]], size: t.size, color: "#eef1f6",
          font: `600 ${px}px ${FONT}`, px, upper: false });
      });
    }
    const bySize = (a, b) => b.size - a.size;
    th.sort(bySize); tp.sort(bySize);
    return k < 2.6 ? th.concat(tp) : tp.concat(th);
  }

  function obstacles() {
    const out = [];
    for (const id of ["topbar", "sidebar", "panel", "controls", "hint"]) {
      const e = $(id);
      if (e.hidden) continue;
      const b = e.getBoundingClientRect();
      if (b.width && b.height) out.push({ x: b.left, y: b.top, w: b.width, h: b.height });
    }
    return out;
  }
  const overlaps = (a, b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

  // Where a label may go, in steps of (half its width, half its height) from an anchor:
  // centred on it, else beside it (the box touches it). A topic has one anchor; a theme has
  // its own (its largest dense region), then its topics' (largest first), each on an island of
  // its papers, and tries rings further out too, but only where the middle of the label lies
  // on (or within NEXT_TO pixels of) papers of its theme: half a wide label's width away can be
  // another theme's island. A theme with >= MAJOR_SHARE of the papers also tries a smaller
  // font, then three lines, before giving up.
  const MAJOR_SHARE = 0.03;
  const NEXT_TO = 4;
  const DIRS = [[0, -1], [0, 1], [1, 0], [-1, 0], [1, -1], [-1, -1], [1, 1], [-1, 1]];
  const NEAR = [[0, 0], ...DIRS];
  const steps = ([dx, dy]) => Math.max(Math.abs(dx), Math.abs(dy));
  const FAR = []; // every step of rings 2 and 3, the nearer first
  for (let dx = -3; dx <= 3; dx++) for (let dy = -3; dy <= 3; dy++) if (steps([dx, dy]) > 1) FAR.push([dx, dy]);
  FAR.sort((a, b) => steps(a) - steps(b) || Math.hypot(...a) - Math.hypot(...b));
  function labelFits(box, placed, blocked) {
    if (box.x < 2 || box.y < 2 || box.x + box.w > W - 2 || box.y + box.h > H - 2) return false;
    return !blocked.some((o) => overlaps(box, o)) && !placed.some((p) => overlaps(box, p.box));
  }
  // Whether a shown paper of theme `t` lies in the box (screen pixels) or within NEXT_TO of it.
  function onTheme(box, t) {
    const x0 = wx(box.x - NEXT_TO), x1 = wx(box.x + box.w + NEXT_TO);
    const y0 = wy(box.y + box.h + NEXT_TO), y1 = wy(box.y - NEXT_TO);
    const col = (x) => clamp(Math.floor(((x - minX) / spanX) * G), 0, G - 1);
    const row = (y) => clamp(Math.floor(((y - minY) / spanY) * G), 0, G - 1);
    for (let cy = row(y0); cy <= row(y1); cy++) {
      for (let cx = col(x0); cx <= col(x1); cx++) {
        const c = cx + cy * G;
        for (let k = cellStart[c]; k < cellStart[c + 1]; k++) {
          const i = cellItems[k];
          if (TH[i] === t && visible[i] && X[i] >= x0 && X[i] <= x1 && Y[i] >= y0 && Y[i] <= y1) return true;
        }
      }
    }
    return false;
  }
  function placeLabel(c, placed, blocked) {
    const text = c.upper ? c.name.toUpperCase() : c.name;
    const lines = wrap(text, c.font, c.lines);
    const lh = Math.round(c.px * 1.2);
    const w = Math.max(...lines.map((l) => measure(c.font, l) + (c.upper ? 0.6 * l.length : 0)));
    const h = lh * lines.length;
    for (const [x, y] of c.anchors) {
      for (const [dx, dy] of c.kind === "theme" ? [...NEAR, ...FAR] : NEAR) {
        const px = sx(x) + dx * (w / 2 + 6), py = sy(y) + dy * (h / 2 + 4);
        const box = { x: px - w / 2 - 4, y: py - h / 2 - 3, w: w + 8, h: h + 6 };
        if (!labelFits(box, placed, blocked)) continue;
        const middle = { x: px - w / 4, y: box.y, w: w / 2, h: box.h };
        if (steps([dx, dy]) > 1 && !onTheme(middle, c.theme)) continue;
        return { name: c.name, kind: c.kind, box, lines, c, px, py, lh };
      }
    }
    return null;
  }
  function drawLabels() {
    const placed = [];
    const blocked = obstacles();
    for (const c of labelCandidates()) {
      let p = placeLabel(c, placed, blocked);
      if (!p && c.major) {
        const px = Math.max(10, c.px - 4);
        const smaller = { ...c, px, font: c.font.replace(/\d+px/, `${px}px`) };
        p = placeLabel(smaller, placed, blocked) || placeLabel({ ...smaller, lines: 3 }, placed, blocked);
      }
      if (p) placed.push(p);
    }
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.lineJoin = "round";
    for (const p of placed) {
      ctx.font = p.c.font;
      if ("letterSpacing" in ctx) ctx.letterSpacing = p.c.upper ? "0.6px" : "0px";
      p.lines.forEach((line, j) => {
        const y = p.py + (j - (p.lines.length - 1) / 2) * p.lh;
        ctx.strokeStyle = "rgba(8,10,14,0.88)";
        ctx.lineWidth = p.c.upper ? 4.5 : 4;
        ctx.strokeText(line, p.px, y);
        ctx.fillStyle = p.c.color;
        ctx.fillText(line, p.px, y);
      });
    }
    if ("letterSpacing" in ctx) ctx.letterSpacing = "0px";
    placedLabels = placed;
  }

  // ---------------------------------------------------------------- hit testing
  function pick(px, py, radiusPx) {
    if (!N) return -1;
    const rad = radiusPx == null ? Math.max(pointRadius() + 3, 6) : radiusPx;
    const rw = rad / view.scale, x = wx(px), y = wy(py);
    const cx0 = clamp(Math.floor(((x - rw - minX) / spanX) * G), 0, G - 1);
    const cx1 = clamp(Math.floor(((x + rw - minX) / spanX) * G), 0, G - 1);
    const cy0 = clamp(Math.floor(((y - rw - minY) / spanY) * G), 0, G - 1);
    const cy1 = clamp(Math.floor(((y + rw - minY) / spanY) * G), 0, G - 1);
    let best = -1, bestD = rad * rad;
    for (let cy = cy0; cy <= cy1; cy++) {
      for (let cx = cx0; cx <= cx1; cx++) {
        const c = cx + cy * G;
        for (let k = cellStart[c]; k < cellStart[c + 1]; k++) {
          const i = cellItems[k];
          if (!active(i)) continue;
          const dx = sx(X[i]) - px, dy = sy(Y[i]) - py, d = dx * dx + dy * dy;
          if (d <= bestD) { bestD = d; best = i; }
        }
      }
    }
    return best;
  }

  // ---------------------------------------------------------------- tooltip
  const tooltip = $("tooltip");
  function pathNodes(i, dotted) {
    const frag = document.createDocumentFragment();
    if (dotted) {
      const d = el("span", "dot");
      d.style.background = colors[thSlot(i)];
      frag.append(d);
    }
    const th = TH[i] >= 0 ? themes[TH[i]].name : "Unassigned";
    const tp = TP[i] >= 0 ? topics[TP[i]].name : "no topic";
    frag.append(document.createTextNode(`${th} \u203a ${tp}`));
    return frag;
  }
  function showTooltip(i, px, py) {
    $("tooltip-title").textContent = D.t[i] || "(untitled)";
    const p = $("tooltip-path");
    p.textContent = "";
    p.append(pathNodes(i, true));
    tooltip.hidden = false;
    const tw = tooltip.offsetWidth, th = tooltip.offsetHeight;
    const left = px + 14 + tw > W - 8 ? px - 14 - tw : px + 14;
    const top = py + 14 + th > H - 8 ? py - 14 - th : py + 14;
    tooltip.style.left = `${Math.max(4, left)}px`;
    tooltip.style.top = `${Math.max(4, top)}px`;
  }
  function hideTooltip() {
    tooltip.hidden = true;
    if (hover >= 0) { hover = -1; requestDraw(); }
  }

  // ---------------------------------------------------------------- panel
  const panel = $("panel");
  function selectPaper(i, how) {
    if (i < 0 || i >= N) return false;
    current = i;
    const path = $("panel-path");
    path.textContent = "";
    path.append(pathNodes(i, true));
    $("panel-title").textContent = D.t[i] || "(untitled)";
    const meta = $("panel-meta");
    meta.textContent = "";
    const bits = [];
    if (YM[i] >= 0) bits.push(document.createTextNode(D.months[YM[i]]));
    const ax = arxivOf(i);
    if (ax && /^[A-Za-z0-9.\-/]+$/.test(ax)) {
      const a = el("a", null, `arXiv:${ax}`);
      a.href = ARXIV_ABS + ax;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      bits.push(a);
    } else if (!ax) {
      bits.push(document.createTextNode(String(D.id[i])));
    }
    bits.forEach((b, k) => { if (k) meta.append(" \u00b7 "); meta.append(b); });
    $("panel-abstract").textContent = D.a[i];
    $("panel-short").hidden = !shortened[i];
    const list = $("panel-related");
    list.textContent = "";
    const head = $("panel-related-head");
    head.textContent = "";
    if (TP[i] >= 0) {
      const same = [];
      for (let j = 0; j < N; j++) if (j !== i && TP[j] === TP[i]) same.push(j);
      same.sort((a, b) => (X[a] - X[i]) ** 2 + (Y[a] - Y[i]) ** 2 - (X[b] - X[i]) ** 2 - (Y[b] - Y[i]) ** 2);
      head.textContent = same.length ? `Also in \u201c${topics[TP[i]].name}\u201d (${same.length})` : "";
      for (const j of same.slice(0, 40)) {
        const b = el("button", null, D.t[j] || "(untitled)");
        b.type = "button";
        b.addEventListener("click", () => selectPaper(j, "related"));
        const li = el("li");
        li.append(b);
        list.append(li);
      }
    }
    panel.hidden = false;
    panel.scrollTop = 0;
    if (how === "related" || how === "api") ensureOnScreen(i, how === "related");
    requestDraw();
    return true;
  }
  function ensureOnScreen(i, animate) {
    const a = mapArea(), px = sx(X[i]), py = sy(Y[i]);
    if (px > a.l + 20 && px < a.r - 20 && py > a.t + 20 && py < a.b - 20) return;
    const ox = (a.l + a.r) / 2 - W / 2, oy = (a.t + a.b) / 2 - H / 2;
    const t = { cx: X[i] - ox / view.scale, cy: Y[i] + oy / view.scale, scale: view.scale };
    if (animate) animateTo(t); else { Object.assign(view, t); requestDraw(); }
  }
  function closePanel() {
    panel.hidden = true;
    current = -1;
    requestDraw();
  }
  $("panel-close").addEventListener("click", closePanel);

  // ---------------------------------------------------------------- legend
  const themeBoxes = [];
  const topicRows = [];
  function legendRow(kind, name, count, color, onToggle, onZoom) {
    const row = el("div", `lg-row ${kind}`);
    row.setAttribute("role", "treeitem");
    const cb = el("input");
    cb.type = "checkbox";
    cb.checked = true;
    cb.setAttribute("aria-label", `Show ${name}`);
    cb.addEventListener("change", () => onToggle(cb.checked));
    const sw = el("span", "lg-swatch");
    sw.style.background = color;
    const nm = el("button", "lg-name", name);
    nm.type = "button";
    nm.title = `${name}: zoom to its papers`;
    nm.addEventListener("click", onZoom);
    row.append(cb, sw, nm, el("span", "lg-count", count.toLocaleString("en-US")));
    return { row, cb };
  }
  const papersOf = (test) => {
    const out = [], fallback = [];
    for (let i = 0; i < N; i++) if (test(i)) { fallback.push(i); if (visible[i]) out.push(i); }
    return out.length ? out : fallback;
  };
  function buildLegend() {
    const root = $("legend");
    const themeCount = new Int32Array(nTh + 1), topicCount = new Int32Array(nTp + 1);
    if (M > N) { // counts of all papers, not of the drawn sample
      themes.forEach((t, k) => { themeCount[k] = t.size; });
      topics.forEach((t, k) => { topicCount[k] = t.size; });
      themeCount[nTh] = topicCount[nTp] = D.unassigned;
    } else for (let i = 0; i < N; i++) { themeCount[thSlot(i)]++; topicCount[tpSlot(i)]++; }
    const order = themes.map((_, t) => t).sort((a, b) => themeCount[b] - themeCount[a]);
    for (const t of order) {
      const wrapDiv = el("div");
      const kids = el("div", "lg-children");
      kids.hidden = true;
      const { row, cb } = legendRow("theme", themes[t].name, themeCount[t], colors[t], (on) => {
        hiddenTheme[t] = on ? 0 : 1;
        if (on) for (const r of topicRows) if (r.theme === t) { hiddenTopic[r.k] = 0; r.cb.checked = true; r.row.classList.remove("off"); }
        row.classList.toggle("off", !on);
        syncTheme(t);
        refilter();
      }, () => zoomToPapers(papersOf((i) => TH[i] === t), true));
      const toggle = el("button", "lg-toggle", "\u25b8");
      toggle.type = "button";
      toggle.setAttribute("aria-label", "Show topics");
      toggle.addEventListener("click", () => {
        kids.hidden = !kids.hidden;
        toggle.textContent = kids.hidden ? "\u25b8" : "\u25be";
      });
      row.prepend(toggle);
      themeBoxes[t] = { cb, row };
      const mine = topics.map((_, k) => k).filter((k) => topics[k].parent === t);
      mine.sort((a, b) => topicCount[b] - topicCount[a]);
      for (const k of mine) {
        const r = legendRow("topic", topics[k].name, topicCount[k], colors[t], (on) => {
          hiddenTopic[k] = on ? 0 : 1;
          r.row.classList.toggle("off", !on);
          syncTheme(t);
          refilter();
        }, () => zoomToPapers(papersOf((i) => TP[i] === k), true));
        topicRows.push({ ...r, k, theme: t });
        kids.append(r.row);
      }
      if (!mine.length) toggle.style.visibility = "hidden";
      wrapDiv.append(row, kids);
      root.append(wrapDiv);
    }
    const orphans = topics.map((_, k) => k).filter((k) => topics[k].parent < 0);
    for (const k of orphans) {
      const r = legendRow("theme", topics[k].name, topicCount[k], GREY, (on) => {
        hiddenTopic[k] = on ? 0 : 1; r.row.classList.toggle("off", !on); refilter();
      }, () => zoomToPapers(papersOf((i) => TP[i] === k), true));
      r.row.prepend(el("span", "lg-toggle"));
      topicRows.push({ ...r, k, theme: -1 });
      root.append(r.row);
    }
    const unassigned = themeCount[nTh] + topicCount[nTp] > 0;
    if (unassigned) {
      const n = M > N ? D.unassigned : (() => { let c = 0; for (let i = 0; i < N; i++) if (TH[i] < 0 || TP[i] < 0) c++; return c; })();
      const r = legendRow("theme", "Unassigned", n, GREY, (on) => {
        hiddenTheme[nTh] = hiddenTopic[nTp] = on ? 0 : 1; r.row.classList.toggle("off", !on); refilter();
      }, () => zoomToPapers(papersOf((i) => TH[i] < 0 || TP[i] < 0), true));
      r.row.prepend(el("span", "lg-toggle"));
      themeBoxes[nTh] = r;
      root.append(r.row);
    }
  }
  function syncTheme(t) {
    const box = themeBoxes[t];
    if (!box) return;
    const mine = topicRows.filter((r) => r.theme === t);
    const off = mine.filter((r) => hiddenTopic[r.k]).length;
    box.cb.indeterminate = !hiddenTheme[t] && off > 0 && off < mine.length;
    box.cb.checked = !hiddenTheme[t] && (off < mine.length || !mine.length);
  }
  // Collapsing the side card frees the map under it: at the default view the map is refitted
  // to the larger area; labels never go under a card either way.
  function setCollapsed(on) {
    const side = $("sidebar"), btn = $("sidebar-toggle");
    const atFit = Math.abs(zoomLevel() - 1) < 1e-6;
    side.classList.toggle("collapsed", on);
    btn.setAttribute("aria-expanded", String(!on));
    btn.textContent = on ? "show" : "hide";
    btn.title = on ? "Show the legend" : "Hide the legend (more room for the map)";
    if (atFit) fitAll();
    requestDraw();
  }
  $("sidebar-toggle").addEventListener("click", () => setCollapsed(!$("sidebar").classList.contains("collapsed")));
  $("legend-all").addEventListener("click", () => {
    hiddenTheme.fill(0); hiddenTopic.fill(0);
    themeBoxes.forEach((b) => { if (b) { b.cb.checked = true; b.cb.indeterminate = false; b.row.classList.remove("off"); } });
    topicRows.forEach((r) => { r.cb.checked = true; r.row.classList.remove("off"); });
    setMonthRange(null);
  });

  // ---------------------------------------------------------------- histogram
  const hist = $("hist");
  const hctx = hist.getContext("2d");
  let hW = 0, hH = 64, dragFrom = -1;
  function sizeHistogram() {
    if (!monthSeq.length) return;
    hW = hist.clientWidth || 270;
    hist.width = Math.round(hW * dpr);
    hist.height = Math.round(hH * dpr);
    drawHistogram();
  }
  function drawHistogram() {
    if (!monthSeq.length || !hW) return;
    const counts = new Int32Array(monthSeq.length);
    for (let i = 0; i < N; i++) {
      const m = monthOf(i);
      if (m >= 0 && !hiddenTheme[thSlot(i)] && !hiddenTopic[tpSlot(i)] && match[i]) counts[m]++;
    }
    const max = Math.max(1, ...counts);
    hctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    hctx.clearRect(0, 0, hW, hH);
    const bw = hW / monthSeq.length, gap = bw > 4 ? 1 : 0;
    for (let m = 0; m < monthSeq.length; m++) {
      const h = counts[m] ? Math.max(2, (counts[m] / max) * (hH - 6)) : 0;
      const on = !monthRange || (m >= monthRange[0] && m <= monthRange[1]);
      hctx.fillStyle = on ? "#7aa2ff" : "#39414f";
      hctx.fillRect(m * bw, hH - h, Math.max(1, bw - gap), h);
    }
    const label = $("hist-range");
    let inRange = 0;
    if (monthRange) for (let m = monthRange[0]; m <= monthRange[1]; m++) inRange += counts[m];
    label.textContent = monthRange
      ? `${monthSeq[monthRange[0]]}${monthRange[1] > monthRange[0] ? " \u2013 " + monthSeq[monthRange[1]] : ""} \u00b7 ${inRange.toLocaleString("en-US")} papers`
      : `${monthSeq[0]} \u2013 ${monthSeq[monthSeq.length - 1]} \u00b7 click or drag to filter`;
    $("hist-clear").hidden = !monthRange;
  }
  const monthAt = (e) => clamp(Math.floor(((e.clientX - hist.getBoundingClientRect().left) / hW) * monthSeq.length), 0, monthSeq.length - 1);
  function setMonthRange(r) { monthRange = r; refilter(); }
  hist.addEventListener("pointerdown", (e) => { dragFrom = monthAt(e); hist.setPointerCapture(e.pointerId); });
  hist.addEventListener("pointermove", (e) => {
    if (dragFrom < 0) return;
    const m = monthAt(e);
    monthRange = [Math.min(dragFrom, m), Math.max(dragFrom, m)];
    drawHistogram();
  });
  hist.addEventListener("pointerup", (e) => {
    if (dragFrom < 0) return;
    const m = monthAt(e);
    const r = [Math.min(dragFrom, m), Math.max(dragFrom, m)];
    dragFrom = -1;
    const same = r[0] === r[1] && monthRange && monthRange[0] === r[0] && monthRange[1] === r[1] && !histMoved;
    setMonthRange(same ? null : r);
  });
  let histMoved = false;
  hist.addEventListener("pointerdown", () => { histMoved = false; });
  hist.addEventListener("pointermove", () => { if (dragFrom >= 0) histMoved = true; });
  $("hist-clear").addEventListener("click", () => setMonthRange(null));

  // ---------------------------------------------------------------- box selection + CSV
  function selectBox(ax, ay, bx, by) {
    const x0 = wx(Math.min(ax, bx)), x1 = wx(Math.max(ax, bx));
    const y0 = wy(Math.max(ay, by)), y1 = wy(Math.min(ay, by));
    selected.fill(0);
    nSelected = 0;
    for (let i = 0; i < N; i++) {
      if (active(i) && X[i] >= x0 && X[i] <= x1 && Y[i] >= y0 && Y[i] <= y1) { selected[i] = 1; nSelected++; }
    }
    updateSelection();
    return nSelected;
  }
  // Lasso: a freeform polygon in screen pixels; a paper is in it by the even-odd (ray) rule.
  function selectLasso(path) {
    selected.fill(0);
    nSelected = 0;
    if (path.length >= 3) {
      const poly = path.map(([px, py]) => [wx(px), wy(py)]);
      let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
      for (const [x, y] of poly) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
      for (let i = 0; i < N; i++) {
        const x = X[i], y = Y[i];
        if (!active(i) || x < x0 || x > x1 || y < y0 || y > y1) continue;
        let inside = false;
        for (let a = 0, b = poly.length - 1; a < poly.length; b = a++) {
          const [xa, ya] = poly[a], [xb, yb] = poly[b];
          if ((ya > y) !== (yb > y) && x < ((xb - xa) * (y - ya)) / (yb - ya) + xa) inside = !inside;
        }
        if (inside) { selected[i] = 1; nSelected++; }
      }
    }
    updateSelection();
    return nSelected;
  }
  function clearSelection() { selected.fill(0); nSelected = 0; updateSelection(); }
  function updateSelection() {
    $("selection-info").hidden = nSelected === 0;
    $("selection-count").textContent = `${nSelected.toLocaleString("en-US")} selected`;
    $("csv").textContent = nSelected ? "Download CSV (selected)" : "Download CSV";
    $("bib").textContent = nSelected ? "BibTeX (selected)" : "BibTeX";
    requestDraw();
  }
  $("selection-clear").addEventListener("click", clearSelection);

  function csvField(v, text) {
    let s = v == null ? "" : String(v);
    if (text && /^[=+\-@\t\r]/.test(s)) s = "'" + s; // keep spreadsheets from running formulas
    return '"' + s.replace(/"/g, '""') + '"';
  }
  function csvText() {
    const rows = [["id", "title", "theme", "topic", "year_month", "arxiv_id", "x", "y", "abstract", "abstract_shortened"]];
    for (let i = 0; i < N; i++) {
      if (nSelected ? !(selected[i] && visible[i]) : !active(i)) continue;
      rows.push([
        csvField(D.id[i], true), csvField(D.t[i], true),
        csvField(TH[i] >= 0 ? themes[TH[i]].name : "", true), csvField(TP[i] >= 0 ? topics[TP[i]].name : "", true),
        csvField(YM[i] >= 0 ? D.months[YM[i]] : ""), csvField(arxivOf(i)),
        csvField(X[i]), csvField(Y[i]), csvField(D.a[i], true), csvField(shortened[i] ? "yes" : "no"),
      ]);
    }
    rows[0] = rows[0].map((h) => csvField(h));
    return rows.map((r) => r.join(",")).join("\r\n") + "\r\n";
  }
  // BibTeX of the same papers as the CSV, escaped as taxonomy/export/bib.py escapes them.
  const BIB_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
  const BIB_NAMED = { "\\": "\\textbackslash{}", "~": "\\textasciitilde{}", "^": "\\textasciicircum{}" };
  const BIB_LONE = { "{": "\\textbraceleft{}", "}": "\\textbraceright{}" };
  function bibField(v) {
    const s = String(v == null ? "" : v).split(/\s+/).filter(Boolean).join(" ");
    const open = [], lone = new Set(); // BibTeX counts every brace: lone ones go by name
    for (let i = 0; i < s.length; i++) {
      if (s[i] === "{") open.push(i);
      else if (s[i] === "}") { if (open.length) open.pop(); else lone.add(i); }
    }
    for (const i of open) lone.add(i);
    return s.replace(/[\\{}&%$#_~^]/g, (c, i) => (lone.has(i) ? BIB_LONE[c] : BIB_NAMED[c] || "\\" + c));
  }
  function bibText() {
    const out = [];
    for (let i = 0; i < N; i++) {
      if (nSelected ? !(selected[i] && visible[i]) : !active(i)) continue;
      const arxiv = arxivOf(i), fields = [];
      if (D.t[i]) fields.push(["title", D.t[i]]);
      fields.push(["abstract", D.a[i]]);
      if (YM[i] >= 0) {
        const [year, month] = String(D.months[YM[i]]).split("-");
        fields.push(["year", year], ["month", BIB_MONTHS[Number(month) - 1] || month]);
      }
      if (arxiv) fields.push(["eprint", arxiv], ["archiveprefix", "arXiv"], ["url", ARXIV_ABS + arxiv]);
      const theme = TH[i] >= 0 ? themes[TH[i]].name : "", topic = TP[i] >= 0 ? topics[TP[i]].name : "";
      if (theme && topic) fields.push(["keywords", theme + "; " + topic]);
      if (shortened[i]) fields.push(["note", "abstract shortened in the map"]);
      const key = (arxiv ? "arXiv:" + arxiv : String(D.id[i])).replace(/[^A-Za-z0-9:._-]/g, "_");
      out.push("@misc{" + key + ",\n" + fields.map(([k, v]) => "  " + k + " = {" + bibField(v) + "}").join(",\n") + "\n}\n");
    }
    return out.join("\n");
  }
  function download(parts, type, ext) {
    const url = URL.createObjectURL(new Blob(parts, { type }));
    const a = el("a");
    a.href = url;
    a.download = (String(D.title).replace(/[^\w-]+/g, "-").replace(/^-+|-+$/g, "") || "papers") + ext;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 30000);
  }
  $("csv").addEventListener("click", () => download(["\ufeff", csvText()], "text/csv;charset=utf-8", ".csv"));
  $("bib").addEventListener("click", () => download([bibText()], "application/x-bibtex;charset=utf-8", ".bib"));

  // ---------------------------------------------------------------- map interaction
  let drag = null;
  const selbox = $("selbox");
  const local = (e) => { const r = canvas.getBoundingClientRect(); return [e.clientX - r.left, e.clientY - r.top]; };
  canvas.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    const [px, py] = local(e);
    canvas.setPointerCapture(e.pointerId);
    // shift+drag: box; alt (option) + drag: lasso; plain drag: pan.
    const mode = e.shiftKey ? "box" : e.altKey ? "lasso" : "pan";
    drag = { px, py, cx: view.cx, cy: view.cy, moved: false, mode };
    if (mode === "lasso") lassoPath = [[px, py]];
    hideTooltip();
    canvas.classList.add(mode === "pan" ? "panning" : "selecting");
  });
  canvas.addEventListener("pointermove", (e) => {
    const [px, py] = local(e);
    if (!drag) {
      const i = pick(px, py);
      if (i !== hover) { hover = i; requestDraw(); }
      canvas.classList.toggle("pointing", i >= 0);
      if (i >= 0) showTooltip(i, px, py); else tooltip.hidden = true;
      return;
    }
    if (Math.abs(px - drag.px) + Math.abs(py - drag.py) > 3) drag.moved = true;
    if (!drag.moved) return;
    if (drag.mode === "lasso") {
      const [lx, ly] = lassoPath[lassoPath.length - 1];
      if (Math.abs(px - lx) + Math.abs(py - ly) > 2) { lassoPath.push([px, py]); requestDraw(); }
    } else if (drag.mode === "box") {
      selbox.hidden = false;
      Object.assign(selbox.style, {
        left: `${Math.min(px, drag.px)}px`, top: `${Math.min(py, drag.py)}px`,
        width: `${Math.abs(px - drag.px)}px`, height: `${Math.abs(py - drag.py)}px`,
      });
    } else {
      view.cx = drag.cx - (px - drag.px) / view.scale;
      view.cy = drag.cy + (py - drag.py) / view.scale;
      requestDraw();
    }
  });
  const endDrag = (e) => {
    if (!drag) return;
    const [px, py] = local(e);
    const d = drag;
    drag = null;
    canvas.classList.remove("selecting", "panning");
    selbox.hidden = true;
    const path = lassoPath;
    lassoPath = null;
    if (d.mode === "lasso" && d.moved) selectLasso(path);
    else if (d.mode === "lasso") requestDraw();
    else if (d.mode === "box" && d.moved) selectBox(d.px, d.py, px, py);
    else if (!d.moved && e.type === "pointerup") {
      const i = pick(px, py);
      if (i >= 0) selectPaper(i, "click");
      else if (nSelected) clearSelection();
    }
  };
  canvas.addEventListener("pointerup", endDrag);
  canvas.addEventListener("pointercancel", endDrag);
  canvas.addEventListener("pointerleave", () => { if (!drag) hideTooltip(); });
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    const [px, py] = local(e);
    // Gentle steps: a mouse-wheel notch (deltaY ~100) zooms ~1.16x, never more than 1.2x per
    // event; small trackpad deltas zoom in proportion.
    const dy = e.deltaMode === 1 ? e.deltaY * 33 : e.deltaMode === 2 ? e.deltaY * 400 : e.deltaY;
    zoomAt(px, py, Math.exp(-Math.sign(dy) * Math.min(Math.abs(dy) * 0.0015, 0.18)));
  }, { passive: false });
  canvas.addEventListener("dblclick", (e) => { const [px, py] = local(e); zoomAt(px, py, 2); });
  const centre = () => { const a = mapArea(); return [(a.l + a.r) / 2, (a.t + a.b) / 2]; };
  $("zoom-in").addEventListener("click", () => zoomAt(...centre(), 1.5));
  $("zoom-out").addEventListener("click", () => zoomAt(...centre(), 1 / 1.5));
  $("zoom-reset").addEventListener("click", () => animateTo(fitBox(minX, minY, maxX, maxY)));

  let searchTimer = 0;
  searchBox.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => runSearch(searchBox.value), N > 20000 ? 180 : 60);
  });
  searchBox.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      clearTimeout(searchTimer);
      runSearch(searchBox.value);
      if (tokens.length && nMatch) zoomToPapers(papersOf((i) => match[i] === 1 && visible[i] === 1), true);
    } else if (e.key === "Escape") {
      searchBox.value = ""; runSearch(""); searchBox.blur();
    }
  });
  document.addEventListener("keydown", (e) => {
    if (e.target instanceof HTMLInputElement) return;
    if (e.key === "/") { e.preventDefault(); searchBox.focus(); }
    else if (e.key === "+" || e.key === "=") zoomAt(...centre(), 1.4);
    else if (e.key === "-") zoomAt(...centre(), 1 / 1.4);
    else if (e.key === "Escape") { if (!panel.hidden) closePanel(); else clearSelection(); }
  });
  window.addEventListener("resize", resize);
  function setDensity(on) {
    densityOn = !!densCanvas && on;
    $("density").setAttribute("aria-pressed", String(densityOn));
    requestDraw();
    return densityOn;
  }
  $("density").addEventListener("click", () => setDensity(!densityOn));

  // ---------------------------------------------------------------- test hook + start
  Object.assign(api, {
    pointCount: () => N,
    totalCount: () => M,
    density: (on) => { const r = setDensity(on !== false); draw(); return r; },
    densityShown: () => densityOn,
    pointNear: (x, y, radius) => {
      const r = canvas.getBoundingClientRect();
      const i = pick(x - r.left, y - r.top, radius);
      return i >= 0 ? String(D.id[i]) : null;
    },
    pointIds: () => Array.from({ length: N }, (_, i) => String(D.id[i])),
    visibleCount: () => nVisible,
    matchCount: () => nMatch,
    selectedCount: () => nSelected,
    visibleLabels: () => placedLabels.map((p) => p.name),
    labelBoxes: () => placedLabels.map((p) => ({ name: p.name, kind: p.kind, ...p.box })),
    selectPaper: (id) => selectPaper(index.has(String(id)) ? index.get(String(id)) : -1, "api"),
    currentPaper: () => (current >= 0 ? String(D.id[current]) : null),
    screenToPoint: (x, y) => {
      const r = canvas.getBoundingClientRect();
      const i = pick(x - r.left, y - r.top);
      return i >= 0 ? String(D.id[i]) : null;
    },
    pointToScreen: (id) => {
      if (!index.has(String(id))) return null;
      const i = index.get(String(id)), r = canvas.getBoundingClientRect();
      return { x: r.left + sx(X[i]), y: r.top + sy(Y[i]) };
    },
    search: (text) => { searchBox.value = String(text); return runSearch(text); },
    zoom: (factor) => zoomAt(...centre(), factor),
    selectBox: (x0, y0, x1, y1) => {
      const r = canvas.getBoundingClientRect();
      return selectBox(x0 - r.left, y0 - r.top, x1 - r.left, y1 - r.top);
    },
    selectLasso: (points) => {
      const r = canvas.getBoundingClientRect();
      return selectLasso(points.map(([x, y]) => [x - r.left, y - r.top]));
    },
    csvText,
    bibText,
    redraw: draw,
    collapseSidebar: (on) => setCollapsed(on !== false),
    zoomLevel,
    wheel: (deltaY, deltaMode) => {
      const r = canvas.getBoundingClientRect();
      canvas.dispatchEvent(new WheelEvent("wheel", { deltaY, deltaMode: deltaMode || 0, clientX: r.left + W / 2, clientY: r.top + H / 2, bubbles: true, cancelable: true }));
      return zoomLevel();
    },
  });

  buildLegend();
  $("hist-section").hidden = monthSeq.length === 0;
  $("density").hidden = !densCanvas;
  resize();
  fitAll();
  refilter();
  cancelAnimationFrame(pending);
  pending = 0;
  draw();
  api.readyMs = performance.now();
  api.ready = true;
})();
