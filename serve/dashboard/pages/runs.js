// Runs of the key's tenant, newest first, filtered by status and label;
// refreshed every few seconds while open.

import { get } from '../api.js';
import { h, table, statusBadge, when } from '../dom.js';

const statuses = ['', 'queued', 'running', 'completed', 'failed', 'canceled', 'expired', 'dead'];

export async function render(main, { query }, signal) {
  const status = query.get('status') || '';
  const label = query.get('label') || '';
  const sel = h('select', { name: 'status', 'aria-label': 'status' },
    statuses.map((s) => h('option', { value: s, selected: s === status }, s || 'any status')));
  const lab = h('input', { name: 'label', value: label, placeholder: 'label, e.g. team:a', 'aria-label': 'label' });
  const form = h('form', { class: 'filters' }, sel, lab, h('button', { type: 'submit' }, 'Filter'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    if (sel.value) q.set('status', sel.value);
    if (lab.value.trim()) q.set('label', lab.value.trim());
    location.hash = `#/runs${q.toString() ? `?${q}` : ''}`;
  });
  const body = h('div');
  const more = h('p');
  main.append(h('h1', {}, 'Runs'), form, body, more);
  const cursor = query.get('cursor') || '';
  const q = new URLSearchParams({ limit: query.get('limit') || '50' });
  if (status) q.set('status', status);
  if (label) q.set('label', label);
  if (cursor) q.set('cursor', cursor);
  const load = async () => {
    const page = await get(`/v1/runs?${q}`);
    const first = new URLSearchParams(q);
    first.delete('cursor');
    const next = new URLSearchParams(first);
    if (page.next_cursor) next.set('cursor', page.next_cursor);
    more.replaceChildren(
      cursor ? h('a', { href: `#/runs?${first}` }, '← newest') : null, cursor && page.next_cursor ? ' · ' : null,
      page.next_cursor ? h('a', { href: `#/runs?${next}`, 'data-testid': 'older' }, 'older →') : null);
    const rows = page.items.map((j) => h('tr', { 'data-run': j.run_id },
      h('td', {}, h('a', { href: `#/run/${encodeURIComponent(j.job_id)}` }, j.run_id)),
      h('td', {}, statusBadge(j.status)),
      h('td', {}, j.scenario), h('td', {}, j.priority),
      h('td', {}, (j.labels || []).join(', ')),
      h('td', {}, when(j.submitted_us ?? j.submitted))));
    body.replaceChildren(page.items.length
      ? table(['run', 'status', 'scenario', 'priority', 'labels', 'submitted'], rows, 'runs')
      : h('p', { 'data-testid': 'runs-empty' }, 'No runs match.'));
  };
  await load();
  const timer = setInterval(() => load().catch(() => {}), 3000);
  signal.addEventListener('abort', () => clearInterval(timer));
}
