// Numbers as Python rounds them, for the ports of layout/*.py (dot_offline.js, subtree_offline.js,
// wrap_offline.js): the page's layouts must be the server's to the last digit.

/** Python's round() to an int: ties to even (JS's Math.round sends them up). */
export function roundInt(v) {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 ? 2 * Math.round(v / 2) : r;
}

/** Python's round(x, 2): correctly rounded, ties (exact binary x.xx5: .125, .375 ...) to even. */
export function round2(x) {
  const t = x * 1000;
  if (Number.isInteger(x * 8) && Number.isInteger(t) && Math.abs(t) % 10 === 5) {
    const lo = Math.trunc(t / 10); // |x| * 100 lies between lo and lo ± 1
    const hi = lo + Math.sign(t);
    return (Math.abs(lo) % 2 === 0 ? lo : hi) / 100;
  }
  return Number(x.toFixed(2));
}
