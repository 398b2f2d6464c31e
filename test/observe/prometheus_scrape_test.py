#!/usr/bin/env python3
"""A real Prometheus server scrapes a real `troupe serve` and loads troupe's
alert rules.

    prometheus_scrape_test.py TROUPE PROMETHEUS SCENARIOS_DIR RULES_FILE

Starts `troupe serve` with a metrics token, runs jobs through it, then starts
Prometheus (Debian's package) with two scrape jobs against it: one sending
the token from a credentials file, one sending a wrong token. Passes when
Prometheus reports the first target up with troupe's series in its database
(the finished runs among them, counted right), the second down with the 401
in its last error, and every alert rule loaded and healthy.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

JOBS = 3


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(url, body=None, token=None):
    req = urllib.request.Request(url, data=body)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        sys.exit(f"FAIL: {url}: {e.code} {e.read().decode(errors='replace')}")


def wait_for(what, check, timeout=90):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except OSError as e:  # not listening yet
            last = e
        time.sleep(0.25)
    sys.exit(f"FAIL: {what} within {timeout} s (last: {last!r})")


def main():
    troupe, prometheus, scenarios, rules = sys.argv[1:5]
    rules = os.path.abspath(rules)  # Prometheus reads it relative to its config
    tmp = tempfile.mkdtemp(prefix="troupe-prom-")
    procs = []
    try:
        db = os.path.join(tmp, "serve.db")
        shutil.copytree(scenarios, os.path.join(tmp, "scenarios"))
        subprocess.run([troupe, "tenants", "add", "acme", "--db", db], check=True,
                       stdout=subprocess.DEVNULL)
        key = subprocess.run([troupe, "tenants", "key-create", "acme", "--role", "operator",
                              "--db", db], check=True, capture_output=True,
                             text=True).stdout.splitlines()[0].strip()
        token_file = os.path.join(tmp, "metrics.token")
        with open(token_file, "w") as f:
            f.write("scrape-" + os.urandom(16).hex() + "\n")
        wrong_file = os.path.join(tmp, "wrong.token")
        with open(wrong_file, "w") as f:
            f.write("not-the-token\n")

        serve = subprocess.Popen(
            [troupe, "serve", "--db", db, "--scenarios", os.path.join(tmp, "scenarios"),
             "--listen", "127.0.0.1:0", "--metrics-token-file", token_file],
            stdout=subprocess.PIPE, text=True)
        procs.append(serve)
        line = serve.stdout.readline()
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
        if not m:
            sys.exit(f"FAIL: troupe serve did not say where it listens: {line!r}")
        base = f"http://127.0.0.1:{m.group(1)}"
        # Keep reading what it prints so it never blocks on a full pipe.
        threading.Thread(target=serve.stdout.read, daemon=True).start()

        runs = []
        for i in range(JOBS):
            r = http(base + "/v1/runs", json.dumps({"scenario": "quick", "task": f"job {i}"}).encode(), key)
            runs.append(r["run_id"])
        for run_id in runs:
            wait_for(f"run {run_id} to complete",
                     lambda: http(f"{base}/v1/runs/{run_id}", token=key)["job"]["status"]
                     == "completed")

        prom_port = free_port()
        config = os.path.join(tmp, "prometheus.yml")
        with open(config, "w") as f:
            f.write(f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: ["{rules}"]
scrape_configs:
  - job_name: troupe
    authorization: {{credentials_file: "{token_file}"}}
    static_configs: [{{targets: ["127.0.0.1:{m.group(1)}"]}}]
  - job_name: troupe_wrong_token
    authorization: {{credentials_file: "{wrong_file}"}}
    static_configs: [{{targets: ["127.0.0.1:{m.group(1)}"]}}]
""")
        prom = subprocess.Popen(
            [prometheus, "--config.file=" + config, "--storage.tsdb.path=" + tmp + "/tsdb",
             f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "prometheus.log"), "w"))
        procs.append(prom)
        api = f"http://127.0.0.1:{prom_port}/api/v1"

        def query(q):
            r = http(api + "/query?" + urllib.parse.urlencode({"query": q}))
            return r["data"]["result"]

        def targets():
            r = http(api + "/targets")["data"]["activeTargets"]
            return {t["labels"]["job"]: t for t in r if t["health"] != "unknown"}

        def ready():
            # Prometheus answers 503 on its API until the TSDB has opened.
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{prom_port}/-/ready", timeout=10) as r:
                    return r.status == 200
            except urllib.error.HTTPError as e:
                if e.code != 503:
                    raise
                return False

        wait_for("Prometheus ready", ready)
        seen = wait_for("both targets scraped", lambda: len(targets()) == 2 and targets())
        good, bad = seen["troupe"], seen["troupe_wrong_token"]
        if good["health"] != "up":
            sys.exit(f"FAIL: the troupe target is {good['health']}: {good['lastError']}")
        if bad["health"] != "down" or "401" not in bad["lastError"]:
            sys.exit(f"FAIL: a wrong token was not refused with 401: {bad}")

        series = wait_for("troupe's series in Prometheus",
                          lambda: query('count({job="troupe",__name__=~"troupe_.+"})'))
        count = int(series[0]["value"][1])
        # The server counts a run once its completion event is read back from
        # the journal, which may come a poll after the job shows completed.
        def completed_runs():
            r = query('sum(troupe_runs_finished_total{job="troupe",status="completed"})')
            return r and float(r[0]["value"][1])

        done = wait_for(f"Prometheus to count {JOBS} completed runs",
                        lambda: completed_runs() == JOBS and JOBS)

        def evaluated_rules():
            groups = http(api + "/rules")["data"]["groups"]
            rules = [r for g in groups for r in g["rules"]]
            return rules if rules and all(r.get("health") != "unknown" for r in rules) else None

        rules_loaded = wait_for("the alert rules evaluated", evaluated_rules)
        broken = [(r["name"], r.get("lastError")) for r in rules_loaded if r["health"] != "ok"]
        if broken:
            sys.exit(f"FAIL: alert rules that do not evaluate: {broken}")
        print(f"ok: Prometheus scraped {count} troupe series, {int(done)} completed runs, "
              f"{len(rules_loaded)} alert rules loaded, a wrong token refused")
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
