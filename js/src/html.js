// The offline explorer (bertviz_graph/html): one HTML file, no server. The data stored in the page
// (deflate-compressed JSON, base64) is decoded with the browser's DecompressionStream and drawn by the
// notebook widget's own render() over a model that answers from that data (offline.js).

import widget from "./index.js";
import { OfflineModel } from "./offline.js";

async function decode(text) {
  const bytes = Uint8Array.from(atob(text.trim()), (c) => c.charCodeAt(0));
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
  return JSON.parse(await new Response(stream).text());
}

async function main() {
  const page = document.getElementById("bvg-page");
  const data = await decode(document.getElementById("bvg-data").textContent);
  const fit = () => Math.max(320, window.innerHeight - 12);
  const model = new OfflineModel(data, fit());
  window.addEventListener("resize", () => model.set("height", fit()));
  widget.render({ model, el: page });
  // ready once the picture is on screen: the widget draws it in a microtask, the browser in the next frame
  await new Promise((r) => requestAnimationFrame(() => r()));
  document.body.setAttribute("data-bvg-paint-ms", String(Math.round(performance.now())));
  document.body.setAttribute("data-bvg-ready", "1");
}

main().catch((e) => {
  const p = document.createElement("pre");
  p.textContent = `error: this explorer could not be read (${e.message || e})\nfix: open it in a current Chromium or Firefox`;
  document.body.appendChild(p);
});
