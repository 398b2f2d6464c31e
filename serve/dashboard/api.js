// The /v1 API with the user's key: kept in sessionStorage (gone with the
// tab), sent as `Authorization: Bearer`. Errors are the API's problem+json.

const KEY = 'troupe.key';

export const apiKey = () => sessionStorage.getItem(KEY);
export const setApiKey = (k) => sessionStorage.setItem(KEY, k);
export const clearApiKey = () => sessionStorage.removeItem(KEY);

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

async function call(method, path, body) {
  const headers = { Authorization: `Bearer ${apiKey()}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store',
  });
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = { detail: text }; }
  if (!res.ok) throw new ApiError(res.status, json || {});
  return json;
}

export const get = (path) => call('GET', path);
export const post = (path, body) => call('POST', path, body);

// Follows a run's Server-Sent Events through fetch (EventSource cannot send
// an Authorization header). Calls onEvent({id, event, data}) per event;
// resolves when the stream ends or `signal` aborts it. Reconnects after a
// dropped connection from the last seq seen, so no event is missed or doubled.
export async function followEvents(runId, onEvent, signal) {
  let after = 0;
  for (let attempt = 0; !signal.aborted; ++attempt) {
    let ended = false;
    try {
      const res = await fetch(`/v1/runs/${encodeURIComponent(runId)}/events?after=${after}`, {
        headers: { Authorization: `Bearer ${apiKey()}`, Accept: 'text/event-stream' },
        signal, cache: 'no-store',
      });
      if (!res.ok) {
        const p = await res.json().catch(() => ({}));
        throw new ApiError(res.status, p);
      }
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buf.search(/\r?\n\r?\n/)) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut).replace(/^\r?\n\r?\n/, '');
          const ev = parseBlock(block);
          if (!ev) continue;
          if (ev.id) after = Number(ev.id);
          if (ev.event === 'completion' || ev.event === 'end') ended = true;
          onEvent(ev);
        }
      }
    } catch (e) {
      if (signal.aborted || e instanceof ApiError) throw e;
    }
    if (ended) return;
    await new Promise((r) => setTimeout(r, Math.min(500 * 2 ** attempt, 5000)));
  }
}

function parseBlock(block) {
  const ev = { id: '', event: 'message', data: '' };
  let any = false;
  for (const line of block.split(/\r?\n/)) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'data') { ev.data += (ev.data ? '\n' : '') + value; any = true; }
    else if (field === 'id') ev.id = value;
    else if (field === 'event') ev.event = value;
  }
  return any ? ev : null;
}
