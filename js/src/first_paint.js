// The first graph, painted the moment Dash mounts its host element: the index page carries the picture
// (bertviz_graph/app/first_paint.py) as JSON, so the paint waits for no callback. `paint(picture)` is
// app.js's; the draw callback later finds the same SVG on the canvas and only sets the marks.

const TAG_ID = "bv-first-picture";

export function paintFirst(hostId, paint) {
  const tag = document.getElementById(TAG_ID);
  if (!tag) return;
  let picture;
  try {
    picture = JSON.parse(tag.textContent);
  } catch (_e) {
    return; // the draw callback paints it instead
  }
  const tryPaint = () => {
    if (!document.getElementById(hostId)) return false;
    paint(picture);
    return true;
  };
  if (tryPaint()) return;
  const seen = new MutationObserver(() => {
    if (tryPaint()) seen.disconnect();
  });
  seen.observe(document.documentElement, { childList: true, subtree: true });
}
