// Tool calls waiting for a person. Approving or denying needs an operator
// key; a viewer's 403 is shown, explained.

import { get, post } from '../api.js';
import { h, table, when, errorBox } from '../dom.js';

export async function render(main, _params, signal) {
  const body = h('div');
  const msg = h('div', { 'data-testid': 'approval-message' });
  main.append(h('h1', {}, 'Pending approvals'), msg, body);
  const role = document.getElementById('who').dataset.role;
  if (role === 'viewer' || role === 'submitter')
    msg.append(h('p', { class: 'muted' }, `Your key's role (${role}) may look but not decide: that needs an operator key.`));
  const decide = async (a, decision, reason) => {
    msg.replaceChildren();
    try {
      await post(`/v1/approvals/${encodeURIComponent(a.run_id)}/${encodeURIComponent(a.call_id)}`, { decision, reason });
      msg.append(h('p', { class: 'ok', role: 'status' }, `${decision === 'approve' ? 'Approved' : 'Denied'} ${a.tool} in run ${a.run_id}.`));
      await load();
    } catch (e) { msg.append(errorBox(e)); }
  };
  let shown = null; // the listed approvals: redrawn only when they change
  const load = async () => {
    const { items } = await get('/v1/approvals');
    const sig = items.map((a) => `${a.run_id}/${a.call_id}`).join(' ');
    if (sig === shown) return;
    shown = sig;
    body.replaceChildren(items.length
      ? table(['run', 'tool', 'arguments', 'rule', 'asked', 'deadline', ''], items.map((a) => {
        const reason = h('input', { placeholder: 'reason', 'aria-label': 'reason' });
        return h('tr', { 'data-approval': `${a.run_id}/${a.call_id}` },
          h('td', {}, h('a', { href: `#/run/${encodeURIComponent(a.run_id)}` }, a.run_id)),
          h('td', {}, a.tool), h('td', {}, h('code', {}, JSON.stringify(a.args).slice(0, 200))),
          h('td', {}, a.rule), h('td', {}, when(a.requested_us)), h('td', {}, when(a.deadline_us)),
          h('td', { class: 'actions' }, reason,
            h('button', { type: 'button', class: 'approve', onclick: () => decide(a, 'approve', reason.value) }, 'Approve'),
            h('button', { type: 'button', class: 'deny', onclick: () => decide(a, 'deny', reason.value) }, 'Deny')));
      }), 'approvals')
      : h('p', { 'data-testid': 'approvals-empty' }, 'Nothing waits for a decision.'));
  };
  await load();
  const timer = setInterval(() => load().catch(() => {}), 3000);
  signal.addEventListener('abort', () => clearInterval(timer));
}
