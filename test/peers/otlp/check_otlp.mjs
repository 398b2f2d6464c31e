// Checks OTLP/JSON files (troupe export --format otlp) against the official
// OTLP protobuf definitions (proto/: opentelemetry-proto v1.11.0) with
// protobufjs, strictly, as the OTLP/HTTP JSON encoding defines it:
// - every key is a field of its message (lowerCamelCase), no unknown ones,
//   at most one member of a oneof (AnyValue);
// - traceId/spanId/parentSpanId are hex (32/16 digits, not all zero), 64-bit
//   integers decimal strings (what troupe writes; the encoding also takes
//   numbers), enums integers of the enum, every other scalar of its type;
// - the message is built, verified, encoded to protobuf bytes, decoded, and
//   converted back: the result must equal the input (a round trip);
// - every parentSpanId names a span of the same trace in the file.
//   node check_otlp.mjs FILE...    exit 0 when every file passes
// The protobufjs package lives in <repo>/build-otlp-peers (scripts/
// otlp-peers.sh); TROUPE_OTLP_PEERS names another directory holding it.

import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const peers = process.env.TROUPE_OTLP_PEERS || resolve(here, "../../../build-otlp-peers");
if (!existsSync(join(peers, "node_modules", "protobufjs"))) {
  console.error(`${join(peers, "node_modules")} is missing: run scripts/otlp-peers.sh`);
  process.exit(2);
}
const protobuf = createRequire(join(peers, "package.json"))("protobufjs");

const root = new protobuf.Root();
root.resolvePath = (_origin, target) => join(here, "proto", target);
root.loadSync("opentelemetry/proto/collector/trace/v1/trace_service.proto");
root.resolveAll();
const Request = root.lookupType(
  "opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest");

const hexIds = { traceId: 32, spanId: 16, parentSpanId: 16 };
const longTypes = new Set(["int64", "uint64", "fixed64", "sfixed64", "sint64"]);

class Invalid extends Error {}
const fail = (path, why) => { throw new Invalid(`${path}: ${why}`); };

function scalarFromJson(field, value, path) {
  const name = field.name;
  if (field.type === "bytes") {
    const n = hexIds[name];
    if (n === undefined) fail(path, "bytes field troupe does not write");
    if (typeof value !== "string" || !/^[0-9a-f]*$/i.test(value) || value.length !== n)
      fail(path, `expected ${n} hex digits, got ${JSON.stringify(value)}`);
    if (/^0+$/.test(value)) fail(path, "an all-zero id is invalid");
    return Buffer.from(value, "hex");
  }
  if (longTypes.has(field.type)) {
    if (typeof value !== "string" || !/^-?[0-9]+$/.test(value))
      fail(path, `a 64-bit integer must be a decimal string, got ${JSON.stringify(value)}`);
    return protobuf.util.Long.fromString(value, field.type.startsWith("u") || field.type === "fixed64");
  }
  switch (field.type) {
    case "string":
      if (typeof value !== "string") fail(path, "expected a string");
      return value;
    case "bool":
      if (typeof value !== "boolean") fail(path, "expected a boolean");
      return value;
    case "double": case "float":
      if (typeof value !== "number") fail(path, "expected a number");
      return value;
    case "int32": case "uint32": case "sint32": case "fixed32": case "sfixed32":
      if (!Number.isInteger(value)) fail(path, "expected an integer");
      if (field.type !== "int32" && field.type !== "sint32" && field.type !== "sfixed32" && value < 0)
        fail(path, "expected an unsigned integer");
      return value;
    default:
      fail(path, `unexpected proto type ${field.type}`);
  }
}

function valueFromJson(field, value, path) {
  const t = field.resolvedType;
  if (t instanceof protobuf.Type) return messageFromJson(t, value, path);
  if (t instanceof protobuf.Enum) {
    if (!Number.isInteger(value) || !Object.values(t.values).includes(value))
      fail(path, `expected an integer of ${t.name}, got ${JSON.stringify(value)}`);
    return value;
  }
  return scalarFromJson(field, value, path);
}

function messageFromJson(type, obj, path) {
  if (obj === null || typeof obj !== "object" || Array.isArray(obj))
    fail(path, `expected a ${type.name} object`);
  const out = {};
  for (const [key, value] of Object.entries(obj)) {
    const field = type.fields[key];
    if (!field) fail(`${path}.${key}`, `no field '${key}' in ${type.fullName}`);
    if (field.repeated) {
      if (!Array.isArray(value)) fail(`${path}.${key}`, "expected an array");
      out[key] = value.map((v, i) => valueFromJson(field, v, `${path}.${key}[${i}]`));
    } else {
      out[key] = valueFromJson(field, value, `${path}.${key}`);
    }
  }
  for (const oneof of type.oneofsArray) {
    const set = oneof.oneof.filter((name) => name in obj);
    if (set.length > 1) fail(path, `more than one of ${oneof.name}: ${set.join(", ")}`);
  }
  return type.fromObject(out);
}

// The decoded message back in OTLP/JSON form, to compare with the input.
function messageToJson(type, msg) {
  const plain = type.toObject(msg, { longs: String, enums: Number, bytes: Array });
  const convert = (t, o) => {
    const out = {};
    for (const [key, value] of Object.entries(o)) {
      const field = t.fields[key];
      const one = (v) => {
        if (field.resolvedType instanceof protobuf.Type) return convert(field.resolvedType, v);
        if (field.type === "bytes") return Buffer.from(v).toString("hex");
        return v;
      };
      out[key] = field.repeated ? value.map(one) : one(value);
    }
    return out;
  };
  return convert(type, plain);
}

function canonical(x) {
  if (Array.isArray(x)) return x.map(canonical);
  if (x && typeof x === "object")
    return Object.fromEntries(Object.keys(x).sort().map((k) => [k, canonical(x[k])]));
  if (typeof x === "string" && /^[0-9A-F]+$/.test(x)) return x.toLowerCase();
  return x;
}

function checkParents(doc) {
  const ids = new Map();
  for (const rs of doc.resourceSpans ?? [])
    for (const ss of rs.scopeSpans ?? [])
      for (const s of ss.spans ?? []) ids.set(s.traceId + "/" + s.spanId, s);
  for (const s of ids.values())
    if (s.parentSpanId && !ids.has(s.traceId + "/" + s.parentSpanId))
      fail(`span ${s.spanId} (${s.name})`, `parent ${s.parentSpanId} is not in the export`);
  return ids.size;
}

let bad = 0;
for (const file of process.argv.slice(2)) {
  try {
    let doc;
    try {
      doc = JSON.parse(readFileSync(file, "utf8"));
    } catch (e) {
      fail(file, `not JSON: ${e.message}`);
    }
    const msg = messageFromJson(Request, doc, "$");
    const why = Request.verify(msg);
    if (why) fail("$", `verify: ${why}`);
    const bytes = Request.encode(msg).finish();
    const back = messageToJson(Request, Request.decode(bytes));
    if (JSON.stringify(canonical(back)) !== JSON.stringify(canonical(doc)))
      fail("$", "the protobuf round trip changed the message:\n" +
        JSON.stringify(canonical(back)).slice(0, 2000));
    const spans = checkParents(doc);
    console.log(`${file}: ok (${spans} spans, ${bytes.length} protobuf bytes)`);
  } catch (e) {
    if (!(e instanceof Invalid)) throw e;
    console.error(`${file}: ${e.message}`);
    bad++;
  }
}
process.exit(bad === 0 ? 0 : 1);
