// The key's tenant: its quotas and how much of each is used.

import { get } from '../api.js';
import { h, table, usd } from '../dom.js';

function meter(used, limit, fmt = String) {
  if (!limit) return h('span', {}, `${fmt(used)} (no limit)`);
  const share = Math.min(1, used / limit);
  return h('span', {},
    h('meter', { min: 0, max: 1, value: share, high: 0.8, optimum: 0 }),
    ` ${fmt(used)} of ${fmt(limit)}`);
}

export async function render(main) {
  const t = await get('/v1/tenant');
  const q = t.quota;
  const u = t.used;
  const row = (name, cell) => h('tr', { 'data-quota': name }, h('td', {}, name), h('td', {}, cell));
  main.append(h('h1', {}, 'Tenant ', h('code', { 'data-testid': 'tenant-name' }, t.tenant)),
    h('p', {}, `Signed in with key ${t.key_id} (role ${t.role}).`),
    table(['quota', 'used'], [
      row('tokens today', meter(u.tokens_today, q.tokens_per_day)),
      row('cost this month', meter(u.cost_this_month_micro_usd, q.cost_micro_usd_per_month, usd)),
      row('jobs queued', meter(u.queued, q.max_queued)),
      row('runs running', meter(u.running, q.max_concurrent_runs)),
      row('submissions per minute', q.submissions_per_minute ? String(q.submissions_per_minute) : 'no limit'),
    ], 'tenant'),
    h('p', { class: 'muted' }, `Days start ${t.day_start}, months ${t.month_start} (UTC). `
      + 'Runs still going count from their end.'));
}
