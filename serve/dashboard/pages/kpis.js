// KPI charts from GET /v1/kpis (the JSON of `troupe report --json`, with a
// `series` per hour or day): run duration p50/p90, turns per run, parse
// failures per 100 model calls, retry rate, denials and cost.

import { get } from '../api.js';
import { h, table, usd, duration } from '../dom.js';
import { lineChart } from '../chart.js';

const ranges = { '24h': 'hour', '7d': 'day', '30d': 'day' };

export async function render(main, { query }) {
  const since = ranges[query.get('since')] ? query.get('since') : '24h';
  const bucket = ranges[since];
  const pick = h('select', { name: 'since', 'aria-label': 'since' },
    Object.keys(ranges).map((r) => h('option', { value: r, selected: r === since }, `last ${r}`)));
  pick.addEventListener('change', () => { location.hash = `#/kpis?since=${pick.value}`; });
  main.append(h('h1', {}, 'KPIs ', pick));
  const k = await get(`/v1/kpis?since=${encodeURIComponent(since)}&bucket=${bucket}`);
  const total = (label, v) => h('div', { class: 'tile', 'data-kpi': label }, h('span', { class: 'big' }, v), h('span', {}, label));
  main.append(h('div', { class: 'tiles', 'data-testid': 'kpi-totals' },
    total('runs', String(k.runs)),
    total('run p50', k.run_ms.p50 === null ? '–' : duration(k.run_ms.p50)),
    total('run p90', k.run_ms.p90 === null ? '–' : duration(k.run_ms.p90)),
    total('turns per run p50', k.turns_per_run.p50 ?? '–'),
    total('parse failures / 100 calls', k.parse_failures_per_100_model_calls.toFixed(2)),
    total('retry rate', k.retry_rate.toFixed(3)),
    total('denials', String(k.denials)),
    total('cost', usd(k.cost_micro_usd))));
  const series = k.series || [];
  if (!series.length) {
    main.append(h('p', { 'data-testid': 'kpis-empty' }, 'No runs started in this range.'));
    return;
  }
  const labels = series.map((b) => (bucket === 'hour' ? b.start.slice(11, 16) : b.start.slice(5, 10)));
  const col = (f) => series.map(f);
  main.append(h('div', { class: 'charts', 'data-testid': 'kpi-charts' },
    lineChart({ title: 'run duration (s)', labels, testId: 'chart-duration', format: (v) => v.toFixed(1),
      series: [{ name: 'p50', values: col((b) => (b.run_ms.p50 === null ? null : b.run_ms.p50 / 1000)) },
        { name: 'p90', values: col((b) => (b.run_ms.p90 === null ? null : b.run_ms.p90 / 1000)) }] }),
    lineChart({ title: 'turns per run', labels, testId: 'chart-turns', format: (v) => v.toFixed(1),
      series: [{ name: 'p50', values: col((b) => b.turns_per_run.p50) }, { name: 'p90', values: col((b) => b.turns_per_run.p90) }] }),
    lineChart({ title: 'parse failures per 100 model calls', labels, testId: 'chart-parse', format: (v) => v.toFixed(1),
      series: [{ name: 'rate', values: col((b) => b.parse_failures_per_100_model_calls) }] }),
    lineChart({ title: 'retry rate', labels, testId: 'chart-retry', format: (v) => v.toFixed(2),
      series: [{ name: 'retries per call', values: col((b) => b.retry_rate) }] }),
    lineChart({ title: 'denials', labels, testId: 'chart-denials', format: (v) => (Number.isInteger(v) ? String(v) : v.toFixed(1)),
      series: [{ name: 'denials', values: col((b) => b.denials) }] }),
    lineChart({ title: 'cost (USD)', labels, testId: 'chart-cost', format: (v) => v.toFixed(3),
      series: [{ name: 'cost', values: col((b) => b.cost_micro_usd / 1e6) }] })));
  main.append(h('h2', {}, 'Team phases'), k.phases.length
    ? table(['phase', 'attempts', 'failed', 'p50', 'p90'], k.phases.map((p) => h('tr', {},
      h('td', {}, p.name), h('td', {}, String(p.attempts)), h('td', {}, String(p.failed)),
      h('td', {}, p.ms.p50 === null ? '–' : duration(p.ms.p50)), h('td', {}, p.ms.p90 === null ? '–' : duration(p.ms.p90)))), 'phases')
    : h('p', { class: 'muted' }, 'No team phases in this range.'));
}
