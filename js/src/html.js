// The offline explorer (bertviz_graph/html): one HTML file, no server. The data stored in the page
// (deflate-compressed JSON, base64) is decoded (the head at once, the rest with the browser's
// DecompressionStream once the first picture is painted) and drawn by the
// notebook widget's own render() over a model that answers from that data (offline.js).

import { colorFor } from "./colour_offline.js";
import { AttentionPanel } from "./attention_offline.js";
import { NeuronsPanel } from "./neurons_offline.js";
import widget, { PANELS } from "./index.js";
import { OfflineModel } from "./offline.js";
import { Composer } from "./offline_compose.js";
import { dotSource, localLayout } from "./dot_offline.js";
import { wrapStack } from "./wrap_offline.js";
import { mountBar } from "./offline_bar.js";
import { strFromU8, unzlibSync } from "fflate";

/** The head (the first picture and what it needs, a few kB): decoded at once, so the picture is in the page
 * before the parser reaches the big block, and before the load event (Firefox's --screenshot takes the page
 * then). DecompressionStream has no synchronous form: fflate's zlib reader. */
function decodeNow(text) {
  const bytes = Uint8Array.from(atob(text.trim()), (c) => c.charCodeAt(0));
  return JSON.parse(strFromU8(unzlibSync(bytes)));
}

async function decode(text) {
  const bytes = Uint8Array.from(atob(text.trim()), (c) => c.charCodeAt(0));
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
  return JSON.parse(await new Response(stream).text());
}

async function main() {
  performance.mark("bvg-start");
  const page = document.getElementById("bvg-page");
  const head = decodeNow(document.getElementById("bvg-head").textContent);
  performance.mark("bvg-decoded");
  const fit = () => Math.max(320, window.innerHeight - 40); // the page's own bar (colour-by) takes ~28 px
  // the rest (every picture, detail and weight preview) is decoded once the first picture is drawn
  let painted;
  // (the bundle runs before the parser has read that block: wait for it)
  const parsed = new Promise((r) => (document.readyState === "loading" ? document.addEventListener("DOMContentLoaded", () => r()) : r()));
  const rest = new Promise((r) => (painted = r)).then(() => parsed).then(() => decode(document.getElementById("bvg-data").textContent));
  const model = new OfflineModel(head, fit(), rest);
  window.addEventListener("resize", () => model.set("height", fit()));
  if (head.sentence) PANELS.push(AttentionPanel, NeuronsPanel); // the page's own tabs: the sentence's maps, neurons
  widget.render({ model, el: page });
  performance.mark("bvg-rendered");
  // painted once the picture is on screen: the widget draws it in a microtask, the browser in the next frame
  await new Promise((r) => requestAnimationFrame(() => r()));
  document.body.setAttribute("data-bvg-paint-ms", String(Math.round(performance.now())));
  painted();
  await model.ready;
  if (model.d.colours) mountBar(page, model, model.d.colours);
  // the page's composer, for tests and benchmarks/html_bench.py (the SVG of any combination, or null)
  window.bvgCompose = (opened, instance) => (model.composer ? model.composer.compose(opened, instance || {}) : null);
  // tests: a combination composed and painted in colour-by `mode` as the page shows it ({svg, legend})
  window.bvgComposeColoured = (opened, instance, mode) => {
    const got = model.composer && model.composer.compose(opened, instance || {});
    return got && model.composedPicture({ composed: got.svg, lv: got.lv }, mode);
  };
  window.bvgColorFor = (vs, hi) => vs.map((v) => colorFor(v, hi, model.d.colours.scale, model.d.colours.none)); // tests
  window.bvgDotPort = (key, result, mh) => {
    // tests: the dot_io port, then wrap.wrap_stack's
    const extra = {};
    const lay = localLayout(key, result, extra);
    return [dotSource(key), lay, wrapStack(key, lay, extra.outY, mh)];
  };
  window.bvgComposeWith = async (data, opened, instance) => {
    const c = new Composer(data); // another model's compose data (tests: bert-base's structure)
    await c.load();
    return c.compose(opened, instance || {});
  };
  document.body.setAttribute("data-bvg-ready", "1");
}

main().catch((e) => {
  const p = document.createElement("pre");
  p.textContent = `error: this explorer could not be read (${e.message || e})\nfix: open it in a current Chromium or Firefox`;
  document.body.appendChild(p);
});
