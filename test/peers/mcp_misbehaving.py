#!/usr/bin/env python3
"""A misbehaving MCP server over stdio, for troupe's MCP client tests.

Python 3 standard library only. Speaks MCP (JSON-RPC 2.0, one message per
line) like a real server, and misbehaves as its options ask:

  --garbage             prints lines that are not JSON (and blank ones) at
                        start and before every message it sends
  --out-of-order N      holds tools/call requests until N are in, then
                        answers them in reverse order
  --chatty              before each response: a notifications/message, a
                        notifications/progress, and a request of its own
                        (ping, roots/list, sampling/createMessage in turn);
                        the client's answers go to the log
  --crash-on-call TOOL  exits (status 3) in the middle of a call of TOOL,
                        after a last word on stderr
  --never-answer NAME   never answers a call of tool NAME, nor a request
                        of method NAME (e.g. initialize)
  --list-changed        after its first answered call, adds the tool
                        `added_later` and sends notifications/tools/list_changed
  --paginate N          tools/list pages of N tools
  --version V           answers initialize with protocol version V
  --ignore-stdin-eof    keeps running when stdin closes (must be killed)
  --big N               the tool `big` answers N bytes of text
  --log FILE            appends one JSON line per event: cancellations
                        received, answers to its requests, stdin EOF

Tools: echo {text}, slow {ms} (answers after ms unless canceled),
append {path, text, sleep_ms} (appends a line, then answers after sleep_ms;
unsafe: no annotations), fail
(isError), rpc_error (a JSON-RPC error), image (an image block), big,
cancelled_log (the notifications/cancelled received so far, as JSON text),
plus filler_1..filler_5 so pages have something to split.
"""

import argparse
import json
import os
import sys
import threading
import time

out_lock = threading.Lock()
state_lock = threading.Lock()
args = None
cancelled = []          # params of every notifications/cancelled
cancel_events = {}      # request id -> threading.Event
held_calls = []         # --out-of-order: (id, result) waiting for the batch
tools_added = False
answered_calls = 0
server_request_no = 0


def log_event(event):
    if args.log:
        with state_lock, open(args.log, "a", encoding="utf-8") as f:
            f.write(json.dumps(event) + "\n")


def write_line(text):
    with out_lock:
        if args.garbage:
            sys.stdout.write("garbage before a message: {not json\n\n")
        sys.stdout.write(text + "\n")
        sys.stdout.flush()


def send(message):
    write_line(json.dumps(message))


def chatter():
    global server_request_no
    if not args.chatty:
        return
    send({"jsonrpc": "2.0", "method": "notifications/message",
          "params": {"level": "info", "data": "working"}})
    send({"jsonrpc": "2.0", "method": "notifications/progress",
          "params": {"progressToken": "t", "progress": 1}})
    with state_lock:
        server_request_no += 1
        n = server_request_no
    method = ["ping", "roots/list", "sampling/createMessage"][(n - 1) % 3]
    send({"jsonrpc": "2.0", "id": "srv-%d" % n, "method": method, "params": {}})


def respond(request_id, result=None, error=None):
    chatter()
    message = {"jsonrpc": "2.0", "id": request_id}
    if error is not None:
        message["error"] = error
    else:
        message["result"] = result
    send(message)


def text_result(text, is_error=False):
    result = {"content": [{"type": "text", "text": text}]}
    if is_error:
        result["isError"] = True
    return result


def tool_list():
    obj = {"type": "object"}
    tools = [
        {"name": "echo", "description": "Echoes text",
         "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}},
                         "required": ["text"]},
         "annotations": {"readOnlyHint": True, "idempotentHint": True}},
        {"name": "slow", "description": "Answers after ms milliseconds",
         "inputSchema": {"type": "object", "properties": {"ms": {"type": "integer"}}},
         "annotations": {"idempotentHint": True}},
        {"name": "append", "description": "Appends a line to a file (relative to the cwd), "
         "then waits sleep_ms before answering; no annotations, so it is unsafe",
         "inputSchema": {"type": "object",
                         "properties": {"path": {"type": "string"}, "text": {"type": "string"},
                                        "sleep_ms": {"type": "integer"}},
                         "required": ["path", "text"]}},
        {"name": "fail", "inputSchema": obj, "annotations": {"destructiveHint": True}},
        {"name": "rpc_error", "inputSchema": obj},
        {"name": "image", "inputSchema": obj},
        {"name": "big", "inputSchema": obj},
        {"name": "cancelled_log", "inputSchema": obj},
    ]
    tools += [{"name": "filler_%d" % i, "inputSchema": obj} for i in range(1, 6)]
    if tools_added:
        tools.append({"name": "added_later", "inputSchema": obj})
    return tools


def list_tools(request_id, params):
    tools = tool_list()
    if not args.paginate:
        respond(request_id, {"tools": tools})
        return
    start = int((params or {}).get("cursor") or 0)
    page = tools[start:start + args.paginate]
    result = {"tools": page}
    if start + args.paginate < len(tools):
        result["nextCursor"] = str(start + args.paginate)
    respond(request_id, result)


def call_result(request_id, name, arguments):
    """The result of a call, or None when it answers later or never."""
    if name == "echo":
        return text_result(str(arguments.get("text", "")))
    if name == "fail":
        return text_result("it failed, as asked", is_error=True)
    if name == "image":
        return {"content": [{"type": "image", "data": "iVBORw0KGgo=", "mimeType": "image/png"}]}
    if name == "big":
        return text_result("x" * args.big)
    if name == "cancelled_log":
        with state_lock:
            return text_result(json.dumps(cancelled))
    return text_result("unknown tool: %s" % name, is_error=True)


def finish_call(request_id, result):
    global answered_calls, tools_added
    respond(request_id, result)
    with state_lock:
        answered_calls += 1
        first = answered_calls == 1
    if first and args.list_changed:
        tools_added = True
        send({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})


def slow_call(request_id, ms):
    event = threading.Event()
    with state_lock:
        cancel_events[json.dumps(request_id)] = event
    if event.wait(ms / 1000.0):
        return  # canceled: no answer, as MCP allows
    finish_call(request_id, text_result("slept %d ms" % ms))


def append_call(request_id, arguments):
    with open(arguments["path"], "a", encoding="utf-8") as f:
        f.write(arguments["text"] + "\n")
    event = threading.Event()
    with state_lock:
        cancel_events[json.dumps(request_id)] = event
    if event.wait(int(arguments.get("sleep_ms", 0)) / 1000.0):
        return
    finish_call(request_id, text_result("appended"))


def call_tool(request_id, params):
    name = params.get("name")
    arguments = params.get("arguments") or {}
    if name in args.never_answer:
        return
    if name == args.crash_on_call:
        sys.stderr.write("mcp_misbehaving: crashing in the middle of %s\n" % name)
        sys.stderr.flush()
        os._exit(3)
    if name == "rpc_error":
        respond(request_id, error={"code": -32602, "message": "invalid arguments for rpc_error"})
        return
    if name == "append":
        threading.Thread(target=append_call, args=(request_id, arguments), daemon=True).start()
        return
    if name == "slow":
        threading.Thread(target=slow_call, args=(request_id, int(arguments.get("ms", 0))),
                         daemon=True).start()
        return
    result = call_result(request_id, name, arguments)
    if args.out_of_order:
        with state_lock:
            held_calls.append((request_id, result))
            batch = list(reversed(held_calls)) if len(held_calls) >= args.out_of_order else []
            if batch:
                held_calls.clear()
        for held_id, held_result in batch:
            finish_call(held_id, held_result)
        return
    finish_call(request_id, result)


def initialize(request_id, params):
    offered = (params or {}).get("protocolVersion")
    version = args.version or (offered if offered in ("2025-11-25", "2025-06-18") else "2025-06-18")
    respond(request_id, {
        "protocolVersion": version,
        "capabilities": {"tools": {"listChanged": True}},
        "serverInfo": {"name": "mcp-misbehaving", "version": "1.0"},
        "instructions": "a test peer",
    })


def on_notification(method, params):
    if method == "notifications/cancelled":
        with state_lock:
            cancelled.append(params)
            event = cancel_events.get(json.dumps(params.get("requestId")))
        if event:
            event.set()
        log_event({"event": "cancelled", "params": params})


def handle(message):
    method = message.get("method")
    request_id = message.get("id")
    if method is None:
        log_event({"event": "answer", "message": message})
        return
    if request_id is None:
        on_notification(method, message.get("params") or {})
        return
    if method in args.never_answer:
        return
    params = message.get("params") or {}
    if method == "initialize":
        initialize(request_id, params)
    elif method == "ping":
        respond(request_id, {})
    elif method == "tools/list":
        list_tools(request_id, params)
    elif method == "tools/call":
        call_tool(request_id, params)
    else:
        respond(request_id, error={"code": -32601, "message": "Method not found: %s" % method})


def main():
    global args
    parser = argparse.ArgumentParser()
    parser.add_argument("--garbage", action="store_true")
    parser.add_argument("--out-of-order", type=int, default=0)
    parser.add_argument("--chatty", action="store_true")
    parser.add_argument("--crash-on-call", default=None)
    parser.add_argument("--never-answer", action="append", default=[])
    parser.add_argument("--list-changed", action="store_true")
    parser.add_argument("--paginate", type=int, default=0)
    parser.add_argument("--version", default=None)
    parser.add_argument("--ignore-stdin-eof", action="store_true")
    parser.add_argument("--big", type=int, default=100000)
    parser.add_argument("--log", default=None)
    args = parser.parse_args()
    sys.stderr.write("mcp_misbehaving: started with %s\n" % " ".join(sys.argv[1:]))
    sys.stderr.flush()
    if args.garbage:
        write_line("Starting the server... (this line is not JSON)")
    stdin = sys.stdin.buffer
    while True:
        line = stdin.readline()
        if not line:
            break
        try:
            message = json.loads(line)
        except ValueError:
            sys.stderr.write("mcp_misbehaving: not JSON: %r\n" % line[:80])
            continue
        handle(message)
    log_event({"event": "stdin_eof"})
    if args.ignore_stdin_eof:
        while True:
            time.sleep(3600)
    # Threads still sleeping in `slow` must not keep the process alive.
    os._exit(0)


if __name__ == "__main__":
    main()
