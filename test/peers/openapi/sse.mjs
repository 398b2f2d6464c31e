// The syntax of a text/event-stream body (WHATWG HTML, "Server-sent
// events", and docs/openapi.yaml's /v1/runs/{id}/events): events are blocks
// of lines ended by a blank line; a line is a comment (":...") or one of the
// fields id, event, data, retry ("field: value", or a bare field name).
// troupe's own rules on top: an id is an event's seq, so it is a decimal
// number, and ids rise within a stream (no duplicate); every event carries
// data, and its data (the data lines joined by "\n") is one JSON value.
//
// A body must end with a blank line: a client drops an unterminated last
// event, so a server that never finishes one is wrong. A recorder that stops
// reading mid-stream should keep the body up to its last blank line.

const FIELDS = new Set(["id", "event", "data", "retry"]);

/// The problems of an event-stream body, each a string; [] when sound.
export function checkEventStream(body) {
  const problems = [];
  const text = body.startsWith("\uFEFF") ? body.slice(1) : body;
  const lines = text.split(/\r\n|\r|\n/);
  // What follows the last line break: "" when the body ends with one.
  const tail = lines.pop();
  let block = null; // { line, fields: [[name, value, line]] }
  let events = 0;
  let lastId = null;

  const finish = () => {
    if (!block) return;
    const b = block;
    block = null;
    const data = b.fields.filter(([n]) => n === "data").map(([, v]) => v);
    const named = b.fields.some(([n]) => n === "id" || n === "event");
    if (data.length === 0) {
      if (named) problems.push(`event at line ${b.line}: no data: line`);
      return; // comments and retry: only
    }
    events += 1;
    const where = `event ${events} (line ${b.line})`;
    try {
      JSON.parse(data.join("\n"));
    } catch (e) {
      problems.push(`${where}: data is not JSON (${e.message})`);
    }
    for (const [n, v] of b.fields) {
      if (n !== "id") continue;
      if (lastId !== null && BigInt(v) <= lastId)
        problems.push(`${where}: id ${v} does not rise (previous ${lastId})`);
      lastId = BigInt(v);
    }
  };

  lines.forEach((line, i) => {
    const at = i + 1;
    if (line === "") return finish();
    block ??= { line: at, fields: [] };
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const name = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (!FIELDS.has(name)) {
      problems.push(`line ${at}: unknown field ${JSON.stringify(name)}`);
      return;
    }
    if ((name === "id" || name === "retry") && !/^[0-9]+$/.test(value)) {
      problems.push(`line ${at}: ${name} ${JSON.stringify(value)} is not a decimal number`);
      return;
    }
    block.fields.push([name, value, at]);
  });
  if (tail !== "" || block)
    problems.push(`the stream ends inside an event (no blank line after line ${lines.length + (tail !== "" ? 1 : 0)})`);
  return problems;
}
