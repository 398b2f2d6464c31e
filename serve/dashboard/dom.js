// A few DOM helpers: elements are built with textContent, never innerHTML,
// so nothing the API returns can inject markup.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function table(columns, rows, testId) {
  return h('table', { 'data-testid': testId },
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', {}, c)))),
    h('tbody', {}, rows));
}

export const usd = (micro) => `$${(Number(micro || 0) / 1e6).toFixed(4)}`;
export const ms = (v) => (v === null || v === undefined ? '–' : `${Math.round(v)} ms`);
export const pct = (v) => (v === null || v === undefined ? '–' : `${(v * 100).toFixed(1)}%`);
export function when(v) {
  if (v === null || v === undefined || v === 0 || v === '') return '–';
  const d = typeof v === 'number' ? new Date(v / 1000) : new Date(v);
  return Number.isNaN(d.getTime()) ? String(v) : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}
export function duration(msv) {
  if (!msv) return '0 s';
  const s = msv / 1000;
  return s < 120 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

// An API error for people: 403 says which role is needed.
export function errorBox(e) {
  let text = e.message || String(e);
  if (e.status === 403)
    text = `Not allowed with this key: ${text}. Ask for an operator key to do this.`;
  else if (e.status === 404) text = `Not found: ${text}`;
  return h('p', { class: 'error', role: 'alert', 'data-testid': 'error' }, text);
}

export function statusBadge(s) {
  return h('span', { class: `badge s-${s}` }, s);
}
