// A port of bertviz_graph/layout/wrap.py's wrap_stack for TB containers the page laid out itself
// (dot_offline.js): _wrap_tb, _wrap_whole and _clear over the table record [w, h, child_xy, in_border,
// out_border, pieces (flat), piece_lp], same names and order of work, same numbers (Python's rounding).

import { round2, roundInt } from "./pynum_offline.js";

// wrap.py's constants
const MIN_RUN = 3;
const GAP = 48.0;
const LANE = 6.0;
const ROOM = 3 * LANE;
const SIMILAR = 0.1;
const BOX_SLACK = 8.0;
const FIRST_SIMILAR = 0.4;
const SCREEN = [16.0, 10.0];
const MAX_ASPECT = 3.0;

/** wrap._similar (TB): opened frames of about one size (within `tol`), or two collapsed module boxes of one
 * height (a module box's: `mh`, wrap.module_heights as the file stores them) and nearly one width. */
function similar(a, b, mh, tol = SIMILAR) {
  if (a.length === 4 && b.length === 4) return [0, 1].every((i) => Math.abs(a[i] - b[i]) <= tol * Math.max(a[i], b[i]));
  if (a.length === 2 && b.length === 2) return a[1] === b[1] && mh.includes(a[1]) && Math.abs(a[0] - b[0]) <= BOX_SLACK;
  return false;
}

/** wrap._grown: a stack member the user opened something in, next to an unopened one (a frame among
 * collapsed boxes, or a frame at least as big as the others' frames both ways). */
const grown = (a, ref) => a.length === 4 && (ref.length === 2 || (a[0] >= ref[0] && a[1] >= ref[1]));

/** wrap.find_run: the longest chain of equally sized children (any sizes if `loose`), consecutive in child
 * order, each with a piece into the next and placed below it; [] when shorter than MIN_RUN. Members grown by
 * something opened inside them stay in the chain when the members after them resemble those before. */
function findRun(key, lay, mh, loose) {
  const [, , kids, , , pieces] = key;
  if (kids.length < MIN_RUN) return [];
  const xy = lay[2];
  const links = new Set(pieces.filter(([t, h]) => t[0] === "c" && h[0] === "c").map(([t, h]) => `${t[1]},${h[1]}`));
  const linked = (a, b) => links.has(`${a},${b}`);
  const chained = (a, b) => linked(a, b) && xy[b][1] > xy[a][1];
  const segs = [];
  for (let i = 0; i < kids.length; i++) {
    const seg = segs[segs.length - 1];
    if (seg && chained(seg[seg.length - 1], i) && (loose || similar(kids[i], kids[seg[seg.length - 1]], mh))) seg.push(i);
    else segs.push([i]);
  }
  const runs = [segs[0]];
  let k = 1;
  while (k < segs.length) {
    const run = runs[runs.length - 1];
    const ref = kids[run[run.length - 1]];
    const joins = (j) => chained(segs[j - 1][segs[j - 1].length - 1], segs[j][0]);
    let j = k;
    let odd = 0;
    while (!loose && j < segs.length - 1 && joins(j) && segs[j].every((i) => grown(kids[i], ref))) {
      odd += segs[j].length;
      j += 1;
    }
    const regular = j < segs.length ? run.length + segs[j].length : 0;
    if (j > k && regular >= MIN_RUN && 2 * odd <= regular && joins(j) && similar(kids[segs[j][0]], ref, mh)) {
      runs[runs.length - 1] = run.concat(...segs.slice(k, j + 1));
      k = j + 1;
    } else {
      runs.push(segs[k]);
      k += 1;
    }
  }
  let best = runs[0];
  for (const r of runs) if (r.length > best.length) best = r;
  best = [...best];
  if (best.length < MIN_RUN) return [];
  const j = best[best.length - 1] + 1;
  if (!loose && j < kids.length && chained(best[best.length - 1], j) && grown(kids[j], kids[best[best.length - 1]])) best.push(j);
  if (loose) {
    while (best.length > MIN_RUN && best.slice(2).some((m) => linked(best[0], m))) best.shift();
    return best;
  }
  const i = best[0] - 1;
  if (i >= 0 && kids[i].length === 4 && linked(i, best[0]) && xy[i][1] < xy[best[0]][1] &&
      !best.slice(1).some((m) => linked(i, m)) && similar(kids[i], kids[best[0]], mh, FIRST_SIMILAR)) best.unshift(i);
  return best;
}

const add = (p, d) => [round2(p[0] + d[0]), round2(p[1] + d[1])]; // wrap._add
const far = (a, b) => Math.abs(a[0] - b[0]) + Math.abs(a[1] - b[1]) > 0.01; // wrap._far
const points = (flat) => {
  const pts = [];
  for (let i = 0; i < flat.length; i += 2) pts.push([flat[i], flat[i + 1]]);
  return pts;
};

/** wrap._wrap_tb on a table record (TB; `outY`: the out-ports' y, which the record does not keep): [record,
 * outY], the record itself when there is no run or one column fits the screen best. */
function wrapTb(key, lay, outY, mh, screen, loose = false) {
  const run = findRun(key, lay, mh, loose);
  if (!run.length) return [lay, outY];
  const [, , kids, , , pieces] = key;
  const xy = lay[2];
  const lo = (i) => xy[i][0] - kids[i][0] / 2;
  const hi = (i) => xy[i][0] + kids[i][0] / 2;
  const top = xy[run[0]][1] - kids[run[0]][1] / 2;
  const bottom = xy[run[run.length - 1]][1] + kids[run[run.length - 1]][1] / 2;
  const inRun = new Map(run.map((i, k) => [i, k]));
  let others = kids.map((_, i) => i).filter((i) => !inRun.has(i));
  const overlap = (i, m) =>
    Math.min(xy[i][1] + kids[i][1] / 2, xy[m][1] + kids[m][1] / 2) - Math.max(xy[i][1] - kids[i][1] / 2, xy[m][1] - kids[m][1] / 2);
  const beside = others.filter((i) => xy[i][1] + kids[i][1] / 2 > top && xy[i][1] - kids[i][1] / 2 < bottom);
  // another child beside a stack would be overrun by the columns (wrap.py says more)
  if (beside.length && !loose) return [lay, outY];
  const anchor = new Map(beside.map((i) => [i, run.reduce((b, m) => (overlap(i, m) > overlap(i, b) ? m : b))]));
  others = others.filter((i) => !anchor.has(i));
  const padR = Math.max(0.0, lay[0] - Math.max(...run.map(hi)));
  const n = run.length;
  const spans = [];
  pieces.forEach(([t, h], j) => {
    const flat = lay[5][j];
    if (!flat.length) return;
    const xs = flat.filter((_, k) => k % 2 === 0);
    const tp = t[0] === "c" ? (inRun.has(t[1]) ? inRun.get(t[1]) : -2) : t[1] === "in" ? -1 : -2;
    const hp = h[0] === "c" && inRun.has(h[1]) ? inRun.get(h[1]) : -2;
    spans.push([tp, hp, Math.min(...xs), Math.max(...xs)]);
  });
  const place = (rows) => {
    // wrap._wrap_tb.place: shift per column, right edge and height of the columns, the gutters' middles
    const shifts = [];
    const gutters = [];
    let right = 0.0;
    let height = 0.0;
    for (let c = 0; c < Math.ceil(n / rows); c++) {
      const members = run.slice(c * rows, (c + 1) * rows);
      const boxed = [...members, ...[...anchor].filter(([, m]) => members.includes(m)).map(([i]) => i)];
      const xs = [];
      for (const [a, b, x0, x1] of spans) {
        if (c * rows <= b && b < (c + 1) * rows && ((a === -1 && c === 0) || (c * rows <= a && a < (c + 1) * rows))) xs.push(x0, x1);
      }
      const leftC = Math.min(...boxed.map(lo), ...xs);
      const dx = c === 0 ? 0.0 : roundInt(right + GAP - leftC);
      if (c) gutters.push(right + GAP / 2);
      const dy = top - (xy[members[0]][1] - kids[members[0]][1] / 2);
      right = Math.max(...boxed.map(hi), ...xs, ...(c === 0 ? others.map(hi) : [])) + dx;
      height = Math.max(height, ...boxed.map((i) => xy[i][1] + kids[i][1] / 2 + dy - top));
      shifts.push([dx, dy]);
    }
    return [shifts, right, height, gutters];
  };
  const placed = new Map();
  const size = (rows, room = ROOM) => {
    if (!placed.has(rows)) placed.set(rows, place(rows));
    const [, right, height] = placed.get(rows);
    return [Math.max(lay[0], right + padR), lay[1] - (bottom - top) + height + (rows < n ? room : 0.0)];
  };
  const score = (rows) => {
    const [w, h] = size(rows);
    return Math.min(screen[0] / w, screen[1] / h);
  };
  let best = -Infinity;
  for (let r = 1; r <= n; r++) best = Math.max(best, score(r));
  let rows = null;
  let near = Infinity;
  for (let r = n; r >= 1; r--) {
    if (score(r) < 0.99 * best) continue;
    const [w, h] = size(r);
    const d = Math.abs(Math.log(((w / h) * screen[1]) / screen[0]));
    if (d < near) [rows, near] = [r, d]; // Python's min(): the first of equals
  }
  if (rows === n) return [lay, outY];
  const [shiftCol, , height, gutter] = place(rows);
  const cols = shiftCol.length;
  const colOf = new Map(run.map((i, k) => [i, Math.floor(k / rows)]));
  for (const [i, m] of anchor) colOf.set(i, colOf.get(m));
  const newBottom = top + height;
  const rowGap = xy[run[1]][1] - kids[run[1]][1] / 2 - (xy[run[0]][1] + kids[run[0]][1] / 2);
  const half = Math.max(rowGap, 2 * LANE) / 2;
  const inCol = (d) => d[0] === "c" && colOf.has(d[1]);
  const xShift = (d) => (inCol(d) ? shiftCol[colOf.get(d[1])][0] : 0.0);

  // one lane per route through a gutter: a bus (one tail, several heads) shares its lane
  const lanes = new Map();
  const routed = [];
  pieces.forEach(([t, h], j) => {
    if (xShift(t) !== xShift(h)) {
      const g = Math.max(0, (inCol(h) ? colOf.get(h[1]) : cols) - 1);
      const lk = inCol(t) ? `piece ${j}` : JSON.stringify(t);
      if (!lanes.has(g)) lanes.set(g, new Map());
      if (!lanes.get(g).has(lk)) lanes.get(g).set(lk, lanes.get(g).size);
      routed.push([j, g, lk]);
    }
  });
  const belowTops = others.filter((i) => xy[i][1] > bottom).map((i) => xy[i][1] - kids[i][1] / 2);
  const gapBelow = (belowTops.length + outY.length ? Math.min(...belowTops, ...outY) : bottom + ROOM) - bottom;
  const nLanes = Math.max(0, ...[...lanes.values()].map((v) => v.size));
  const room = Math.max(ROOM, 2 * half + (nLanes * LANE) / 2 + 2 * LANE - gapBelow);
  const dS = bottom - newBottom - room; // everything below the stack moves up by this much
  const [wNew, hNew] = size(rows, room).map((v) => Math.ceil(v));
  const shift = (d) => {
    if (d[0] === "p") return d[1] === "in" ? [0.0, 0.0] : [0.0, -dS]; // out-ports stay where the parent expects them
    if (colOf.has(d[1])) return shiftCol[colOf.get(d[1])];
    return xy[d[1]][1] > bottom ? [0.0, -dS] : [0.0, 0.0];
  };
  const off = (g, lk) => (lanes.get(g).get(lk) - (lanes.get(g).size - 1) / 2) * LANE;

  const newPieces = lay[5].map(points);
  const newLp = [...lay[6]];
  pieces.forEach(([t, h], j) => {
    const [st, sh] = [shift(t), shift(h)];
    const pts = points(lay[5][j]);
    const lp = lay[6][j];
    if (st[0] === sh[0] && st[1] === sh[1]) {
      newPieces[j] = pts.map((p) => add(p, st));
      newLp[j] = lp == null ? null : add(lp, st);
    } else if (st[0] === sh[0]) {
      // same column: dot's route, then straight on to where the head went
      const moved = pts.map((p) => add(p, st));
      const end = add(pts[pts.length - 1], sh);
      newPieces[j] = [...moved, ...(far(moved[moved.length - 1], end) ? poly([moved[moved.length - 1], end]).slice(1) : [])];
      newLp[j] = lp == null ? null : add(lp, st);
    }
  });
  const band = top - half; // the free strip above the first row
  const childXy = xy.map((p, i) => add(p, shift(["c", i])));
  const inner = kids.map((k, i) => {
    const [cx, cy] = childXy[i];
    return [cx - k[0] / 2 + 3, cy - k[1] / 2 + 3, cx + k[0] / 2 - 3, cy + k[1] / 2 - 3];
  });
  const blocked = (route, j) => {
    // whether a redrawn route passes through a box it does not end at
    const ends = new Set(pieces[j].slice(0, 2).filter((d) => d[0] === "c").map((d) => d[1]));
    const xs = route.map((p) => p[0]);
    const ys = route.map((p) => p[1]);
    const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    return inner.some((b, i) => b[0] < x1 && b[2] > x0 && b[1] < y1 && b[3] > y0 && !ends.has(i) && through(route, b));
  };
  const redrawn = [];
  for (const [j, gi, lk] of routed) {
    const [t, h] = pieces[j];
    const pts = points(lay[5][j]);
    const a = add(pts[0], shift(t));
    const b = add(pts[pts.length - 1], shift(h));
    const o = off(gi, lk);
    let route;
    if (inCol(t) && inCol(h) && colOf.get(h[1]) > colOf.get(t[1])) {
      // last of a column -> first of the next: down, along the bottom, up the gutter, over, down
      const g = gutter[colOf.get(h[1]) - 1] + o;
      const yb = newBottom + half + o;
      route = [a, [a[0], yb], [g, yb], [g, band + o], [b[0], band + o], b];
    } else if (inCol(h) && colOf.get(h[1]) > 0) {
      // into a moved layer from outside the stack: under its source, or the band, or along the frame's edge
      const g = gutter[colOf.get(h[1]) - 1] + o;
      const above = [...colOf]
        .filter(([i, c]) => c === colOf.get(h[1]) && childXy[i][1] < childXy[h[1]][1])
        .map(([i]) => childXy[i][1] + kids[i][1] / 2);
      const yh = b[1] - Math.min(half, ...above.filter((y) => y < b[1]).map((y) => (b[1] - y) / 2)) + o / 3;
      const ys = [a[1] + half + o / 3, band + o, ...(t[0] === "p" ? [a[1] + LANE / 2] : [])];
      const tries = ys.map((y) => [a, [a[0], y], [g, y], [g, yh], [b[0], yh], b]);
      route = tries.find((r) => !blocked(dedupe(r), j)) || tries[0];
    } else {
      const ym = b[1] - half; // e.g. the last layer to an out-port: under all columns, below their lanes
      route = [a, [a[0], ym], [b[0], ym], b];
    }
    newPieces[j] = poly(dedupe(route));
    newLp[j] = null; // the shape label stays on the routes dot drew
    redrawn.push([j, dedupe(route)]);
  }
  // a redrawn route through a box it does not end at: keep dot's picture rather than draw a wrong one
  if (redrawn.some(([j, r]) => blocked(r, j))) return [lay, outY];
  const out = [wNew, hNew, childXy, lay[3], lay[4], newPieces.map((p) => p.flat()), newLp];
  return [out, outY.map((y) => round2(y + -dS))];
}

/** wrap._wrap_whole: the root still more than MAX_ASPECT long along the flow: its longest chain of children,
 * whatever their sizes, wrapped the same way. */
function wrapWhole(key, lay, outY, mh, screen) {
  if (key[1] !== null || lay[1] <= MAX_ASPECT * lay[0]) return [lay, outY];
  return wrapTb(key, lay, outY, mh, screen, true);
}

/** wrap.wrap_stack (TB) on a table record; `outY`: its out-ports' y (dot_offline.localLayout's `extra`). */
export function wrapStack(key, lay, outY, mh) {
  const [tb, y] = wrapTb(key, lay, outY, mh, SCREEN);
  return clear(key, wrapWhole(key, tb, y, mh, SCREEN)[0]);
}

/** wrap._sample: points along a cubic Bézier path (p0, then c1, c2, p per segment). */
function sample(pts, per = 8) {
  const out = [pts[0]];
  for (let i = 0; i < pts.length - 3; i += 3) {
    const [p0, c1, c2, p3] = pts.slice(i, i + 4);
    for (let k = 1; k <= per; k++) {
      const t = k / per;
      const [a, b, c, d] = [(1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t * t, t ** 3];
      out.push([a * p0[0] + b * c1[0] + c * c2[0] + d * p3[0], a * p0[1] + b * c1[1] + c * c2[1] + d * p3[1]]);
    }
  }
  return out;
}

/** wrap._any_through over one box: whether an axis-parallel polyline passes through the open rectangle (x0, y0, x1, y1). */
function through(route, [x0, y0, x1, y1]) {
  for (let i = 0; i + 1 < route.length; i++) {
    const [[ax, ay], [bx, by]] = [route[i], route[i + 1]];
    if (Math.min(ax, bx) < x1 && Math.max(ax, bx) > x0 && Math.min(ay, by) < y1 && Math.max(ay, by) > y0) return true;
  }
  return false;
}

/** wrap._dedupe (wrap._far: more than 0.01 px apart) */
function dedupe(pts) {
  const out = [pts[0]];
  for (const p of pts.slice(1)) {
    const q = out[out.length - 1];
    if (Math.abs(q[0] - p[0]) + Math.abs(q[1] - p[1]) > 0.01) out.push(p);
  }
  return out;
}

/** wrap._poly: a polyline as a cubic Bézier path, rounded to 0.01 px. */
function poly(pts) {
  const out = [pts[0]];
  for (let i = 0; i + 1 < pts.length; i++) {
    const [a, b] = [pts[i], pts[i + 1]];
    out.push([a[0] + (b[0] - a[0]) / 3, a[1] + (b[1] - a[1]) / 3], [a[0] + (2 * (b[0] - a[0])) / 3, a[1] + (2 * (b[1] - a[1])) / 3], b);
  }
  return out.map(([x, y]) => [round2(x), round2(y)]);
}

/** wrap._clear on a table record [w, h, child_xy, in_border, out_border, pieces (flat), piece_lp]: dot's route
 * of a piece into or out of a child frame's port that passes through a box it does not end at, redrawn
 * orthogonally through the middle of the gap between its ends (when that is clear). */
export function clear(key, lay) {
  const [, , kids, , , pieces] = key;
  const boxes = kids.map((k, i) => {
    const [x, y] = lay[2][i];
    return [x - k[0] / 2 + 3, y - k[1] / 2 + 3, x + k[0] / 2 - 3, y + k[1] / 2 - 3];
  });
  const hits = (j, pts, curve) => {
    // a piece ending at a port of a frame stops on its border: the frame's inside is off limits too
    const ends = new Set(pieces[j].slice(0, 2).filter((d) => d[0] === "c" && d.length === 2).map((d) => d[1]));
    const xs = pts.map((p) => p[0]);
    const ys = pts.map((p) => p[1]);
    const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    const near = boxes.filter((b, i) => !ends.has(i) && b[0] < x1 && b[2] > x0 && b[1] < y1 && b[3] > y0);
    if (!near.length) return false;
    if (!curve) return near.some((b) => through(pts, b));
    return sample(pts).some(([x, y]) => near.some((b) => b[0] < x && x < b[2] && b[1] < y && y < b[3]));
  };
  const flat = lay[5];
  const fresh = [...flat];
  const lp = [...lay[6]];
  let changed = false;
  flat.forEach((f, j) => {
    const pts = [];
    for (let i = 0; i < f.length; i += 2) pts.push([f[i], f[i + 1]]);
    // only pieces into or out of a child frame's port: the S-bends this is for
    if (pieces[j].slice(0, 2).every((d) => d.length !== 4) || pts.length < 4 || !hits(j, pts, true)) return;
    const [a, b] = [pts[0], pts[pts.length - 1]];
    if (b[1] - a[1] < 2) return; // not a downward piece: leave it to dot
    const ym = (a[1] + b[1]) / 2;
    const route = dedupe([a, [a[0], ym], [b[0], ym], b]);
    if (!hits(j, route, false)) {
      const p = poly(route);
      changed = changed || p.length !== pts.length || p.some((v, i) => v[0] !== pts[i][0] || v[1] !== pts[i][1]);
      fresh[j] = p.flat();
      lp[j] = null;
    }
  });
  return changed ? [...lay.slice(0, 5), fresh, lp] : lay;
}
