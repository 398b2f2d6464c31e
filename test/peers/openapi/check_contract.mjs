#!/usr/bin/env node
// Checks recorded HTTP exchanges against an OpenAPI 3.1 document.
//
//   node check_contract.mjs [--require-all] SPEC.yaml EXCHANGES.jsonl
//
// EXCHANGES.jsonl holds one JSON object per line, one per exchange:
//   {"method":"POST","path":"/v1/runs/r-12ab/cancel","status":202,
//    "content_type":"application/json","headers":{"retry-after":"1"},
//    "body":"<the raw body text>"}
// path without the query (one is cut off if present), header names in lower
// case, content_type/headers/body optional (absent = none / empty).
//
// The document is validated first (OpenAPI 3.1 by
// @seriousme/openapi-schema-validator, every schema by Ajv against JSON
// Schema 2020-12, path parameters against their templates). Then, per
// exchange: an operation for its path and method, its status documented,
// its content type the documented one (parameters such as charset ignored),
// required documented headers present and matching, the body valid (see
// check_exchange.mjs and sse.mjs). An exchange is named by its line number.
//
// Prints each failure ("exchange LINE: METHOD PATH -> STATUS: what") and
// one summary line "N exchanges, M operations covered (of K)"; operations
// no exchange reached are a warning line, a failure with --require-all.
// Exit 0: all pass; 1: a failure (the document's or an exchange's); 2: bad
// usage, an unreadable file, or the npm packages not installed
// (scripts/openapi-peers.sh; TROUPE_OPENAPI_PEERS names their directory).

import { readFileSync } from "node:fs";
import { checkExchange } from "./check_exchange.mjs";
import { loadPeers } from "./peers.mjs";
import { Spec } from "./spec.mjs";

function usage(why) {
  console.error(`check_contract: ${why}\nusage: node check_contract.mjs [--require-all] SPEC.yaml EXCHANGES.jsonl`);
  process.exit(2);
}

const args = process.argv.slice(2);
const requireAll = args.includes("--require-all");
const files = args.filter((a) => a !== "--require-all");
if (files.length !== 2 || files.some((f) => f.startsWith("--"))) usage("expected two files");
const [specFile, exchangesFile] = files;

let peers;
let lines;
try {
  peers = await loadPeers();
  lines = readFileSync(exchangesFile, "utf8").split("\n");
} catch (e) {
  console.error(`check_contract: ${e.message}`);
  process.exit(2);
}

let spec;
try {
  spec = await Spec.load(specFile, peers);
} catch (e) {
  if (e.code === "ENOENT" || e.code === "EACCES") {
    console.error(`check_contract: ${e.message}`);
    process.exit(2);
  }
  console.log(`spec ${specFile}: ${e.message}`);
  process.exit(1);
}
if (spec.problems.length > 0) {
  for (const p of spec.problems) console.log(`spec ${specFile}: ${p}`);
  console.log(`the spec is not sound: ${spec.problems.length} problem${spec.problems.length === 1 ? "" : "s"}`);
  process.exit(1);
}

let exchanges = 0;
let failures = 0;
const covered = new Set();
lines.forEach((line, i) => {
  if (line.trim() === "") return;
  exchanges += 1;
  let ex;
  let result;
  try {
    ex = JSON.parse(line);
    result = checkExchange(spec, ex);
  } catch (e) {
    result = { operation: null, problems: [e instanceof SyntaxError ? `not JSON (${e.message})` : e.message] };
  }
  if (result.operation) covered.add(result.operation);
  if (result.problems.length === 0) return;
  failures += 1;
  const what = ex && typeof ex === "object" ? `${ex.method} ${ex.path} -> ${ex.status}` : "?";
  for (const p of result.problems) console.log(`exchange ${i + 1}: ${what}: ${p}`);
});

const count = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
const all = spec.operations();
const missing = all.filter((op) => !covered.has(op));
if (missing.length > 0)
  console.log(`${requireAll ? "error" : "warning"}: ${count(missing.length, "operation")} not covered: ${missing.join(", ")}`);
const summary = `${count(exchanges, "exchange")}, ${count(covered.size, "operation")} covered (of ${all.length})`;
const failed = failures > 0 || (requireAll && missing.length > 0);
console.log(failures > 0 ? `${summary}; ${count(failures, "exchange")} ${failures === 1 ? "fails" : "fail"} the contract` : summary);
process.exitCode = failed ? 1 : 0;
