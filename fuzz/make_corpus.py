#!/usr/bin/env python3
"""Regenerates the committed seed corpora under fuzz/corpus/ (docs/testing.md).

    fuzz/make_corpus.py [TROUPE_BIN]      (default: build/bin/troupe)

fuzz_scenario: the scenarios of examples/ and test/ (bad ones too).
fuzz_policy:   the [policy] tables of those scenarios as standalone policy
               files, plus the example of docs/policy.md.
fuzz_codec:    `events.body` rows of a journal made by running scenarios,
               a few per event kind (smallest first).
fuzz_import:   `troupe export` lines of the same runs, a few per kind.
fuzz_report_inputs: `troupe report --json` of the same runs, and --since shapes.
Seeds are named by the hash of their content, as libFuzzer names its own.
"""
import hashlib, json, os, pathlib, re, shutil, sqlite3, subprocess, sys, tempfile

root = pathlib.Path(__file__).resolve().parent.parent
troupe = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else root / "build/bin/troupe")
out = root / "fuzz/corpus"
per_kind = 3
max_seed = 8192  # bytes; bigger rows add little and slow every run

def reset(target):
    d = out / target
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    return d

def put(d, data):
    if isinstance(data, str):
        data = data.encode()
    (d / hashlib.sha1(data).hexdigest()).write_bytes(data)

scenarios = sorted(p for p in list((root / "examples/scenarios").glob("*.toml"))
                   + list((root / "test/scenarios").rglob("*.toml")))

d = reset("fuzz_scenario")
for p in scenarios:
    put(d, p.read_bytes())

def policy_of(text):
    """The [policy] table of a scenario, rewritten as a policy file."""
    lines, inside = [], False
    for line in text.splitlines():
        header = re.match(r"\s*(\[\[?)\s*([^\]]+?)\s*\]", line)
        if header:
            name = header.group(2)
            inside = name == "policy" or name.startswith("policy.")
            if not inside:
                continue
            if name == "policy":
                continue
            line = header.group(1) + name[len("policy."):] + header.group(1).replace("[", "]")
        if inside:
            lines.append(line)
    return "\n".join(lines) + "\n" if lines else None

# Hostile shapes the parsers must refuse cleanly (issue 14: nesting that
# overflowed the stack inside toml++), kept small.
hostile_toml = [
    "[" + ".".join(["a"] * 2000) + "]\n",
    ".".join(["a"] * 2000) + " = 1\n",
    "x = " + "[" * 2000 + "]" * 2000 + "\n",
    "x = " + "{a=" * 1000 + "1" + "}" * 1000 + "\n",
]
for t in hostile_toml:
    put(d, t)

d = reset("fuzz_policy")
for p in scenarios:
    pol = policy_of(p.read_text())
    if pol:
        put(d, pol)
doc = (root / "docs/policy.md").read_text()
m = re.search(r"```toml\n(.*?)```", doc, re.S)
if m:
    put(d, m.group(1))
for t in hostile_toml:
    put(d, t)

# Journal rows and export lines from real runs.
runs = [root / "examples/scenarios/hello.toml"] + [
    root / "test/scenarios" / f"{n}.toml" for n in (
        "max_turns", "repair", "parse_failures", "provider_failed",
        "consecutive_errors", "max_tool_calls", "reminder",
        "recovery_summary_by_model", "script_exhausted", "appender",
        "path_escape", "max_tokens", "complete_after_rejected_complete",
        "deadline")] + [root / "examples/scenarios/governance.toml"]
with tempfile.TemporaryDirectory() as tmp:
    db = pathlib.Path(tmp) / "seed.db"
    for s in runs:
        # A copy in the temporary directory: the workspaces the scenarios
        # write land there, not in the checkout.
        copy = pathlib.Path(tmp) / s.name
        shutil.copy(s, copy)
        subprocess.run([str(troupe), "run", str(copy), "--db", str(db)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=60, cwd=tmp)
    con = sqlite3.connect(db)
    rows = con.execute("SELECT kind, body FROM events ORDER BY kind, length(body)").fetchall()
    run_ids = [r[0] for r in con.execute("SELECT run_id FROM runs ORDER BY id")]
    con.close()
    d = reset("fuzz_codec")
    taken = {}
    for kind, body in rows:
        if len(body) <= max_seed and taken.get(kind, 0) < per_kind:
            put(d, bytes(body))
            taken[kind] = taken.get(kind, 0) + 1
    lines = []
    for r in run_ids:
        exported = subprocess.run([str(troupe), "export", r, "--db", str(db)],
                                  capture_output=True, text=True, timeout=60, cwd=tmp)
        lines += [l for l in exported.stdout.splitlines() if l.strip()]
    d = reset("fuzz_import")
    taken = {}
    for l in sorted(lines, key=len):
        kind = json.loads(l).get("kind", "?")
        if len(l) <= max_seed and taken.get(kind, 0) < per_kind:
            put(d, l)
            taken[kind] = taken.get(kind, 0) + 1

    # What `troupe report --baseline` and `--since` read: reports of these
    # runs (with and without hourly series) and the shapes of --since.
    d = reset("fuzz_report_inputs")
    for extra in ([], ["--bucket", "hour"]):
        put(d, subprocess.run([str(troupe), "report", "--db", str(db), "--json"] + extra,
                              capture_output=True, text=True, timeout=60, cwd=tmp).stdout)
    put(d, '{"runs": 0}')
    for since in ("24h", "7d", "90s", "2w", "2026-12-01T10:00:00+01:00", "2026-12-01T10:00:00Z",
                  "2026-12-01T10:00:00.123456-05:30", "99999999999999w"):
        put(d, since)

for t in sorted(out.iterdir()):
    n = sum(1 for _ in t.iterdir())
    size = sum(f.stat().st_size for f in t.iterdir())
    print(f"{t.name}: {n} seeds, {size} bytes")
