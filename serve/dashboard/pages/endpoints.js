// Model endpoints: health score, breaker, latency, error rate, last check.
// Requests, cost and a failed check's error come only to operator keys
// (service-wide figures); other keys see a dash.

import { get } from '../api.js';
import { h, table, ms, pct, when, usd } from '../dom.js';

export async function render(main, _params, signal) {
  const body = h('div');
  main.append(h('h1', {}, 'Model endpoints'), body);
  const load = async () => {
    const { items } = await get('/v1/endpoints');
    body.replaceChildren(items.length
      ? table(['endpoint:model', 'breaker', 'score', 'p50', 'p90', 'errors', 'requests', 'cost', 'last check'],
        items.map((e) => h('tr', { 'data-endpoint': `${e.endpoint}:${e.model}` },
          h('td', {}, `${e.endpoint}:${e.model}`),
          h('td', {}, h('span', { class: `badge b-${e.breaker}` }, e.breaker)),
          h('td', {}, e.score.toFixed(2)), h('td', {}, ms(e.latency_p50_ms)), h('td', {}, ms(e.latency_p90_ms)),
          h('td', {}, pct(e.error_rate)), h('td', {}, e.requests === undefined ? '–' : String(e.requests)),
          h('td', {}, e.cost_micro_usd === undefined ? '–' : usd(e.cost_micro_usd)),
          h('td', {}, e.last_check
            ? `${e.last_check.ok ? 'ok' : `failed${e.last_check.error ? `: ${e.last_check.error}` : ''}`} ${when(e.last_check.at)}`
            : '–'))),
        'endpoints')
      : h('p', { 'data-testid': 'endpoints-empty' }, 'No model endpoint was used yet.'));
  };
  await load();
  const timer = setInterval(() => load().catch(() => {}), 5000);
  signal.addEventListener('abort', () => clearInterval(timer));
}
