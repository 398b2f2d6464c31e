// One recorded HTTP exchange against the spec: its operation exists, its
// status is documented, its content type is the documented one, required
// documented headers are there and match their schemas, and its body fits:
// JSON against the response's schema (problem+json also against
// components/schemas/Problem, its status the HTTP status), an event stream
// by checkEventStream.

import { checkEventStream } from "./sse.mjs";
import { describeErrors, escapePointer, isJsonMedia, mediaTypeOf } from "./spec.mjs";

function recordProblem(ex) {
  if (ex === null || typeof ex !== "object" || Array.isArray(ex)) return "not a JSON object";
  if (typeof ex.method !== "string" || !ex.method) return "no method";
  if (typeof ex.path !== "string" || !ex.path.startsWith("/")) return "no path starting with /";
  if (!Number.isInteger(ex.status)) return "no integer status";
  for (const f of ["content_type", "body"])
    if (ex[f] !== undefined && ex[f] !== null && typeof ex[f] !== "string") return `${f} is not a string`;
  if (ex.headers !== undefined && (typeof ex.headers !== "object" || Array.isArray(ex.headers)))
    return "headers is not an object";
  return null;
}

/// Documented media type matching a content type: exact, type/*, */*.
function documentedMedia(content, media) {
  const keys = Object.keys(content);
  const lower = (k) => k.toLowerCase();
  return keys.find((k) => lower(k) === media)
    ?? keys.find((k) => lower(k) === `${media.split("/")[0]}/*`)
    ?? keys.find((k) => k === "*/*");
}

function checkHeaders(spec, ex, resp, problems) {
  const got = ex.headers || {};
  for (const [name, header] of Object.entries(resp.obj.headers || {})) {
    if (name.toLowerCase() === "content-type") continue; // OpenAPI: ignored
    const h = spec.deref(header, `${resp.pointer}/headers/${escapePointer(name)}`);
    const value = got[name.toLowerCase()];
    if (value === undefined) {
      if (h.obj.required) problems.push(`header ${name} is required but missing`);
      continue;
    }
    if (!h.obj.schema) continue;
    const schema = spec.deref(h.obj.schema).obj;
    const numeric = ["integer", "number"].includes(schema?.type) && /^-?[0-9]+(\.[0-9]+)?$/.test(value);
    const validate = spec.validator(`${h.pointer}/schema`);
    if (!validate(numeric ? Number(value) : value))
      problems.push(`header ${name} ${JSON.stringify(value)}: ${describeErrors(validate.errors)}`);
  }
}

function checkJson(spec, ex, media, mediaPointer, mediaObj, problems) {
  let body;
  try {
    body = JSON.parse(ex.body || "");
  } catch (e) {
    problems.push(`body is not JSON (${e.message})`);
    return;
  }
  const checks = [];
  if (mediaObj.schema) checks.push([mediaObj.schema.$ref || mediaPointer, `${mediaPointer}/schema`]);
  const problem = spec.componentSchema("Problem");
  if (media === "application/problem+json" && problem && mediaObj.schema?.$ref !== `#${problem}`)
    checks.push([`#${problem}`, problem]);
  for (const [name, pointer] of checks) {
    const validate = spec.validator(pointer);
    if (!validate(body)) problems.push(`body does not match ${name}: ${describeErrors(validate.errors)}`);
  }
  if (media === "application/problem+json" && Number.isInteger(body?.status) && body.status !== ex.status)
    problems.push(`problem status ${body.status} is not the HTTP status ${ex.status}`);
}

/// { operation: "METHOD template" or null, problems: [string] }.
export function checkExchange(spec, ex) {
  const problems = [];
  const bad = recordProblem(ex);
  if (bad) return { operation: null, problems: [`not an exchange record: ${bad}`] };
  const path = ex.path.split("?")[0];
  const template = spec.matchPath(path);
  if (!template) return { operation: null, problems: ["no path of the spec matches"] };
  const method = ex.method.toLowerCase();
  const methods = spec.methodsOf(template);
  if (!methods.includes(method)) {
    const has = methods.map((m) => m.toUpperCase()).join(", ");
    return { operation: null, problems: [`no operation ${ex.method.toUpperCase()} ${template} (it has ${has})`] };
  }
  const operation = `${method.toUpperCase()} ${template}`;
  const resp = spec.response(template, method, ex.status);
  if (!resp) {
    const documented = Object.keys(spec.doc.paths[template][method].responses || {}).join(", ");
    problems.push(`status ${ex.status} is not documented for ${operation} (documented: ${documented})`);
    return { operation, problems };
  }
  checkHeaders(spec, ex, resp, problems);

  const content = resp.obj.content || {};
  const body = ex.body || "";
  const media = mediaTypeOf(ex.content_type);
  if (Object.keys(content).length === 0) {
    if (body !== "") problems.push(`a body, but ${operation} ${resp.key} documents no content`);
    return { operation, problems };
  }
  const key = documentedMedia(content, media);
  if (key === undefined) {
    problems.push(`content type ${ex.content_type ? JSON.stringify(ex.content_type) : "(none)"} is not ` +
      `the documented one for ${operation} ${resp.key} (${Object.keys(content).join(", ")})`);
    return { operation, problems };
  }
  const mediaPointer = `${resp.pointer}/content/${escapePointer(key)}`;
  if (isJsonMedia(media)) checkJson(spec, ex, media, mediaPointer, content[key], problems);
  else if (media === "text/event-stream")
    for (const p of checkEventStream(body)) problems.push(`event stream: ${p}`);
  return { operation, problems };
}
