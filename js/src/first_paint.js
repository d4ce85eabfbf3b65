// The first graph, painted the moment Dash mounts its host element: the index page carries the picture
// (bertviz_graph/app/first_paint.py) as JSON, so the paint waits for no callback. `paint(picture)` is
// app.js's; the draw callback later finds the same SVG on the canvas and only sets the marks.
// Until then the page shows the same picture as plain SVG (#bv-first-view, drawn by the index page's own
// inline script before React and Dash load); it is removed once the canvas has the graph.

const TAG_ID = "bv-first-picture";
const VIEW_ID = "bv-first-view";

export function paintFirst(hostId, paint) {
  const tag = document.getElementById(TAG_ID);
  let picture = null;
  try {
    picture = tag ? JSON.parse(tag.textContent) : null;
  } catch (_e) {
    picture = null; // the draw callback paints it instead
  }
  const tryPaint = () => {
    if (!document.getElementById(hostId)) return false;
    if (picture) paint(picture);
    const view = document.getElementById(VIEW_ID);
    if (view) view.remove();
    return true;
  };
  if (tryPaint()) return;
  const seen = new MutationObserver(() => {
    if (tryPaint()) seen.disconnect();
  });
  seen.observe(document.documentElement, { childList: true, subtree: true });
}
