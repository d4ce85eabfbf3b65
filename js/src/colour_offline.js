// Colour-by for the combinations the page composes itself: app/context.py color_for over each closed box's
// stored value (bertviz_graph/html/colours.py "values"), with the view's range as AppContext._render takes
// it (lo, hi over the boxes drawn that have a value), to the last digit.

import { roundInt } from "./pynum_offline.js";

const rgb = (s) => s.match(/[0-9.]+/g).slice(0, 3).map(Number); // plotly's unlabel_rgb

/** plotly's sample_colorscale(scale, [t]) for a list of colours (make_colorscale: evenly spaced), as ints
 * (convert_to_RGB_255: half to even). */
function sample(scale, t) {
  const stops = scale.map((_, i) => i * (1.0 / (scale.length - 1)));
  const cols = scale.map((c) => rgb(c).map((x) => x / 255.0));
  let high = stops.findIndex((s) => s >= t); // bisect_left
  if (high < 0) high = stops.length;
  const low = high - 1;
  const at = (i) => (i < 0 ? i + stops.length : i); // Python's negative index
  const interp = (t - stops[at(low)]) / (stops[at(high)] - stops[at(low)]);
  const a = cols[at(low)];
  const b = cols[at(high)];
  return a.map((x, i) => roundInt((x + interp * (b[i] - x)) * 255.0));
}

/** app/context.py color_for: linear from 0 to hi, `none` for no value. */
export function colorFor(v, hi, scale, none) {
  if (v == null || v <= 0) return none;
  const t = hi <= 0 ? 0.0 : Math.min(Math.max(v / hi, 0.0), 1.0);
  return `#${sample(scale, t).map((c) => c.toString(16).padStart(2, "0")).join("")}`;
}

/** {fills, range}: a view's fills in `mode` (colours.py view_fills) from the file's per-box values; range
 * [lo, hi] or null when no box drawn has a value. nodes: the view's [{id, expanded}]. */
export function viewFills(c, mode, nodes) {
  if (!c.index) c.index = new Map(c.ids.map((x, i) => [x, i]));
  const vals = c.values[mode];
  const values = new Map();
  for (const n of nodes) {
    const i = n.expanded ? undefined : c.index.get(n.id);
    const v = i === undefined ? 0 : vals[i];
    if (v > 0) values.set(n.id, v);
  }
  const fills = {};
  if (!values.size) {
    for (const n of nodes) fills[n.id] = c.none;
    return { fills, range: null };
  }
  const vs = [...values.values()];
  const lo = Math.min(...vs);
  const hi = Math.max(...vs);
  for (const n of nodes) fills[n.id] = colorFor(values.get(n.id), hi, c.scale, c.none);
  return { fills, range: [lo, hi] };
}
