#!/usr/bin/env python3
"""A command model for troupe's command-provider tests.

Usage: command_model.py MODE [ARG]

Reads the request JSON from stdin (except where a mode says otherwise) and
answers in the command provider's JSON-line protocol
(core/providers/command_wire.hpp), behaving as MODE says:

  reply         a full reply among noise lines and unknown events: text deltas
                naming the run, turn and last user message, two tool calls
                (one with an id, one without), usage, done
  exit3         a partial reply, a lot of stderr ending in a known line, exit 3
  error         an error event (failure rate_limited, retry_after_ms 1500), exit 1
  nodone        a text delta, then exit 0 without done
  hang ARG      starts a grandchild whose command line holds ARG, then sleeps
                forever without output
  idle          one text delta, then sleeps forever
  slow          one text delta, then sleeps forever (tests cancel it)
  huge N        N bytes or more of text deltas, then done
  stdin_size    a text delta "<bytes of stdin> <chars of the last message>"
  chatty        1 MiB of noise lines before it reads stdin, then as stdin_size
  noread        done at once, never reading stdin
  env ARG       a text delta with the value of environment variable ARG
  fds           a text delta listing its open file descriptors
"""

import json
import os
import subprocess
import sys
import time


def emit(event):
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def read_request():
    raw = sys.stdin.buffer.read()
    return raw, json.loads(raw)


def sleep_forever():
    while True:
        time.sleep(3600)


def reply():
    _, req = read_request()
    last = [m for m in req["messages"] if m["role"] == "user"][-1]["content"]
    sys.stdout.write("model v1.2 starting up\n")          # noise
    sys.stdout.write("\n")                                 # blank: ignored
    emit({"type": "progress", "percent": 10})              # unknown event
    emit({"no_type": True})                                # unknown event
    sys.stdout.write("[1, 2, 3]\n")                        # JSON, not an object
    sys.stderr.write("warning: using the slow path\n")
    text = "run=%s turn=%d last=%s" % (req["run_id"], req["turn"], last)
    emit({"type": "text", "text": text[:7]})
    sys.stdout.write(json.dumps({"type": "text", "text": text[7:]}) + "\r\n")  # CRLF
    emit({"type": "text", "text": 42})                     # bad field: skipped
    emit({"type": "tool_call", "id": "t1", "name": "echo", "arguments": {"x": 1}})
    emit({"type": "tool_call", "name": "complete",
          "arguments": {"status": "success", "answer": "done"}})
    emit({"type": "usage", "input": 12, "output": 34})
    emit({"type": "done", "finish_reason": "tool_calls"})
    sys.stdout.write("bye\n")                              # after done: skipped


def huge(n):
    read_request()
    line = json.dumps({"type": "text", "text": "x" * 1000}) + "\n"
    sent = 0
    while sent < n:
        sys.stdout.write(line)
        sent += len(line)
    emit({"type": "done"})


def stdin_size():
    raw, req = read_request()
    emit({"type": "text", "text": "%d %d" % (len(raw), len(req["messages"][-1]["content"]))})
    emit({"type": "done"})


def main():
    mode = sys.argv[1]
    arg = sys.argv[2] if len(sys.argv) > 2 else ""
    if mode == "reply":
        reply()
    elif mode == "exit3":
        read_request()
        emit({"type": "text", "text": "partial"})
        sys.stderr.write("y" * 20000 + "\nmodel crashed: out of memory\n")
        sys.exit(3)
    elif mode == "error":
        read_request()
        emit({"type": "error", "message": "rate limited by upstream",
              "failure": "rate_limited", "retry_after_ms": 1500})
        sys.exit(1)
    elif mode == "nodone":
        read_request()
        emit({"type": "text", "text": "half"})
    elif mode == "hang":
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)", arg])
        sleep_forever()
    elif mode in ("idle", "slow"):
        read_request()
        emit({"type": "text", "text": "thinking"})
        sleep_forever()
    elif mode == "huge":
        huge(int(arg))
    elif mode == "stdin_size":
        stdin_size()
    elif mode == "chatty":
        for _ in range(16 * 1024):
            sys.stdout.write("noise " * 10 + "\n")
        sys.stdout.flush()
        stdin_size()
    elif mode == "noread":
        emit({"type": "done"})
    elif mode == "env":
        read_request()
        emit({"type": "text", "text": os.environ.get(arg, "<unset>")})
        emit({"type": "done"})
    elif mode == "fds":
        read_request()
        fds = sorted(int(fd) for fd in os.listdir("/proc/self/fd"))
        emit({"type": "text", "text": " ".join(str(fd) for fd in fds)})
        emit({"type": "done"})
    else:
        sys.stderr.write("command_model.py: unknown mode %r\n" % mode)
        sys.exit(2)


if __name__ == "__main__":
    main()
