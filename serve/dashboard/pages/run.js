// One run: its job and result, its delegation tree (or team phases), and
// its timeline: every journaled event, arriving live until the run ends.

import { get, followEvents, ApiError } from '../api.js';
import { h, statusBadge, when, usd, duration, errorBox } from '../dom.js';

function summary(ev) {
  let d;
  try { d = JSON.parse(ev.data); } catch { return ev.data; }
  if (ev.event === 'end') return `ended without running: ${d.reason}`;
  const b = (d.kind && d[d.kind]) || {}; // the body sits under its kind's name
  const pick = ['turn', 'route', 'agent', 'name', 'tool', 'rule', 'outcome', 'call_id', 'decision', 'status', 'model',
    'endpoint', 'failure', 'phase', 'reason', 'summary', 'text', 'answer', 'error'];
  const parts = [];
  if (Array.isArray(b.tool_calls) && b.tool_calls.length)
    parts.push(`calls: ${b.tool_calls.map((c) => c.name).join(', ')}`);
  if (b.usage) parts.push(`tokens: ${b.usage.input} in, ${b.usage.output} out`);
  for (const k of pick) {
    const v = b[k];
    if (v === undefined || v === null || v === '' || typeof v === 'object') continue;
    parts.push(`${k}: ${String(v).slice(0, 160)}`);
  }
  return parts.join(' · ');
}

function eventTime(ev) {
  try {
    const d = JSON.parse(ev.data);
    return when(d.ts_us ? Number(d.ts_us) : null); // 64-bit integers come as strings
  } catch { return '–'; }
}

function treeNode(n) {
  const label = [n.agent, n.role ? `(${n.role}${n.phase ? `, ${n.phase}` : ''})` : null]
    .filter(Boolean).join(' ');
  return h('li', { 'data-run': n.run_id },
    h('a', { href: `#/run/${encodeURIComponent(n.run_id)}` }, n.run_id), ' ', statusBadge(n.status), ' ',
    label, h('span', { class: 'muted' },
      ` · ${n.turns} turns · ${n.model_calls} model calls · ${n.tool_calls} tool calls · ${usd(n.cost_micro_usd)} · ${duration(n.wall_ms)}`),
    n.children && n.children.length ? h('ul', {}, n.children.map(treeNode)) : null);
}

export async function render(main, { arg }, signal) {
  const id = arg;
  const info = await get(`/v1/runs/${encodeURIComponent(id)}`);
  const job = info.job;
  const run = info.run;
  const status = h('span', { 'data-testid': 'run-status' }, statusBadge(run ? run.status : job.status));
  main.append(h('h1', {}, 'Run ', h('code', {}, run ? run.run_id : job.run_id), ' ', status));
  const facts = h('dl', { class: 'facts' });
  const fact = (k, v) => facts.append(h('dt', {}, k), h('dd', {}, v));
  if (job) {
    fact('job', job.job_id); fact('scenario', job.scenario); fact('task', job.task);
    fact('priority', job.priority); fact('labels', (job.labels || []).join(', ') || '–');
    fact('submitted', when(job.submitted)); fact('attempts', String(job.attempts));
  }
  const usage = h('span');
  const showUsage = (r) => {
    const k = r.kpis;
    usage.textContent = `${k.turns} turns, ${k.model_calls} model calls, ${k.tool_calls} tool calls, `
      + `${k.input_tokens + k.output_tokens} tokens, ${usd(k.cost_micro_usd)}`;
  };
  if (run) {
    fact('agent', run.agent);
    showUsage(run);
    fact('usage', usage);
  }
  const result = h('div', { 'data-testid': 'run-result' });
  const showResult = (r) => {
    if (!r) return;
    result.replaceChildren(h('h2', {}, 'Result'),
      h('p', {}, statusBadge(r.status), ' ', r.reason || ''),
      r.answer ? h('pre', {}, r.answer) : null, r.summary ? h('p', {}, r.summary) : null);
  };
  showResult(info.result);
  const tree = h('div', { 'data-testid': 'run-tree' });
  const loadTree = async () => {
    try {
      const t = await get(`/v1/runs/${encodeURIComponent(id)}/tree`);
      tree.replaceChildren(h('h2', {}, 'Delegation tree'), h('ul', { class: 'tree' }, treeNode(t)));
    } catch (e) {
      if (e instanceof ApiError && e.status === 409) tree.replaceChildren(h('p', { class: 'muted' }, 'Not started yet.'));
      else throw e;
    }
  };
  const rows = h('tbody');
  const timeline = h('table', { 'data-testid': 'timeline' },
    h('thead', {}, h('tr', {}, ['seq', 'time', 'kind', 'what'].map((c) => h('th', {}, c)))), rows);
  const live = h('span', { class: 'live', 'data-testid': 'live' }, 'live');
  main.append(facts, result, tree, h('h2', {}, 'Timeline ', live), timeline);
  await loadTree();
  followEvents(id, (ev) => {
    rows.append(h('tr', { 'data-kind': ev.event, 'data-seq': ev.id },
      h('td', {}, ev.id), h('td', {}, eventTime(ev)), h('td', {}, ev.event), h('td', {}, summary(ev))));
    if (ev.event === 'completion' || ev.event === 'end') {
      live.textContent = 'ended';
      live.className = 'ended';
      get(`/v1/runs/${encodeURIComponent(id)}`).then((now) => {
        status.replaceChildren(statusBadge(now.run ? now.run.status : now.job.status));
        if (now.run) showUsage(now.run);
        showResult(now.result);
      }).catch(() => {});
      loadTree().catch(() => {});
    }
  }, signal).catch((e) => { if (!signal.aborted) main.append(errorBox(e)); });
}
