// Small SVG charts built with DOM calls (no library, no inline style, so
// the page's Content-Security-Policy needs no exception).

const NS = 'http://www.w3.org/2000/svg';

function s(tag, attrs = {}, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

// A line chart of one or more series over the same x labels. `series`:
// [{name, values: [number|null...], cls}]. Nulls are gaps.
export function lineChart({ title, labels, series, format = (v) => String(v), testId }) {
  const W = 520, H = 210, L = 56, R = 24, T = 34, B = 36;
  const all = series.flatMap((x) => x.values).filter((v) => v !== null && v !== undefined);
  // All zero (or nothing): a unit scale, so the axis does not read 0, 0, 0.
  const top = Math.max(0, ...all);
  const max = top > 0 ? top : 1;
  const x = (i) => L + (labels.length <= 1 ? (W - L - R) / 2 : (i * (W - L - R)) / (labels.length - 1));
  const y = (v) => T + (H - T - B) * (1 - v / max);
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': title,
    'data-testid': testId });
  svg.append(s('text', { x: L, y: 14, class: 'chart-title' }, title));
  for (const f of [0, 0.5, 1]) {
    svg.append(s('line', { x1: L, x2: W - R, y1: y(max * f), y2: y(max * f), class: 'grid' }));
    svg.append(s('text', { x: L - 6, y: y(max * f) + 4, class: 'axis', 'text-anchor': 'end' }, format(max * f)));
  }
  const step = Math.max(1, Math.ceil(labels.length / 6));
  labels.forEach((l, i) => {
    if (i % step === 0) svg.append(s('text', { x: x(i), y: H - 12, class: 'axis', 'text-anchor': 'middle' }, l));
  });
  series.forEach((ser, k) => {
    let d = '';
    ser.values.forEach((v, i) => {
      if (v === null || v === undefined) return;
      d += `${d && ser.values[i - 1] !== null && ser.values[i - 1] !== undefined ? 'L' : 'M'}${x(i)},${y(v)}`;
      svg.append(s('circle', { cx: x(i), cy: y(v), r: 3, class: `pt c${k}` }));
    });
    if (d) svg.append(s('path', { d, class: `ln c${k}` }));
    // Legends share the title's line, right-aligned, clear of the plot.
    svg.append(s('text', { x: W - R - 70 * (series.length - 1 - k), y: 14, class: `legend c${k}`, 'text-anchor': 'end' }, ser.name));
  });
  return svg;
}
