// The picture of a composed view, a port of bertviz_graph/render/svg.py (to_svg with its defaults: title,
// legend, role colours) over compose_offline.js's layout. Same names and the same strings, number for
// number: tests/test_html_compose.py compares this SVG with Python's to_svg(layout_of(view)) byte for byte.
// Text widths come measured from the file (compose_data.py: node records, style_data).

const TEXT = "#1a1a1a";
const SUBTEXT = "#4d4d4d";
const EDGE_LABEL = "#6b6b6b";
const PAGE_PAD = 16.0;
const LEGEND_PX = 11.0;
// layout/measure.py
const LABEL_PX = 12.0;
const SUBLABEL_PX = 10.0;
const EDGE_LABEL_PX = 10.0;
const TITLE_PX = 16.0;
const SUBTITLE_PX = 12.0;
const LINE = 1.25;
const STACK_OFFSET = 4.0;
const PARAM_FOLD = 7.0;
const TITLE_BAR_PAD_X = 8.0;
const TITLE_GAP = 6.0;

const INVALID_XML = /[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/g; // svg._INVALID_XML

/** xml.sax.saxutils.escape after svg._INVALID_XML (svg.esc) */
export const esc = (s) => String(s).replace(INVALID_XML, "").replace(/&/g, "&amp;").replace(/>/g, "&gt;").replace(/</g, "&lt;");

/** xml.sax.saxutils.quoteattr with svg._quote's entities (svg.attr) */
export function attr(s) {
  const d = esc(s).replace(/\n/g, "&#10;").replace(/\r/g, "&#13;").replace(/\t/g, "&#9;");
  if (!d.includes('"')) return `"${d}"`;
  return d.includes("'") ? `"${d.replace(/"/g, "&quot;")}"` : `'${d}'`;
}

/** Python's round() of a float to an int: ties to even */
function roundInt(v) {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 ? 2 * Math.round(v / 2) : r;
}

/** svg._mix: colour moved a fraction t towards other */
export function mix(color, other, t) {
  const a = [1, 3, 5].map((i) => parseInt(color.slice(i, i + 2), 16));
  const b = [1, 3, 5].map((i) => parseInt(other.slice(i, i + 2), 16));
  return `#${a.map((x, i) => roundInt(x + (b[i] - x) * t).toString(16).padStart(2, "0")).join("")}`;
}

/** "%.2f" % v as Python writes it (exact ties such as 0.125 to even) */
function fixed2(v) {
  const t = v * 1000;
  if (Number.isInteger(v * 8) && Number.isInteger(t) && Math.abs(t) % 10 === 5) {
    const lo = Math.trunc(t / 10);
    const k = Math.abs(lo) % 2 === 0 ? lo : lo + Math.sign(t);
    return (k / 100).toFixed(2);
  }
  return v.toFixed(2);
}

const TRAILING = /\.?0+(?![0-9.])/g; // svg._TRAILING
/** svg._f */
export const f = (v) => fixed2(v).replace(TRAILING, "");
const fs = (...vals) => vals.map(f);
/** Python's str() of a float constant (6.0 -> "6.0") where svg.py writes one unformatted */
const pyFloat = (v) => (Number.isInteger(v) ? `${v}.0` : String(v));

/** measure.display_label */
const displayLabel = (r) => (r.count > 1 && !r.label.includes(`×${r.count}`) ? `${r.label} ×${r.count}` : r.label);
const isBold = (r) => r.kind === "group" || r.kind === "series";

function textLines(r, cx, cy) {
  const lh1 = LABEL_PX * LINE;
  const lh2 = r.sub ? SUBLABEL_PX * LINE : 0.0;
  const top = cy - (lh1 + lh2) / 2;
  const weight = isBold(r) ? ' font-weight="bold"' : "";
  const [fcx, fy1, fy2] = fs(cx, top + lh1 / 2 + LABEL_PX * 0.36, top + lh1 + lh2 / 2 + SUBLABEL_PX * 0.36);
  const out = [`<text class="lbl" x="${fcx}" y="${fy1}" text-anchor="middle" font-size="${f(LABEL_PX)}" fill="${TEXT}"${weight}>${esc(displayLabel(r))}</text>`];
  if (r.sub) out.push(`<text class="sub" x="${fcx}" y="${fy2}" text-anchor="middle" font-size="${f(SUBLABEL_PX)}" fill="${SUBTEXT}">${esc(r.sub)}</text>`);
  return out;
}

const left = (b) => b.x - b.w / 2;
const top = (b) => b.y - b.h / 2;

function nodeOpen(n, b, parent) {
  const r = n.rec;
  const par = parent ? ` data-parent=${attr(parent)}` : "";
  const box = fs(left(b), top(b), b.w, b.h).join(",");
  return (
    `<g class="node" data-id=${attr(n.id)}${par} data-box="${box}" data-kind=${attr(r.kind)} data-role=${attr(r.role)} ` +
    `data-expandable="${r.exp}" data-expanded="${n.expanded ? 1 : 0}"><title>${esc(r.tip)}</title>`
  );
}

function frame(n, b, fill, parent) {
  const [x, y, w, h] = [left(b), top(b), b.w, b.h];
  const th = n.rec.title[1];
  const r = 6.0;
  const [fx, fy, fw, fh, fyth, fyr, fxr, fxwr, fxw] = fs(x, y, w, h, y + th, y + r, x + r, x + w - r, x + w);
  return [
    nodeOpen(n, b, parent),
    `<rect x="${fx}" y="${fy}" width="${fw}" height="${fh}" rx="${pyFloat(r)}" fill="${mix(fill, "#ffffff", 0.6)}" stroke="${mix(fill, "#000000", 0.45)}" stroke-width="1"/>`,
    `<path d="M${fx},${fyth} V${fyr} Q${fx},${fy} ${fxr},${fy} H${fxwr} Q${fxw},${fy} ${fxw},${fyr} V${fyth} Z" fill="${fill}" stroke="${mix(fill, "#000000", 0.45)}" stroke-width="1"/>`,
    ...frameTitle(n, b),
    "</g>",
  ];
}

function frameTitle(n, b, halo) {
  const r = n.rec;
  const th = r.title[1];
  const base = top(b) + th / 2 + LABEL_PX * 0.36;
  const tx = left(b) + TITLE_BAR_PAD_X;
  const label = displayLabel(r);
  const spans = [[tx, LABEL_PX, ' font-weight="bold"', TEXT, label]];
  if (r.sub) spans.push([tx + r.tw + TITLE_GAP, SUBLABEL_PX, "", SUBTEXT, r.sub]);
  const out = [];
  const fbase = f(base);
  for (const [x, size, weight, color, text] of spans) {
    const head = `<text x="${f(x)}" y="${fbase}" font-size="${f(size)}"${weight}`;
    if (halo) out.push(`${head} fill="none" stroke="${halo}" stroke-width="4" stroke-linejoin="round">${esc(text)}</text>`);
    out.push(`${head} fill="${color}">${esc(text)}</text>`);
  }
  return out;
}

function leaf(n, b, fill, parent) {
  const r = n.rec;
  let [x, y, w, h] = [left(b), top(b), b.w, b.h];
  const out = [nodeOpen(n, b, parent)];
  let [stroke, sw, rx] = isBold(r) ? ["#4d4d4d", 1.2, 6.0] : ["#8c8c8c", 0.8, 4.0];
  if (r.count > 1) {
    const s = STACK_OFFSET;
    for (const i of [2, 1]) {
      out.push(
        `<rect x="${f(x + i * s)}" y="${f(y + (2 - i) * s)}" width="${f(w - 2 * s)}" height="${f(h - 2 * s)}" rx="${pyFloat(rx)}" ` +
          `fill="${mix(fill, "#ffffff", 0.25 * i)}" stroke="${stroke}" stroke-width="${pyFloat(sw)}"/>`,
      );
    }
    [y, w, h] = [y + 2 * s, w - 2 * s, h - 2 * s];
  }
  let cx;
  if (r.kind === "param" || r.kind === "buffer") {
    const fo = PARAM_FOLD;
    const dash = r.kind === "buffer" ? ' stroke-dasharray="3,2"' : "";
    const [fx, fy, fxwf, fxw, fyf, fyh] = fs(x, y, x + w - fo, x + w, y + fo, y + h);
    out.push(`<path d="M${fx},${fy} H${fxwf} L${fxw},${fyf} V${fyh} H${fx} Z" fill="${fill}" stroke="#9a8c3a" stroke-width="0.9"${dash}/>`);
    out.push(`<path d="M${fxwf},${fy} V${fyf} H${fxw}" fill="${mix(fill, "#000000", 0.12)}" stroke="#9a8c3a" stroke-width="0.9"/>`);
    cx = x + (w - fo) / 2;
  } else {
    if (r.kind === "input" || r.kind === "output") rx = h / 2;
    const [fx, fy, fw, fh, frx] = fs(x, y, w, h, rx);
    out.push(`<rect x="${fx}" y="${fy}" width="${fw}" height="${fh}" rx="${frx}" fill="${fill}" stroke="${stroke}" stroke-width="${pyFloat(sw)}"/>`);
    cx = x + w / 2;
  }
  out.push(...textLines(r, cx, y + h / 2), "</g>");
  return out;
}

/** svg._path_d */
function pathD(pts) {
  let n = 0;
  for (let i = 1; i < pts.length - 2; i += 3) n += 1;
  let d = `M${fixed2(pts[0][0])},${fixed2(pts[0][1])}`;
  for (let k = 0; k < n; k++) {
    const [c1, c2, p] = [pts[1 + 3 * k], pts[2 + 3 * k], pts[3 + 3 * k]];
    d += ` C${fixed2(c1[0])},${fixed2(c1[1])} ${fixed2(c2[0])},${fixed2(c2[1])} ${fixed2(p[0])},${fixed2(p[1])}`;
  }
  return d.replace(TRAILING, "");
}

function edge(e, pts, lp, names, S) {
  const kind = e.kind in S.edgeStyle ? e.kind : "data";
  const [color, width, dash, legend] = S.edgeStyle[kind];
  let tip = `${names.get(e.source) ?? e.source} → ${names.get(e.target) ?? e.target}`;
  if (e.label) tip += `\n${e.label}`;
  if (e.count > 1) tip += `\n${e.count} tensors`;
  if (kind !== "data") tip += `\n${legend}`;
  const out = [`<g class="edge" data-id=${attr(e.id)} data-source=${attr(e.source)} data-target=${attr(e.target)} data-kind=${attr(e.kind)}><title>${esc(tip)}</title>`];
  if (pts && pts.length >= 4) {
    const dashAttr = dash ? ` stroke-dasharray="${dash}"` : "";
    out.push(`<path d="${pathD(pts)}" fill="none" stroke="${color}" stroke-width="${width}"${dashAttr} marker-end="url(#arrow-${kind})"/>`);
  }
  if (lp != null && e.label) {
    const [w, h] = S.labels[e.label];
    const [rx, ry, rw, rh, tx, ty] = fs(lp[0] - w / 2, lp[1] - h / 2, w, h, lp[0], lp[1] + EDGE_LABEL_PX * 0.36);
    out.push(`<rect x="${rx}" y="${ry}" width="${rw}" height="${rh}" rx="2" fill="#ffffff" fill-opacity="0.85"/>`);
    out.push(`<text x="${tx}" y="${ty}" text-anchor="middle" font-size="${f(EDGE_LABEL_PX)}" fill="${EDGE_LABEL}">${esc(e.label)}</text>`);
  }
  out.push("</g>");
  return out;
}

/** svg_layers.diagram_layers (without its memos: the page draws a view once): the frames, edges, closed boxes
 * and frame titles, each as lines in diagram coordinates, a container's shapes in its own coordinates inside
 * <g class="at" transform="translate(x,y)"> (lv.parts: subtree_offline.js). */
function diagramLayers(lv, S, fills) {
  const view = lv.view;
  const byId = new Map(view.nodes.map((n) => [n.id, n]));
  const edges = new Map(view.edges.map((e) => [e.id, e]));
  const names = new Map(view.nodes.map((n) => [n.id, displayLabel(n.rec)]));
  const fill = (n) => fills[n.id] || (S.roleStyle[n.rec.role] || S.roleStyle.other)[0];
  const share = (cid) => {
    const p = lv.parts.get(cid);
    const out = [[], [], [], []]; // svg_layers._own_shapes, then _nested
    for (const [k, x, y, w, h] of p.boxes) {
      const n = byId.get(k);
      const b = { x: x / 100, y: y / 100, w, h };
      const parent = byId.has(n.parent) ? n.parent : null;
      if (p.subs.has(k)) {
        out[0].push(...frame(n, b, fill(n), parent));
        out[3].push(...frameTitle(n, b, fill(n)));
      } else out[2].push(...leaf(n, b, fill(n), parent));
    }
    for (const [eid, pts] of p.routes) {
      const lp = p.labels.get(eid);
      out[1].push(...edge(edges.get(eid), pts.map(([u, v]) => [u / 100, v / 100]), lp && [lp[0] / 100, lp[1] / 100], names, S));
    }
    for (const [k, [sx, sy]] of p.subs) {
      const inner = share(k);
      const at = `<g class="at" transform="translate(${f(sx / 100)},${f(sy / 100)})">`;
      inner.forEach((lines, i) => {
        if (!lines.length) return;
        out[i].push(at);
        for (const x of lines) out[i].push(x); // a loop: a deep view's layer is more lines than push() takes
        out[i].push("</g>");
      });
    }
    return out;
  };
  const out = share(null);
  for (const e of view.edges) if (!lv.routes.has(e.id)) out[1].push(...edge(e, null, null, names, S));
  return out;
}

/** svg.legend_items: (kind, key, text, width) for roles and edge kinds present, in the style table's order */
function legendItems(lv, S) {
  const roles = new Set(lv.view.nodes.map((n) => (n.rec.role in S.roleStyle ? n.rec.role : "other")));
  const items = S.style.roles.filter(([r]) => roles.has(r)).map(([r, , lbl, w]) => ["role", r, lbl, w]);
  const kinds = new Set(lv.view.edges.filter((e) => lv.routes.has(e.id)).map((e) => (e.kind in S.edgeStyle ? e.kind : "data")));
  items.push(...S.style.edges.filter(([k]) => kinds.has(k)).map(([k, , , , lbl, w]) => ["edge", k, lbl, w]));
  return items;
}

/** svg._legend: (svg, width, height) */
function legend(lv, x0, y0, maxW, S) {
  const items = legendItems(lv, S);
  if (!items.length) return [[], 0.0, 0.0];
  const [sw, gap, rowH, colGap] = [22.0, 6.0, LEGEND_PX * 1.7, 18.0];
  const itemW = items.map((it) => sw + gap + it[3]);
  const sum = (xs) => xs.reduce((a, b) => a + b, 0);
  let cols;
  let rows;
  let widths;
  for (cols = items.length; cols > 0; cols--) {
    rows = Math.ceil(items.length / cols);
    widths = [];
    for (let c = 0; c < cols; c++) {
      const part = itemW.slice(c * rows, (c + 1) * rows);
      widths.push(part.length ? Math.max(...part) : 0.0);
    }
    if (sum(widths) + colGap * (cols - 1) <= maxW || cols === 1) break;
  }
  const colX = widths.map((_, c) => sum(widths.slice(0, c)) + colGap * c);
  const out = [`<g class="legend" transform="translate(${f(x0)},${f(y0)})">`];
  out.push(`<text x="0" y="${f(LEGEND_PX)}" font-size="${f(LEGEND_PX)}" font-weight="bold" fill="${TEXT}">Legend</text>`);
  const top0 = LEGEND_PX * 1.8;
  items.forEach(([kind, key, text], i) => {
    const cx = colX[Math.floor(i / rows)];
    const cy = top0 + (i % rows) * rowH;
    if (kind === "role") {
      const fill = S.roleStyle[key][0];
      if (key === "param" || key === "buffer") {
        out.push(`<path d="M${f(cx)},${f(cy)} H${f(cx + sw - 5)} L${f(cx + sw)},${f(cy + 5)} V${f(cy + 12)} H${f(cx)} Z" fill="${fill}" stroke="#9a8c3a" stroke-width="0.9"/>`);
      } else {
        out.push(`<rect x="${f(cx)}" y="${f(cy)}" width="${f(sw)}" height="12" rx="3" fill="${fill}" stroke="#8c8c8c" stroke-width="0.8"/>`);
      }
    } else {
      const [color, width, dash] = S.edgeStyle[key];
      const dashAttr = dash ? ` stroke-dasharray="${dash}"` : "";
      out.push(`<path d="M${f(cx)},${f(cy + 6)} H${f(cx + sw - 1)}" stroke="${color}" stroke-width="${width}"${dashAttr} marker-end="url(#arrow-${key})"/>`);
    }
    out.push(`<text x="${f(cx + sw + gap)}" y="${f(cy + 10)}" font-size="${f(LEGEND_PX)}" fill="${TEXT}">${esc(text)}</text>`);
  });
  out.push("</g>");
  return [out, sum(widths) + colGap * (cols - 1), top0 + rows * rowH];
}

/** The lookups of compose_data.style_data, once per file. */
export function prepareStyle(style, labels) {
  return {
    style,
    labels,
    roleStyle: Object.fromEntries(style.roles.map(([r, c, lbl]) => [r, [c, lbl]])),
    edgeStyle: Object.fromEntries(style.edges.map(([k, c, w, dash, lbl]) => [k, [c, w, dash, lbl]])),
  };
}

/** svg.to_svg(lv, fills=fills) with its other defaults (title, legend); fills: node id -> colour (colour-by),
 * role colours for the others. */
export function toSvg(lv, S, fills = {}) {
  const view = lv.view;
  const st = S.style;
  const parts = [];
  let y = 0.0;
  let width = lv.width;
  if (st.title || st.subtitle) {
    y = PAGE_PAD;
    if (st.title) {
      y += TITLE_PX;
      parts.push(`<text class="title" x="${f(PAGE_PAD)}" y="${f(y)}" font-size="${f(TITLE_PX)}" font-weight="bold" fill="${TEXT}">${esc(st.title)}</text>`);
    }
    if (st.subtitle) {
      y += SUBTITLE_PX * LINE + 2;
      parts.push(`<text class="subtitle" x="${f(PAGE_PAD)}" y="${f(y)}" font-size="${f(SUBTITLE_PX)}" fill="${SUBTEXT}">${esc(st.subtitle)}</text>`);
    }
    width = Math.max(width, st.title_w);
    y += 6;
  }
  const diagramY = y;
  // frames outside-in, then edges, then closed boxes, container by container (svg_layers.py)
  const [frames, lines, leaves, titles] = diagramLayers(lv, S, fills);
  const body = [`<g class="diagram" transform="translate(0,${f(diagramY)})">`, ...frames, ...lines, ...leaves];
  if (titles.length) body.push('<g class="frame-titles" pointer-events="none">', ...titles, "</g>");
  body.push("</g>");
  y = diagramY + lv.height;
  const [leg, lw, lh] = legend(lv, PAGE_PAD, y + 4, Math.max(lv.width, 520.0) - 2 * PAGE_PAD, S);
  if (leg.length) {
    body.push(...leg);
    width = Math.max(width, lw + 2 * PAGE_PAD);
    y += 4 + lh + PAGE_PAD;
  }
  const height = y;
  const head = `<svg xmlns="http://www.w3.org/2000/svg" width="${f(width)}" height="${f(height)}" viewBox="0 0 ${f(width)} ${f(height)}" font-family=${attr(st.font)}>`;
  const bg = `<rect class="background" x="0" y="0" width="${f(width)}" height="${f(height)}" fill="#ffffff"/>`;
  return `${['<?xml version="1.0" encoding="UTF-8"?>', head, st.markers, bg, ...parts, ...body, "</svg>"].join("\n")}\n`;
}
