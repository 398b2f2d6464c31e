// The dashboard in a real browser: Debian's Chromium, headless, driven by
// playwright-core against a real `troupe serve` this test starts on a fresh
// journal (tenants alpha and beta, made with `troupe tenants`). Screenshots
// of every page go to the artifacts directory.
//
//   node dashboard_test.mjs --troupe BIN --scenarios DIR --artifacts DIR
//
// CHROMIUM names the browser (default /usr/bin/chromium);
// TROUPE_BROWSER_PEERS the directory holding node_modules/playwright-core
// (default <repo>/build-browser-peers, installed by scripts/browser-peers.sh).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    troupe: { type: "string" },
    scenarios: { type: "string" },
    artifacts: { type: "string" },
  },
});
for (const k of ["troupe", "scenarios", "artifacts"]) {
  if (!args[k]) throw new Error(`--${k} is required`);
  args[k] = resolve(args[k]); // the server runs in its own directory
}

function loadPlaywright() {
  const dir = process.env.TROUPE_BROWSER_PEERS || resolve(here, "../../../build-browser-peers");
  if (!existsSync(join(dir, "node_modules", "playwright-core")))
    throw new Error(`${join(dir, "node_modules")} is missing: run scripts/browser-peers.sh`);
  return createRequire(join(dir, "package.json"))("playwright-core");
}

const { chromium } = loadPlaywright();
const work = mkdtempSync(join(tmpdir(), "troupe-dashboard-"));
const db = join(work, "serve.db");
let server;
let base;
let browser;
const keys = {}; // keys.alpha.operator, ...
const problems = []; // CSP violations and script errors, from every page
// The API's refusals the tests provoke on purpose: Chromium logs a fetch
// answered 401, 403 or 404 as a console error.
const expected = (m) => /\/v1\//.test(m.location().url) && /status of (401|403|404) \(/.test(m.text());

function troupe(...argv) {
  return execFileSync(args.troupe, [...argv, "--db", db], { encoding: "utf8" });
}

function addTenant(name, ...quotas) {
  troupe("tenants", "add", name, ...quotas);
  keys[name] = {};
  for (const role of ["viewer", "operator"])
    keys[name][role] = troupe("tenants", "key-create", name, "--role", role).split("\n")[0].trim();
}

async function startServer() {
  server = spawn(args.troupe, ["serve", "--db", db, "--scenarios", join(work, "scenarios"),
    "--listen", "127.0.0.1:0"], { cwd: work, stdio: ["ignore", "pipe", "inherit"] });
  base = await new Promise((ok, fail) => {
    let out = "";
    server.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) ok(m[1]);
    });
    server.on("error", fail);
    server.on("exit", (code) => fail(new Error(`troupe serve exited ${code}: ${out}`)));
  });
}

async function api(method, path, key, body) {
  const res = await fetch(base + path, {
    method,
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function submit(tenant, scenario, extra = {}) {
  const r = await api("POST", "/v1/runs", keys[tenant].operator, { scenario, task: `a task for ${scenario}`, ...extra });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  return r.body;
}

// Polls `probe` (async) until it returns a truthy value; fails after `ms`.
async function until(probe, what, ms = 30000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const finished = (tenant, id) => until(async () => {
  const r = await api("GET", `/v1/runs/${id}`, keys[tenant].viewer);
  return ["completed", "failed", "canceled", "expired", "dead"].includes(r.body.job.status) && r.body;
}, `run ${id} to end`);

const pendingOf = (tenant, runId) => until(async () => {
  const r = await api("GET", "/v1/approvals", keys[tenant].viewer);
  return r.body.items.find((a) => a.run_id === runId);
}, `an approval of ${runId}`);

// A signed-in tab (sessionStorage is per tab, so each tab signs in).
async function signedIn(key, hash = "#/runs") {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  // Any console error: a CSP violation, a file that failed to load, a throw.
  page.on("console", (m) => {
    if (m.type() === "error" && !expected(m))
      problems.push(`${page.url()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`${page.url()}: ${e.message}`));
  await page.goto(`${base}/${hash}`);
  await page.fill("#key", key);
  await page.click("form.login button[type=submit]");
  await page.waitForSelector("#nav:not([hidden])");
  return page;
}

async function shot(page, name) {
  await page.screenshot({ path: join(args.artifacts, `${name}.png`), fullPage: true });
}

before(async () => {
  mkdirSync(args.artifacts, { recursive: true });
  cpSync(args.scenarios, join(work, "scenarios"), { recursive: true });
  addTenant("alpha", "--tokens-per-day", "100000", "--cost-per-month-usd", "5", "--max-queued", "50");
  addTenant("beta");
  await startServer();
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox"],
  });
});

after(async () => {
  if (browser) await browser.close();
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server.on("exit", r));
    server.kill("SIGTERM");
    await exited;
  }
  rmSync(work, { recursive: true, force: true });
});

test("a wrong key is refused on the sign-in form", async () => {
  const page = await browser.newPage();
  await page.goto(`${base}/`);
  await shot(page, "login");
  await page.fill("#key", "trp_k_nothing_nothing");
  await page.click("form.login button[type=submit]");
  await page.getByText("That key is unknown or revoked.").waitFor();
  assert.equal(await page.isHidden("#nav"), true);
  await page.close();
});

test("the runs page shows the tenant's runs from the live server and no other tenant's", async () => {
  const a1 = await submit("alpha", "quick", { labels: ["team:a"] });
  const a2 = await submit("alpha", "quick", { labels: ["team:b"] });
  const b1 = await submit("beta", "quick", { labels: ["team:a"] });
  await finished("alpha", a1.job_id);
  await finished("alpha", a2.job_id);
  await finished("beta", b1.job_id);
  const page = await signedIn(keys.alpha.viewer);
  await page.locator(`tr[data-run="${a1.run_id}"]`).waitFor();
  await page.locator(`tr[data-run="${a2.run_id}"]`).waitFor();
  assert.equal(await page.locator(`tr[data-run="${b1.run_id}"]`).count(), 0);
  assert.match(await page.locator("#who").innerText(), /^alpha /);
  await shot(page, "runs");
  // Filtered by label: only team:a's run of alpha.
  await page.fill("input[name=label]", "team:a");
  await page.click("form.filters button");
  await page.waitForFunction((id) => !document.querySelector(`tr[data-run="${id}"]`), a2.run_id);
  await page.locator(`tr[data-run="${a1.run_id}"]`).waitFor();
  assert.equal(await page.locator(`tr[data-run="${b1.run_id}"]`).count(), 0);
  // A page at a time: the newest run, then the one before it.
  await page.goto(`${base}/#/runs?limit=1`);
  await page.locator(`tr[data-run="${a2.run_id}"]`).waitFor();
  assert.equal(await page.locator("[data-testid=runs] tbody tr").count(), 1);
  await page.getByTestId("older").click();
  await page.locator(`tr[data-run="${a1.run_id}"]`).waitFor();
  assert.equal(await page.locator("[data-testid=runs] tbody tr").count(), 1);
  // By status: nothing of alpha failed.
  await page.goto(`${base}/#/runs?status=failed`);
  await page.getByTestId("runs-empty").waitFor();
  // Beta's run by direct URL: as if it did not exist.
  await page.goto(`${base}/#/run/${b1.run_id}`);
  const err = page.getByTestId("error");
  await err.waitFor();
  assert.match(await err.innerText(), /Not found: run .* does not exist/);
  assert.equal(await page.getByTestId("timeline").count(), 0);
  await shot(page, "other-tenants-run");
  await page.context().close();
});

test("a run's events arrive live; approving through the UI lets it finish", async () => {
  const job = await submit("alpha", "gated");
  const pending = await pendingOf("alpha", job.run_id);
  const runTab = await signedIn(keys.alpha.operator, `#/run/${job.job_id}`);
  await runTab.locator('tr[data-kind="run_start"]').waitFor();
  assert.equal(await runTab.locator('tr[data-kind="completion"]').count(), 0);
  assert.equal(await runTab.getByTestId("live").innerText(), "live");
  const before = await runTab.locator("[data-testid=timeline] tbody tr").count();
  await runTab.evaluate(() => { window.__same_page = true; });
  await shot(runTab, "run-waiting");

  const approvals = await signedIn(keys.alpha.operator, "#/approvals");
  const row = approvals.locator(`tr[data-approval="${pending.run_id}/${pending.call_id}"]`);
  await row.waitFor();
  await shot(approvals, "approvals");
  await row.locator("input").fill("looks fine");
  await row.getByRole("button", { name: "Approve" }).click();
  await approvals.getByText(`Approved write_file in run ${pending.run_id}.`).waitFor();
  await approvals.getByTestId("approvals-empty").waitFor();

  // The open run page gets the rest of the run over its event stream.
  await runTab.locator('tr[data-kind="completion"]').waitFor();
  assert.equal(await runTab.evaluate(() => window.__same_page), true, "the run page was reloaded");
  assert.ok(await runTab.locator("[data-testid=timeline] tbody tr").count() > before);
  await runTab.getByTestId("run-status").getByText("completed").waitFor();
  await runTab.getByTestId("run-tree").locator(`li[data-run="${job.run_id}"]`).waitFor();
  assert.equal(await runTab.getByTestId("live").innerText(), "ended");
  await shot(runTab, "run");
  const done = await finished("alpha", job.job_id);
  assert.equal(done.job.status, "completed");
  await runTab.context().close();
  await approvals.context().close();
});

test("a viewer's key cannot approve, and is told why", async () => {
  const job = await submit("alpha", "gated");
  const pending = await pendingOf("alpha", job.run_id);
  const page = await signedIn(keys.alpha.viewer, "#/approvals");
  await page.getByText("may look but not decide").waitFor();
  const row = page.locator(`tr[data-approval="${pending.run_id}/${pending.call_id}"]`);
  await row.getByRole("button", { name: "Approve" }).click();
  const err = page.getByTestId("error");
  await err.waitFor();
  assert.match(await err.innerText(), /Not allowed with this key: .*role viewer.*operator key/);
  await shot(page, "approvals-viewer");
  const still = await api("GET", "/v1/approvals", keys.alpha.viewer);
  assert.ok(still.body.items.some((a) => a.run_id === pending.run_id), "the approval was decided");
  // Beta's operator does not see alpha's approval at all.
  const beta = await api("GET", "/v1/approvals", keys.beta.operator);
  assert.equal(beta.body.items.some((a) => a.run_id === pending.run_id), false);
  await api("POST", `/v1/approvals/${pending.run_id}/${pending.call_id}`, keys.alpha.operator, { decision: "deny" });
  await finished("alpha", job.job_id);
  await page.context().close();
});

test("the queue, tenant and endpoints pages show the server's figures", async () => {
  const down = await submit("alpha", "down");
  const page = await signedIn(keys.alpha.viewer, "#/tenant");
  assert.equal(await page.getByTestId("tenant-name").innerText(), "alpha");
  await page.locator('tr[data-quota="tokens today"]').getByText(/[1-9]\d* of 100000/).waitFor();
  assert.equal(await page.locator('tr[data-quota="tokens today"] meter').count(), 1);
  await page.locator('tr[data-quota="cost this month"]').getByText("of $5.0000").waitFor();
  await shot(page, "tenant");
  await page.goto(`${base}/#/queue`);
  await page.getByTestId("queue-total").waitFor();
  assert.equal(await page.locator("tr[data-lane]").count(), 3);
  await shot(page, "queue");
  await page.goto(`${base}/#/endpoints`);
  // The down endpoint refuses connections: its breaker opens at once.
  const row = page.locator('tr[data-endpoint="down:m"]');
  await row.waitFor({ timeout: 30000 });
  await row.getByText("open").waitFor();
  await shot(page, "endpoints");
  await api("POST", `/v1/runs/${down.job_id}/cancel`, keys.alpha.operator);
  await page.context().close();
});

test("the KPI page charts GET /v1/kpis", async (t) => {
  const probe = await api("GET", "/v1/kpis?since=24h&bucket=hour", keys.alpha.viewer);
  if (probe.status === 404 && /path/.test(probe.body?.detail ?? "")) {
    t.skip("this troupe serve has no GET /v1/kpis (branch report not merged)");
    return;
  }
  assert.equal(probe.status, 200, JSON.stringify(probe.body));
  const page = await signedIn(keys.alpha.viewer, "#/kpis");
  await page.getByTestId("kpi-totals").waitFor();
  assert.equal(await page.locator('[data-kpi="runs"] .big').innerText(), String(probe.body.runs));
  for (const id of ["chart-duration", "chart-turns", "chart-parse", "chart-retry", "chart-denials", "chart-cost"])
    await page.getByTestId(id).waitFor();
  assert.ok(await page.locator("[data-testid=chart-duration] circle").count() >= 1);
  await shot(page, "kpis");
  await page.context().close();
});

// The charts with several buckets, whatever the server holds: a report of
// the KpiReport shape (docs/openapi.yaml) answered by the browser itself.
// Only the drawing is under test here; the test above reads the real route.
function fixtureReport() {
  const dist = (p50, p90) => ({ count: 4, p50, p90, max: p90 });
  const figures = (i) => ({
    runs: 4, finished: 4,
    statuses: { running: 0, completed: 3, limit_reached: 0, failed: 1, canceled: 0 },
    run_ms: dist(1000 + 200 * i, 3000 + 300 * i), turns_per_run: dist(2 + (i % 2), 5),
    model_calls_per_run: dist(3, 6), phases: [], verification_ms: [],
    model_calls: 12, tool_calls: 9, parse_failures: i % 3,
    parse_failures_per_100_model_calls: (100 * (i % 3)) / 12, retries: i, retry_rate: i / 21,
    approvals: 1, approvals_granted: 1, approvals_denied: 0, approvals_timed_out: 0,
    human_interventions: 1, denials: i % 2, out_of_scope: 0, governance_violations: i % 2,
    input_tokens: 1000, output_tokens: 200, cost_micro_usd: 1500 * (i + 1),
  });
  const start = Date.UTC(2026, 11, 7, 6);
  const series = [0, 1, 2, 3, 4, 5].map((i) => ({
    start: new Date(start + i * 3600e3).toISOString().replace(".000Z", "Z"), ...figures(i) }));
  return { ...figures(2), runs: 24, since: new Date(start).toISOString(), tenant: "alpha",
    phases: [{ name: "build", attempts: 3, failed: 1, ms: dist(800, 1200) }], series };
}

test("the KPI page draws a series of buckets (a report answered in the browser)", async () => {
  const page = await signedIn(keys.alpha.viewer, "#/tenant");
  const report = fixtureReport();
  await page.route("**/v1/kpis?*", (route) => route.fulfill({
    status: 200, contentType: "application/json", body: JSON.stringify(report) }));
  await page.goto(`${base}/#/kpis`);
  await page.getByTestId("kpi-charts").waitFor();
  assert.equal(await page.locator('[data-kpi="runs"] .big').innerText(), "24");
  assert.equal(await page.locator('[data-kpi="cost"] .big').innerText(), "$0.0045");
  // p50 and p90: a point per bucket each, and one line each.
  assert.equal(await page.locator("[data-testid=chart-duration] circle").count(), 12);
  assert.equal(await page.locator("[data-testid=chart-duration] path").count(), 2);
  assert.equal(await page.locator("[data-testid=chart-cost] circle").count(), 6);
  await page.locator("[data-testid=phases] td", { hasText: "build" }).waitFor();
  await shot(page, "kpis-series");
  await page.context().close();
});

test("no page broke its Content-Security-Policy or threw", () => {
  assert.deepEqual(problems, []);
});
