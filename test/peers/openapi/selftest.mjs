#!/usr/bin/env node
// CTest's openapi_contract_selftest: runs check_contract.mjs as a child
// process on the fixtures (fixtures/spec.yaml and friends) and checks its
// exit codes and messages, so the checker is shown to fail where it must:
// every exchange of fixtures/invalid.jsonl carries an "expect" field (the
// checker ignores it) naming the failure that line must produce.
// Ends with "N passed, N failed"; exits 1 when a case failed.

import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const fixture = (name) => join(here, "fixtures", name);

function run(args, env = {}) {
  const r = spawnSync(process.execPath, [join(here, "check_contract.mjs"), ...args], {
    encoding: "utf8",
    env: { ...process.env, ...env },
  });
  return { code: r.status, out: r.stdout, err: r.stderr, lines: r.stdout.split("\n").filter(Boolean) };
}

let passed = 0;
let failed = 0;
function check(name, fn) {
  const why = [];
  fn((ok, what) => { if (!ok) why.push(what); });
  if (why.length === 0) {
    passed += 1;
    console.log(`ok      ${name}`);
  } else {
    failed += 1;
    console.log(`FAILED  ${name}\n${why.map((w) => `        ${w}`).join("\n")}`);
  }
}
const show = (r) => `\n--- stdout\n${r.out}--- stderr\n${r.err}---`;

check("valid exchanges pass, the uncovered operation is only a warning", (expect) => {
  const r = run([fixture("spec.yaml"), fixture("valid.jsonl")]);
  expect(r.code === 0, `exit ${r.code}, want 0${show(r)}`);
  expect(JSON.stringify(r.lines) === JSON.stringify([
    "warning: 1 operation not covered: GET /v1/uncovered",
    "13 exchanges, 7 operations covered (of 8)",
  ]), `output:${show(r)}`);
});

check("--require-all fails on the uncovered operation", (expect) => {
  const r = run(["--require-all", fixture("spec.yaml"), fixture("valid.jsonl")]);
  expect(r.code === 1, `exit ${r.code}, want 1${show(r)}`);
  expect(r.lines.includes("error: 1 operation not covered: GET /v1/uncovered"), `output:${show(r)}`);
});

check("each invalid exchange fails with its expected message", (expect) => {
  const r = run([fixture("spec.yaml"), fixture("invalid.jsonl")]);
  expect(r.code === 1, `exit ${r.code}, want 1${show(r)}`);
  const records = readFileSync(fixture("invalid.jsonl"), "utf8").split("\n").filter(Boolean);
  records.forEach((line, i) => {
    const want = /^\{"expect":"((?:[^"\\]|\\.)*)"/.exec(line);
    expect(want, `line ${i + 1} has no leading "expect" field`);
    if (!want) return;
    const text = JSON.parse(`"${want[1]}"`);
    const prefix = `exchange ${i + 1}: `;
    expect(r.lines.some((l) => l.startsWith(prefix) && l.includes(text)),
      `no line "${prefix}... ${text}"`);
  });
  const summary = `${records.length} exchanges, 7 operations covered (of 8); ${records.length} exchanges fail the contract`;
  expect(r.lines.at(-1) === summary, `last line ${JSON.stringify(r.lines.at(-1))}, want ${JSON.stringify(summary)}`);
});

const specCases = [
  ["bad_document.yaml", ["/paths/~1a/get/responses/200: must have required property 'description'"]],
  ["dangling_ref.yaml", ["Can't resolve #/components/schemas/Gone"]],
  ["bad_schemas.yaml", [
    "GET /things/{id}: {id} is not a declared path parameter",
    "GET /others/{other}: path parameter id is not in the path",
    "#/components/schemas/Thing: not a JSON Schema 2020-12 schema: /properties/count/minimum must be number",
    "#/components/schemas/Thing: strict mode: unknown keyword: \"minLenght\"",
    "type must be JSONType or JSONType[]: strnig",
  ]],
];
for (const [file, messages] of specCases) {
  check(`an unsound spec fails before any exchange: ${file}`, (expect) => {
    const r = run([fixture(file), fixture("valid.jsonl")]);
    expect(r.code === 1, `exit ${r.code}, want 1${show(r)}`);
    for (const m of messages)
      expect(r.lines.some((l) => l.startsWith(`spec ${fixture(file)}: `) && l.includes(m)), `no spec line with ${m}${show(r)}`);
    expect(!r.out.includes("exchange 1:"), `exchanges were checked${show(r)}`);
  });
}

check("without the npm packages: exit 2 naming the install script", (expect) => {
  const r = run([fixture("spec.yaml"), fixture("valid.jsonl")], { TROUPE_OPENAPI_PEERS: join(here, "no-such-dir") });
  expect(r.code === 2, `exit ${r.code}, want 2${show(r)}`);
  expect(r.err.includes("run scripts/openapi-peers.sh"), `stderr:${show(r)}`);
});

check("bad usage and a missing file: exit 2", (expect) => {
  const usage = run([fixture("spec.yaml")]);
  expect(usage.code === 2 && usage.err.includes("usage:"), `one argument:${show(usage)}`);
  const missing = run([fixture("spec.yaml"), fixture("no-such.jsonl")]);
  expect(missing.code === 2 && missing.err.includes("no-such.jsonl"), `missing file:${show(missing)}`);
});

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
