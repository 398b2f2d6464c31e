// The tenant's jobs queued and running, per priority lane.

import { get } from '../api.js';
import { h, table, duration } from '../dom.js';

export async function render(main, _params, signal) {
  const body = h('div');
  main.append(h('h1', {}, 'Queue'), body);
  const load = async () => {
    const q = await get('/v1/queue');
    body.replaceChildren(
      h('p', { 'data-testid': 'queue-total' },
        `${q.queued} queued, ${q.running} running; the oldest has waited ${duration(q.oldest_wait_ms)}.`),
      table(['priority', 'queued', 'running', 'oldest wait'], q.lanes.map((l) => h('tr', { 'data-lane': l.priority },
        h('td', {}, l.priority), h('td', {}, String(l.queued)), h('td', {}, String(l.running)),
        h('td', {}, l.queued ? duration(l.oldest_wait_ms) : '–'))), 'queue'));
  };
  await load();
  const timer = setInterval(() => load().catch(() => {}), 2000);
  signal.addEventListener('abort', () => clearInterval(timer));
}
