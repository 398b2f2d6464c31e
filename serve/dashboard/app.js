// The dashboard's shell: the key form, the navigation and a hash router
// (#/runs, #/run/ID, ...). Each page is a module exporting
// `render(main, params, signal)`; `signal` aborts when the user leaves it,
// which ends its live streams and timers.

import { apiKey, setApiKey, clearApiKey, get, ApiError } from './api.js';
import { h, errorBox } from './dom.js';
import * as runs from './pages/runs.js';
import * as run from './pages/run.js';
import * as queue from './pages/queue.js';
import * as tenant from './pages/tenant.js';
import * as endpoints from './pages/endpoints.js';
import * as approvals from './pages/approvals.js';
import * as kpis from './pages/kpis.js';

const pages = { runs, run, queue, tenant, endpoints, approvals, kpis };
const main = document.getElementById('main');
let current = null;

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, query = ''] = raw.split('?');
  // A hand-typed hash may hold a malformed escape: show it as typed.
  const decode = (p) => { try { return decodeURIComponent(p); } catch { return p; } };
  const parts = path.split('/').filter(Boolean).map(decode);
  return { page: parts[0] || 'runs', arg: parts[1], query: new URLSearchParams(query) };
}

function login(message) {
  document.getElementById('nav').hidden = true;
  document.getElementById('logout').hidden = true;
  document.getElementById('who').textContent = '';
  const input = h('input', { type: 'password', id: 'key', name: 'key', autocomplete: 'off',
    placeholder: 'trp_k_…', required: true, 'aria-label': 'API key' });
  const form = h('form', { class: 'login', 'data-testid': 'login' },
    h('h1', {}, 'Sign in with an API key'),
    h('p', {}, 'The key stays in this tab (sessionStorage) and is sent only to this server.'),
    message ? h('p', { class: 'error', role: 'alert' }, message) : null,
    input, h('button', { type: 'submit' }, 'Sign in'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    setApiKey(input.value.trim());
    start();
  });
  main.replaceChildren(form);
  input.focus();
}

async function start() {
  if (!apiKey()) return login();
  try {
    const t = await get('/v1/tenant');
    document.getElementById('who').textContent = `${t.tenant} · ${t.key_id} (${t.role})`;
    document.getElementById('who').dataset.role = t.role;
  } catch (e) {
    clearApiKey();
    return login(e instanceof ApiError && e.status === 401 ? 'That key is unknown or revoked.' : e.message);
  }
  document.getElementById('nav').hidden = false;
  document.getElementById('logout').hidden = false;
  route();
}

function route() {
  if (!apiKey()) return;
  if (current) current.abort();
  current = new AbortController();
  const { page, arg, query } = parseHash();
  for (const a of document.querySelectorAll('#nav a'))
    a.classList.toggle('active', a.getAttribute('href') === `#/${page === 'run' ? 'runs' : page}`);
  const mod = Object.hasOwn(pages, page) ? pages[page] : null; // not `#/constructor`
  main.replaceChildren();
  if (!mod) return main.append(errorBox(new Error(`no page ${page}`)));
  const signal = current.signal;
  mod.render(main, { arg, query }, signal).catch((e) => {
    if (signal.aborted) return;
    if (e instanceof ApiError && e.status === 401) { clearApiKey(); return login('The key was revoked.'); }
    main.append(errorBox(e));
  });
}

document.getElementById('logout').addEventListener('click', () => {
  clearApiKey();
  if (current) current.abort();
  login();
});
window.addEventListener('hashchange', route);
start();
